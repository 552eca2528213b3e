"""The retry policy every delivery target shares (the Telegram outbox, WebSub pings): a failed
attempt waits twice as long as the one before, up to a cap, and after enough attempts the
item is parked with its last error instead of being retried for ever."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Retry:
    first: float  # seconds before the second attempt
    cap: float  # the longest wait
    park_after: int  # attempts; then the item is parked (kept, with its error)

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the attempts-th failed attempt (1 = the first)."""
        return min(self.cap, self.first * 2.0 ** min(max(attempts, 1) - 1, 30))

    def parks(self, attempts: int) -> bool:
        return attempts >= self.park_after
