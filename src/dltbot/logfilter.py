"""One filter on every log handler: no secret and no credential in a URL reaches a log line.

Libraries log what they like (python-telegram-bot's debug line "Set Bot API URL: …/bot<TOKEN>",
httpx's request URLs, git's errors naming https://user:pass@host): the filter rewrites every
record, message and traceback, before any handler formats it.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, unquote, urlsplit

from .untrusted import redact


class SecretFilter(logging.Filter):
    """Replace known secrets (the bot token) and URL credentials in every record."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def clean(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "<secret>")
        return redact(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: its handler would print msg and args raw
            message = f"{record.msg!s} (unformattable arguments: {record.args!r})"
        cleaned = self.clean(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        return True


FILTER = SecretFilter()


def hide(secret: str | None) -> None:
    """Never log this value (a token), from now on, in any logger: as written, and as it
    reads percent-encoded in a URL."""
    if secret and len(secret) >= 8:
        FILTER.secrets.add(secret)
        FILTER.secrets.add(quote(secret, safe=""))


def hide_url_password(url: str) -> None:
    """Never log the password of a URL (https://user:password@host/…), even alone."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return
    if password:
        hide(password)
        hide(unquote(password))


def install(handler: logging.Handler) -> None:
    """Put the filter on a handler (filters on a logger miss its children's records)."""
    handler.addFilter(FILTER)
