"""The one hold on new additions: while `dltbot run` fetches their cards (up to enrich.wait),
additions recorded after a point are not shown yet — by the feeds, the page, the pushes, /latest
and inline mode alike. One object, shared by the service, the site and the bot."""

from __future__ import annotations

import threading


class Hold:
    """Events after `upto` are held back; None holds nothing (no enrichment, or a one-shot
    command)."""

    def __init__(self) -> None:
        self._upto: int | None = None
        self._lock = threading.Lock()

    @property
    def upto(self) -> int | None:
        return self._upto

    def start(self, last_event_id: int) -> None:
        """Hold everything recorded after this event from now on."""
        with self._lock:
            self._upto = last_event_id

    def release(self, top: int) -> None:
        """Let events up to `top` show (the hold only moves forward)."""
        with self._lock:
            if self._upto is not None:
                self._upto = max(self._upto, top)
