"""How updates and replies flow: concurrently across chats, in order within one, never waiting
inside a handler, and one user's flood slowed down without slowing anyone else.

Telegram lets a bot send about one message a second to a chat. A handler that waited out a
RetryAfter would hold the update queue; here a handler only queues its reply, and each chat's
own worker paces the sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import Any

from telegram import Bot, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import RetryAfter, TelegramError
from telegram.ext import BaseUpdateProcessor

from .push import retry_seconds

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def chat_key(update: object) -> int:
    """The chat an update belongs to (its user for inline queries), 0 if none."""
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
    return 0


class PerChatOrder(BaseUpdateProcessor):
    """Run updates concurrently, but one chat's updates one after another, in order."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


class UserLimit:
    """A token bucket per user: bursts of `burst` updates, then `rate` a second."""

    def __init__(self, burst: float = 20, rate: float = 1.0) -> None:
        self.burst = burst
        self.rate = rate
        self._buckets: dict[int, tuple[float, float, bool]] = {}  # tokens, when, warned

    def check(self, user_id: int, now: float | None = None) -> str:
        """Return "ok", "warn" (first refusal: say so once) or "drop"."""
        now = time.monotonic() if now is None else now
        tokens, then, warned = self._buckets.get(user_id, (self.burst, now, False))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens >= 1:
            self._buckets[user_id] = (tokens - 1, now, False)
            verdict = "ok"
        else:
            self._buckets[user_id] = (tokens, now, True)
            verdict = "drop" if warned else "warn"
        if len(self._buckets) > 10_000:  # forget users whose buckets are full again
            full = [u for u, (n, t, _) in self._buckets.items() if n + (now - t) * self.rate >= 1]
            for user in full:
                del self._buckets[user]
        return verdict


class Replies:
    """One queue and one worker per chat: send() returns at once, the worker sends in order,
    waits out RetryAfter and gives up (logged) on other errors."""

    def __init__(self, bot: Bot, attempts: int = 5, scale: float = 1.0) -> None:
        self.bot = bot
        self.attempts = attempts
        self.scale = scale  # push.Pacing.scale: how long a RetryAfter is waited out
        self._queues: dict[int, asyncio.Queue[tuple[str, Any, int | None]]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._closing = False

    def send(
        self, chat_id: int, html: str, keyboard: Any = None, thread: int | None = None
    ) -> None:
        """Queue an HTML message for a chat."""
        queue = self._queues.setdefault(chat_id, asyncio.Queue())
        queue.put_nowait((html, keyboard, thread))
        if chat_id not in self._workers:
            self._workers[chat_id] = asyncio.create_task(self._work(chat_id, queue))

    async def _work(self, chat_id: int, queue: asyncio.Queue[tuple[str, Any, int | None]]) -> None:
        try:
            while not queue.empty():
                html, keyboard, thread = queue.get_nowait()
                await self._deliver(chat_id, html, keyboard, thread)
        finally:
            del self._workers[chat_id]
            if queue.empty() or self._closing:
                self._queues.pop(chat_id, None)
            else:  # queued while the worker was finishing
                self._workers[chat_id] = asyncio.create_task(self._work(chat_id, queue))

    async def _deliver(self, chat_id: int, html: str, keyboard: Any, thread: int | None) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                await self.bot.send_message(
                    chat_id, html, parse_mode=ParseMode.HTML, reply_markup=keyboard,
                    link_preview_options=NO_PREVIEW, message_thread_id=thread,
                )  # fmt: skip
                return
            except RetryAfter as error:
                if attempt == self.attempts:
                    log.warning("reply to chat %s dropped: still rate-limited", chat_id)
                    return
                await asyncio.sleep(retry_seconds(error) * self.scale)
            except TelegramError as error:
                log.warning("reply to chat %s failed: %s", chat_id, error.message)
                return

    async def close(self, timeout: float = 5.0) -> None:
        """Let queued replies go out (for a while), then stop the workers."""
        self._closing = True
        workers = list(self._workers.values())
        if workers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*workers, return_exceptions=True), timeout)
        for worker in list(self._workers.values()):
            worker.cancel()
