"""When a held push may go: daily and weekly digests, and a chat's quiet hours. Pure
functions of the time, so the outbox only needs each row's earliest send time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MODES = ("now", "daily", "weekly")
DIGEST_HOUR = 8  # local time of daily and weekly digests (weekly: on Mondays)


def next_mode(mode: str) -> str:
    """The mode after `mode` in the cycle the ⏱ button walks: at once → daily → weekly."""
    return MODES[(MODES.index(mode) + 1) % len(MODES)] if mode in MODES else "now"


def _local(now: float, utc_offset: int) -> datetime:
    return datetime.fromtimestamp(now, UTC) + timedelta(minutes=utc_offset)


def in_quiet_hours(local: datetime, start: int, end: int) -> bool:
    """Whether a local time falls in [start, end) hours; the window may wrap midnight."""
    if start == end:
        return False
    hour = local.hour
    return start <= hour < end if start < end else (hour >= start or hour < end)


def due_at(
    mode: str, quiet: bool, now: float, start: int = 22, end: int = 8, utc_offset: int = 0
) -> float:
    """Return the unix time a push recorded at `now` may be sent."""
    local = _local(now, utc_offset)
    due = local
    if mode in ("daily", "weekly"):
        due = local.replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
        if due <= local:
            due += timedelta(days=1)
        if mode == "weekly":
            due += timedelta(days=(7 - due.weekday()) % 7)  # the next Monday
    if quiet and in_quiet_hours(due, start, end):
        until = due.replace(hour=end, minute=0, second=0, microsecond=0)
        if until <= due:
            until += timedelta(days=1)
        due = until
    if due == local:
        return now
    return (due - timedelta(minutes=utc_offset)).timestamp()
