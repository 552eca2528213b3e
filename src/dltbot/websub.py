"""WebSub (W3C Recommendation) publishing: tell a hub which feeds changed, so readers
subscribed through it get new entries in seconds instead of on their next poll.

The feeds advertise the hub (`<link rel="hub">`, JSON Feed `hubs`, an HTTP `Link` header);
after the feeds of a list change, the hub is sent `hub.mode=publish` with each changed
feed's URL. Pings never block a sync: they are queued in the database, coalesced (a URL
waiting is not added twice) and retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

from .enrich.client import Http
from .present.links import Links, documents
from .retry import Retry
from .storage import Storage

log = logging.getLogger(__name__)

# 2 s, 4 s, … up to 10 min; parked after 8 attempts (readers still poll).
RETRY = Retry(first=2.0, cap=600.0, park_after=8)


def changed_feeds(links: Links, name: str) -> list[str]:
    """The URLs of every document that changes when a list gets additions: the registry's
    feeds and digests of every list and of this one (filtered feeds are not pinged: Site.feed
    says why; a list's papers' news change with enrichment, not with its commits)."""
    refs = documents(None) + documents(name)
    return [links.url(ref.path) for ref in refs if ref.kind != "updates"]


class HubPinger:
    """Send publish pings to one hub, in the background. Pings are kept in the database
    until the hub takes them: a restart resumes them, refusals are retried with backoff
    (RETRY) and then parked with the hub's answer."""

    def __init__(
        self, hub: str, http: Http, storage: Storage, clock: Callable[[], float] = time.time
    ) -> None:
        self.hub = hub
        self.http = http
        self.storage = storage
        self.clock = clock
        self.wake = asyncio.Event()
        self.sent = 0  # pings the hub accepted (tests, logs)

    def publish(self, urls: Iterable[str]) -> None:
        """Queue a ping for each URL (one already waiting is not queued twice)."""
        self.storage.queue_pings(self.hub, urls, self.clock())
        self.wake.set()

    async def run(self) -> None:
        """Ping until cancelled, starting with what an earlier run left waiting."""
        while True:
            self.wake.clear()
            for ping_id, url, attempts in self.storage.due_pings(self.hub, self.clock()):
                await self._ping(ping_id, url, attempts)
            at = self.storage.next_ping_at(self.hub)
            timeout = None if at is None else max(0.0, at - self.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    async def _ping(self, ping_id: int, url: str, attempts: int) -> None:
        form = {"hub.mode": "publish", "hub.url": url}
        response = await self.http.post(self.hub, form, trusted=True)
        if response.status is not None and 200 <= response.status < 300:
            self.storage.ping_sent(ping_id)
            self.sent += 1
            log.debug("websub: %s published", url)
            return
        why = response.error or f"HTTP {response.status}"
        attempts += 1
        delay = RETRY.delay(attempts)
        park = RETRY.parks(attempts)
        self.storage.ping_failed(ping_id, why, self.clock() + delay, park)
        if park:
            log.warning("websub: hub %s refused %s %d times (%s); parked", self.hub, url,
                        attempts, why)  # fmt: skip
        else:
            log.info("websub: ping for %s failed (%s); again in %.0fs", url, why, delay)
