"""Link health: what one answer says about a link, and how answers add up to a status.

A link is `broken` only on hard answers (404, 410, a host name that does not exist) seen on
`broken_after` consecutive checks a day apart; 401, 403, 429 and anti-bot pages are `blocked`
(datacenter addresses are refused by many sites: that says nothing of the link); timeouts and
5xx are `error`. Pure functions: no I/O, the clock is a parameter.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ..models import CardState, LinkHealth, LinkStatus
from .client import Response, retry_after

DAY = 86400.0
FIRST_RETRY = 3600.0  # an error is looked at again after an hour, then backing off
_BLOCKED = {401, 403, 407, 429, 451, 999}  # 999: LinkedIn's answer to robots
_CHALLENGE = (b"just a moment...", b"attention required! | cloudflare", b"ddos-guard")


@dataclass(frozen=True, slots=True)
class Observation:
    """What one check saw: ok, redirected, hard (404/410/no such host), blocked, error, or
    deferred (not asked: the host asked us to wait)."""

    kind: str
    http_status: int | None = None
    target: str | None = None
    reason: str = ""
    retry_after: float | None = None  # seconds the server asked us to wait


def observe(response: Response) -> Observation:
    """Read one response (after its redirects) as a link check."""
    status = response.status
    if status is None:
        if response.error_kind == "deferred":
            return Observation("deferred", None, reason=response.error, retry_after=response.wait)
        if response.error_kind == "dns":
            return Observation("hard", None, reason="unknown host")
        return Observation("error", None, reason=response.error or "no answer")
    wait = retry_after(response.headers) if status in (429, 503) else None
    if status in _BLOCKED:
        return Observation("blocked", status, reason=f"HTTP {status}", retry_after=wait)
    if status in (404, 410):
        return Observation("hard", status, reason=f"HTTP {status}")
    if status >= 400:
        head = response.body[:4096].lower()
        challenge = response.headers.get("cf-mitigated", "").lower() == "challenge" or any(
            mark in head for mark in _CHALLENGE
        )
        kind = "blocked" if challenge else "error"  # an anti-bot page is not an outage
        return Observation(kind, status, reason=f"HTTP {status}", retry_after=wait)
    target = response.permanent_target
    if target and 200 <= status < 400:
        return Observation("redirected", status, target=target, reason=f"moved to {target}")
    return Observation("ok", status)


def iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")


def spread(identity: str, period: float) -> float:
    """A link's own share of the period (0.75–1.25 of it): checks of many links spread out
    instead of all falling due in the same minute."""
    fraction = int.from_bytes(hashlib.sha256(identity.encode()).digest()[:4], "big") / 2**32
    return period * (0.75 + 0.5 * fraction)


def advance(
    state: CardState, seen: Observation, now: float, *, broken_after: int, recheck: float
) -> CardState:
    """Return the state after one more check."""
    if seen.kind == "deferred":  # not asked: only when to ask
        return replace(state, next_check=now + (seen.retry_after or FIRST_RETRY))
    prev = state.link
    hard_count, hard_last, failures = state.hard_count, state.hard_last, state.failures
    if seen.kind == "hard":
        if hard_count == 0 or now - hard_last >= DAY * 0.9:  # a day apart (a little slack)
            hard_count += 1
            hard_last = now
        if hard_count >= broken_after:
            status: LinkStatus = "broken"
            reason = seen.reason
            next_check = now + spread(state.identity, recheck)
        else:
            # Not yet broken: keep what was known, and look again in a day.
            status = prev.status if prev and prev.status != "broken" else "error"
            reason = f"{seen.reason} ({hard_count} of {broken_after} checks before broken)"
            next_check = now + DAY
        failures = 0
    else:
        hard_count, hard_last = 0, 0.0
        status = seen.kind  # type: ignore[assignment]
        reason = seen.reason
        if seen.kind == "error":
            failures += 1
            next_check = now + min(recheck, FIRST_RETRY * 2 ** (failures - 1))
        else:
            failures = 0
            next_check = now + spread(state.identity, recheck)
        if seen.retry_after:
            next_check = max(next_check, now + seen.retry_after)
    since = prev.since if prev and prev.status == status and prev.since else iso(now)
    link = LinkHealth(
        status=status,
        http_status=seen.http_status,
        checked=iso(now),
        since=since,
        target=seen.target,
        reason=reason,
    )
    return replace(
        state,
        link=link,
        hard_count=hard_count,
        hard_last=hard_last,
        failures=failures,
        next_check=next_check,
    )
