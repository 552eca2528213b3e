"""The bot's shared objects, typed (python-telegram-bot's `contexttypesbot.py` pattern):
handlers read `context.bot_data.storage`, and mypy checks every one of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telegram.ext import CallbackContext, ContextTypes, ExtBot

from ..hold import Hold
from ..present.links import Links
from ..storage import Storage
from .flow import Replies, UserLimit
from .push import Sender


class BotData:
    """What every handler needs. PTB creates it empty; build_application fills it."""

    storage: Storage
    admins: list[int]
    enriching: bool  # enrich.enabled (`dltbot run` fetches cards and checks links)
    links: Links | None  # under feed.base_url: the page and feeds, as readers reach them
    hold: Hold  # additions not shown yet (waiting for their cards)
    sync: Callable[[], str]  # syncs every list (in a worker thread); returns a summary
    sender: Sender
    replies: Replies
    limit: UserLimit


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES = ContextTypes(context=CallbackContext, bot_data=BotData)
