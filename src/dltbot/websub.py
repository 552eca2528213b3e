"""WebSub (W3C Recommendation) publishing: tell a hub which feeds changed, so readers
subscribed through it get new entries in seconds instead of on their next poll.

The feeds advertise the hub (`<link rel="hub">`, JSON Feed `hubs`, an HTTP `Link` header);
after the feeds of a list change, the hub is sent `hub.mode=publish` with each changed
feed's URL. Pings never block a sync: they are queued, coalesced (a URL waiting is not added
twice) and retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

from . import paths
from .enrich.client import Http
from .feed import FORMATS

log = logging.getLogger(__name__)

FIRST_RETRY = 2.0  # seconds; doubled after each failure
MAX_RETRY = 600.0
ATTEMPTS = 8  # then the ping is given up (readers still poll)


def changed_feeds(base: str, name: str, filtered: Iterable[str] = ()) -> list[str]:
    """The URLs of every document that changes when a list gets additions: the all-lists
    feed, the list's feed and its digests, in every format, and the filtered feeds given."""
    docs = [paths.feed(None, fmt) for fmt in FORMATS] + [paths.feed(name, fmt) for fmt in FORMATS]
    docs += [paths.digest(name, period, fmt) for period in ("daily", "weekly") for fmt in FORMATS]
    return list(dict.fromkeys([base + doc for doc in docs] + list(filtered)))


class HubPinger:
    """Send publish pings to one hub, in the background, retrying failures with backoff."""

    def __init__(self, hub: str, http: Http, clock: Callable[[], float] = time.monotonic) -> None:
        self.hub = hub
        self.http = http
        self.clock = clock
        self.due: dict[str, tuple[int, float]] = {}  # URL → (attempts so far, when to try)
        self.wake = asyncio.Event()
        self.sent = 0  # pings the hub accepted (tests, logs)

    def publish(self, urls: Iterable[str]) -> None:
        """Queue a ping for each URL (one already waiting is not queued twice)."""
        now = self.clock()
        for url in urls:
            self.due.setdefault(url, (0, now))
        self.wake.set()

    async def run(self) -> None:
        """Ping until cancelled."""
        while True:
            now = self.clock()
            for url in [url for url, (_, at) in self.due.items() if at <= now]:
                await self._ping(url)
            self.wake.clear()
            wait = min((at for _, at in self.due.values()), default=None)
            timeout = None if wait is None else max(0.0, wait - self.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    async def _ping(self, url: str) -> None:
        attempts, _ = self.due[url]
        form = {"hub.mode": "publish", "hub.url": url}
        response = await self.http.post(self.hub, form, trusted=True)
        if response.status is not None and 200 <= response.status < 300:
            del self.due[url]
            self.sent += 1
            log.debug("websub: %s published", url)
            return
        why = response.error or f"HTTP {response.status}"
        attempts += 1
        if attempts >= ATTEMPTS:
            del self.due[url]
            log.warning("websub: hub %s refused %s %d times (%s); given up", self.hub, url,
                        attempts, why)  # fmt: skip
            return
        delay = min(MAX_RETRY, FIRST_RETRY * 2 ** (attempts - 1))
        self.due[url] = (attempts, self.clock() + delay)
        log.info("websub: ping for %s failed (%s); again in %.0fs", url, why, delay)
