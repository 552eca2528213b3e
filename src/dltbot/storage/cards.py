"""Enrichment's tables: cards and link health by identity, in their own transactions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..models import Card, CardState, FollowUp
from ..papers import best_key, follow_ups, keys_of
from .base import CARD_COLUMNS, CARD_JOIN, Connection, card_of, follow_up_row


def iso_time(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")


def search_text(card: Card | None) -> str:
    """The card's words a search matches: authors, title, abstract, venue."""
    if card is None:
        return ""
    return " ".join(part for part in (" ".join(card.authors), card.title, card.abstract,
                                      card.venue) if part)  # fmt: skip


class CardStore(Connection):
    """Cards and link health (written only by enrichment, read by every output)."""

    def follow_up_events(
        self, list_name: str | None = None, kinds: Sequence[str] = (), limit: int = 100
    ) -> list[FollowUp]:
        """News of the papers a list holds (every list's: None), newest first: each follow-up
        once per list that holds the paper's entry."""
        where, params = ["1"], list[Any]()
        if list_name is not None:
            where.append("l.name = ?")
            params.append(list_name)
        if kinds:
            where.append(f"f.kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)
        rows = self.db.execute(
            "SELECT f.id AS news_id, f.kind, f.value, f.detail, f.found_at, "
            "l.name AS news_list, e.url, e.title, e.identity FROM follow_ups f "
            "JOIN entries e ON e.identity = f.identity JOIN lists l ON l.id = e.list_id "
            f"WHERE {' AND '.join(where)} "
            "ORDER BY f.id DESC LIMIT ?",
            [*params, limit],
        )
        return [follow_up_row(row) for row in rows]

    def enrich_backlog(self, now: float) -> tuple[int, int]:
        """Return how many URLs of current entries are due a check (card or link) now, and
        how many of those were never looked at: how far behind enrichment is."""
        row = self.db.execute(
            "SELECT count(*), coalesce(sum(k.identity IS NULL), 0) FROM "
            "(SELECT DISTINCT identity FROM entries) e "
            "LEFT JOIN cards k ON k.identity = e.identity WHERE coalesce(k.next_check, 0) <= ?",
            (now,),
        ).fetchone()
        return row[0], row[1]

    def card_states(
        self, list_name: str | None = None, newest_first: bool = False
    ) -> list[CardState]:
        """Return the enrichment state of every current entry's URL (of one list), in list
        order (`newest_first`: the entries added last first, as enrichment spends its API
        budget); URLs never looked at have a fresh state."""
        sql = (
            f"SELECT e.identity AS identity, e.url AS url, {CARD_COLUMNS}, k.fetched_at, "
            "k.next_check, k.hard_count, k.hard_last, k.failures, k.etag, k.last_modified "
            "FROM entries e JOIN lists l ON l.id = e.list_id "
            f"{CARD_JOIN.format(table='e')}"
        )
        params: list[Any] = []
        if list_name is not None:
            sql += " WHERE l.name = ?"
            params.append(list_name)
        states: dict[str, CardState] = {}
        order = "e.first_date DESC, l.name, e.position" if newest_first else "l.name, e.position"
        for row in self.db.execute(f"{sql} ORDER BY {order}", params):
            if row["identity"] in states:
                continue
            card, link = card_of(row)
            states[row["identity"]] = CardState(
                identity=row["identity"],
                url=row["url"],
                card=card,
                link=link,
                fetched_at=row["fetched_at"] or 0.0,
                next_check=row["next_check"] or 0.0,
                hard_count=row["hard_count"] or 0,
                hard_last=row["hard_last"] or 0.0,
                failures=row["failures"] or 0,
                etag=row["etag"],
                last_modified=row["last_modified"],
            )
        return list(states.values())

    def save_card_states(self, states: Sequence[CardState], now: float) -> None:
        """Store checked states in one transaction; a changed card reaches the search index
        of every entry with that identity."""
        with self.atomic():
            for state in states:
                card = json.dumps(state.card.to_json(), ensure_ascii=False) if state.card else None
                link = json.dumps(state.link.to_json(), ensure_ascii=False) if state.link else None
                old = self.db.execute(
                    "SELECT card, link, search_text FROM cards WHERE identity = ?",
                    (state.identity,),
                ).fetchone()
                text = search_text(state.card)
                # The time a link was checked changes every check; only what shows counts.
                shown_before = (old["card"], _shown(old["link"])) if old else (None, None)
                changed = shown_before != (card, _shown(link))
                self.db.execute(
                    "INSERT INTO cards (identity, url, card, search_text, link, fetched_at, "
                    "next_check, hard_count, hard_last, failures, etag, last_modified, "
                    "changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (identity) DO UPDATE SET url = excluded.url, "
                    "card = excluded.card, search_text = excluded.search_text, "
                    "link = excluded.link, fetched_at = excluded.fetched_at, "
                    "next_check = excluded.next_check, hard_count = excluded.hard_count, "
                    "hard_last = excluded.hard_last, failures = excluded.failures, "
                    "etag = excluded.etag, last_modified = excluded.last_modified, "
                    "changed_at = CASE WHEN ? THEN excluded.changed_at ELSE changed_at END",
                    (
                        state.identity, state.url, card, text, link, state.fetched_at,
                        state.next_check, state.hard_count, state.hard_last, state.failures,
                        state.etag, state.last_modified, now, changed,
                    ),
                )  # fmt: skip
                before = Card.from_json(json.loads(old["card"])) if old and old["card"] else None
                for kind, value, detail in follow_ups(before, state.card):
                    self.db.execute(
                        "INSERT OR IGNORE INTO follow_ups (identity, kind, value, detail, "
                        "found_at) VALUES (?, ?, ?, ?, ?)",
                        (state.identity, kind, value, json.dumps(detail, ensure_ascii=False),
                         iso_time(now)),
                    )  # fmt: skip
                if state.card is not None and (keys := keys_of(state.url, state.card)):
                    # The paper its record names (a preprint's published DOI, Crossref's
                    # relations) becomes its events' key: a chat gets it once, one key for all.
                    self.db.execute(
                        "UPDATE events SET paper_key = ? WHERE identity = ? AND paper_key IS NOT ?",
                        (best_key(keys), state.identity, best_key(keys)),
                    )
                if old is None or old["search_text"] != text:
                    self.db.execute(
                        "UPDATE entries SET card_text = ? WHERE identity = ?",
                        (text, state.identity),
                    )


def _shown(link: str | None) -> Any:
    """A link's health less the time of its last check."""
    if link is None:
        return None
    data = json.loads(link)
    data.pop("checked", None)
    return data
