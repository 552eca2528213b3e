"""The SQLite database: every SQL statement of dltbot lives in this package.

One Storage object (one connection) combines the parts: the connection and transactions, the
lists and their history, reads, and the Telegram bot's state.
"""

from __future__ import annotations

from .base import BUSY_TIMEOUT_MS, Connection
from .cards import CardStore
from .history import HistoryStore
from .members import MemberStore
from .pings import PingStore
from .reading import ReadStore
from .telegram import TelegramStore

__all__ = ["BUSY_TIMEOUT_MS", "Storage"]


class Storage(
    HistoryStore, MemberStore, ReadStore, TelegramStore, CardStore, PingStore, Connection
):
    """One SQLite database file: lists, commits, current entries, events, search, the outbox,
    cards and link health, WebSub pings."""

    def __enter__(self) -> Storage:
        return self
