"""WebSub publish pings waiting for their hub."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from .base import Connection


class PingStore(Connection):
    """Pings are kept until the hub takes them (then deleted) or parked after too many
    refusals, so a restart resumes them."""

    def queue_pings(self, hub: str, urls: Iterable[str], now: float) -> int:
        """Queue a ping per URL (one already waiting is not queued twice); return how many."""
        queued = datetime.now(UTC).isoformat(timespec="seconds")
        with self.atomic():
            count: int = self.db.executemany(
                "INSERT OR IGNORE INTO hub_pings (hub, url, next_attempt, queued_at) "
                "VALUES (?, ?, ?, ?)",
                [(hub, url, now, queued) for url in urls],
            ).rowcount
        return count

    def due_pings(self, hub: str, now: float) -> list[tuple[int, str, int]]:
        """Return (id, url, attempts so far) of the pings to send now, oldest first."""
        rows = self.db.execute(
            "SELECT id, url, attempts FROM hub_pings WHERE hub = ? AND status = 'pending' "
            "AND next_attempt <= ? ORDER BY id",
            (hub, now),
        )
        return [(row["id"], row["url"], row["attempts"]) for row in rows]

    def next_ping_at(self, hub: str) -> float | None:
        """When the next waiting ping is due (None: none waits)."""
        row = self.db.execute(
            "SELECT min(next_attempt) AS at FROM hub_pings WHERE hub = ? AND status = 'pending'",
            (hub,),
        ).fetchone()
        at: float | None = row["at"]
        return at

    def ping_sent(self, ping_id: int) -> None:
        with self.atomic():
            self.db.execute("DELETE FROM hub_pings WHERE id = ?", (ping_id,))

    def ping_failed(self, ping_id: int, error: str, next_attempt: float, park: bool) -> None:
        """Record a refused ping: try again at next_attempt, or park it with the error."""
        with self.atomic():
            self.db.execute(
                "UPDATE hub_pings SET attempts = attempts + 1, error = ?, next_attempt = ?, "
                "status = CASE WHEN ? THEN 'parked' ELSE status END WHERE id = ?",
                (error, next_attempt, park, ping_id),
            )

    def ping_counts(self) -> dict[str, int]:
        """Return how many pings wait and how many are parked."""
        rows = self.db.execute("SELECT status, count(*) FROM hub_pings GROUP BY status")
        return dict(rows.fetchall())
