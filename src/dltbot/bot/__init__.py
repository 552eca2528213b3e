"""The Telegram bot: commands, inline mode, and delivery of new additions."""

import os

# python-telegram-bot 22 warns on every RetryAfter.retry_after read unless it may return a
# timedelta already; dltbot reads it either way (push._seconds), so opt in.
os.environ.setdefault("PTB_TIMEDELTA", "true")
