"""Delivery: new additions → the outbox → Telegram, never lost, doubled or throttled.

The service's fan-out (storage.fan_out) puts each new addition into the outbox once per chat.
The Sender then sends each chat its pending rows, several per message, and marks them sent
only once Telegram answered ok. Limits: one message a second to a private chat, one every
three seconds to a group or channel (Telegram's 20 a minute), and the overall rate set on the
rate limiter (25/s).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError

from ..models import Delivery, NewsDelivery
from ..present.links import Links
from ..retry import Retry
from ..storage import Storage
from .compose import compose_news, compose_push

log = logging.getLogger(__name__)
Row = TypeVar("Row", Delivery, NewsDelivery)


@dataclass(frozen=True, slots=True)
class Pacing:
    """Telegram's limits, as dltbot keeps under them. `scale` shrinks every interval alike:
    tests run the bot (and the fake Bot API, which enforces the same limits scaled) at full
    speed; production keeps 1."""

    scale: float = 1.0  # also what a RetryAfter's wait is multiplied by

    @property
    def private(self) -> float:  # seconds between messages to one private chat
        return 1.05 * self.scale

    @property
    def group(self) -> float:  # groups and channels: at most 20 a minute
        return 3.05 * self.scale

    @property
    def overall(self) -> float:  # seconds between any two messages: 25 a second in all
        return self.scale / 25.0  # (Telegram allows about 30)


REAL_PACING = Pacing()


# Telegram refused: 2 s, 4 s, … up to 5 min, parked with its error after 6 attempts.
# Telegram unreachable: the same waits, never parked (nothing is wrong with the rows).
RETRY = Retry(first=2.0, cap=300.0, park_after=6)


class Sender:
    """Send pending outbox rows, one message per chat at a time, all chats concurrently."""

    def __init__(
        self,
        storage: Storage,
        bot: Bot,
        links: Links | None = None,
        clock: Callable[[], float] = time.time,
        pacing: Pacing = REAL_PACING,
    ) -> None:
        self.storage = storage
        self.pacing = pacing
        self.links = links  # the public address, for the page and feed links of pushes
        self.bot = bot
        self.clock = clock
        self.next_ok: dict[int, float] = {}  # chat id → earliest time of its next message
        self.next_slot = 0.0  # earliest time of the next message to any chat
        self.lock = asyncio.Lock()

    async def run_once(self) -> int:
        """Send one message to each chat that has pending rows and may have one now (its
        additions first; its papers' news when no addition waits)."""
        sent = await self._additions()
        return sent + await self._news()

    async def _news(self) -> int:
        async with self.lock:
            ready = self._due(self.storage.pending_news(self.clock()))
            results = await asyncio.gather(
                *(
                    self._send_news(chat, thread, rows[:10])
                    for chat, (thread, rows) in ready.items()
                )
            )
            return sum(results)

    async def _send_news(self, chat_id: int, thread_id: int, rows: list[NewsDelivery]) -> int:
        html = compose_news(rows, rows[0].lang)
        ids = [row.id for row in rows]
        try:
            await self._send(chat_id, thread_id, html)
        except RetryAfter as error:
            wait = retry_seconds(error) * self.pacing.scale
            self.storage.retry_chat_after(chat_id, self.clock() + wait)
            self.next_ok[chat_id] = self.clock() + wait
            return 0
        except TelegramError as error:  # blocked, migrated, down: the additions' path says it
            attempts = rows[0].attempts + 1
            park = RETRY.parks(attempts) and not isinstance(error, NetworkError)
            log.warning("chat %s: news not sent: %s", chat_id, error.message)
            self.storage.news_failed(ids, error.message, self.clock() + RETRY.delay(attempts), park)
            return 0
        self.storage.news_sent(ids, datetime.now(UTC).isoformat(timespec="seconds"))
        return 1

    async def _additions(self) -> int:
        async with self.lock:  # one round at a time, whoever calls
            ready = self._due(self.storage.pending_deliveries(self.clock()))
            results = await asyncio.gather(
                *(self._deliver(chat_id, thread, rows) for chat_id, (thread, rows) in ready.items())
            )
            return sum(results)

    def _due(self, rows: Sequence[Row]) -> dict[int, tuple[int, list[Row]]]:
        """The pending rows of each chat that may have a message now, by chat: one topic per
        chat per round (chat → (topic, its rows, oldest first))."""
        now = self.clock()
        topics: dict[tuple[int, int], list[Row]] = {}
        for row in rows:
            if self.next_ok.get(row.chat_id, 0.0) <= now:
                topics.setdefault((row.chat_id, row.thread_id), []).append(row)
        ready: dict[int, tuple[int, list[Row]]] = {}
        for (chat_id, thread_id), found in topics.items():
            ready.setdefault(chat_id, (thread_id, found))
        return ready

    async def _send(self, chat_id: int, thread_id: int, html: str) -> None:
        """Send one message at its turn: evenly spaced sends keep every one-second window
        under the overall rate (a bucket would allow a burst on top of the steady rate), and
        each chat waits its interval."""
        now = self.clock()
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.pacing.overall
        if slot > now:
            await asyncio.sleep(slot - now)
        pace = self.pacing.private if chat_id > 0 else self.pacing.group
        self.next_ok[chat_id] = self.clock() + pace
        await self.bot.send_message(
            chat_id,
            html,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            message_thread_id=thread_id or None,
        )

    async def _deliver(self, chat_id: int, thread_id: int, rows: list[Delivery]) -> int:
        _, _, offset = self.storage.quiet_hours(chat_id)
        today = (datetime.now(UTC) + timedelta(minutes=offset)).date().isoformat()
        push = compose_push(rows, rows[0].lang, today, self.links)
        batch, html = push.rows, push.html
        ids = [row.id for row in batch]
        try:
            await self._send(chat_id, thread_id, html)
        except RetryAfter as error:
            wait = retry_seconds(error) * self.pacing.scale
            log.warning("chat %s: Telegram asks to wait %.0fs", chat_id, wait)
            self.storage.retry_chat_after(chat_id, self.clock() + wait)
            self.next_ok[chat_id] = self.clock() + wait
            return 0
        except Forbidden as error:
            log.warning("chat %s: deactivated: %s", chat_id, error.message)
            self.storage.deactivate_chat(chat_id, error.message)
            return 0
        except ChatMigrated as error:
            log.info("chat %s: migrated to %s", chat_id, error.new_chat_id)
            self.storage.migrate_chat(chat_id, error.new_chat_id)
            self.next_ok.pop(error.new_chat_id, None)
            return 0
        except NetworkError as error:
            # Telegram unreachable or slow: retry with backoff, never park (nothing is lost).
            delay = RETRY.delay(batch[0].attempts + 1)
            log.warning("chat %s: %s; retrying in %.0fs", chat_id, error.message, delay)
            self.storage.mark_failed(ids, error.message, self.clock() + delay, park=False)
            return 0
        except TelegramError as error:
            attempts = batch[0].attempts + 1
            delay = RETRY.delay(attempts)
            log.warning("chat %s: %s (attempt %d)", chat_id, error.message, attempts)
            self.storage.mark_failed(
                ids, error.message, self.clock() + delay, RETRY.parks(attempts)
            )
            return 0
        self.storage.mark_sent(ids, datetime.now(UTC).isoformat(timespec="seconds"))
        return 1


def retry_seconds(error: RetryAfter) -> float:
    """Read RetryAfter.retry_after (a timedelta with PTB_TIMEDELTA, else a number)."""
    value = error.retry_after
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
