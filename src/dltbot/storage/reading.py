"""Reads: events, search, random, feeds, sections."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..models import (
    EventKind,
    FeedEvent,
    StoredEntry,
    StoredEvent,
)
from ..query import match_words
from .base import (
    CARD_COLUMNS,
    CARD_JOIN,
    ENTRY_COLUMNS,
    EVENT_COLUMNS,
    Connection,
    add_filters,
    entry_columns,
    event_row,
    feed_event_row,
    folded,
    match_clause,
    stored_entry_row,
)

# A search across every list ranks at most this many of the index's best candidates (or 4 ×
# the rows asked for): a word in tens of thousands of entries costs as much as one in 2,000.
CANDIDATES = 500
# Up to this many index matches are all ranked (bm25); past it, the newest are candidates.
RANKED_MATCHES = 20_000


class ReadStore(Connection):
    """What the CLI, the web and the bot read."""

    # --- reading -------------------------------------------------------------------------

    def events(
        self,
        list_name: str | None = None,
        kinds: Sequence[EventKind] = (),
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[StoredEvent]:
        """Return events, oldest first unless newest_first, filtered by list and kinds."""
        where, params = ["1"], list[Any]()
        add_filters(where, params, list_name)
        if kinds:
            where.append(f"ev.kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT {EVENT_COLUMNS}, {CARD_COLUMNS} FROM events ev "
            "JOIN lists l ON l.id = ev.list_id "
            "JOIN commits c ON c.list_id = ev.list_id AND c.sha = ev.commit_sha"
            f"{CARD_JOIN.format(table='ev')} "
            f"WHERE {' AND '.join(where)} ORDER BY ev.id {order}"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [event_row(row) for row in self.db.execute(sql, params)]

    def search(
        self, query: str, list_name: str | None = None, limit: int = 20, offset: int = 0
    ) -> list[StoredEntry]:
        """Return current entries matching every word of query, title hits first.

        Words of three or more characters go through the trigram index; shorter ones (the
        commonest Chinese queries are two characters: 泛化) are matched as substrings.
        Words are always literal text: FTS5 syntax in them is quoted away.
        """
        words = match_words(query)
        if not words:
            return []
        long = [word for word in words if len(word) >= 3]
        joins, where, params = "", ["1"], list[Any]()
        # Title hits first; the ranking (a Python call) runs only for rows whose title holds
        # every word: with hundreds of lists a common word matches tens of thousands.
        in_title = " AND ".join(f"instr({folded('e.title', w)}, ?)" for w in words)
        order = [f"CASE WHEN {in_title} THEN title_rank(e.title, ?) ELSE 4 END"]
        order_params: list[Any] = [*words, " ".join(words)]
        if long:
            # Candidates from the trigram index (it holds the case-folded text: never
            # narrower than the rule); the rule below decides, as for subscriptions. A
            # card's authors and abstract count, below the entry's own words.
            phrase = " ".join('"' + word.replace('"', '""') + '"' for word in long)
            # Across every list, the best CANDIDATES by the index's own rank (in C), then the
            # rule and the order below: bounded work for a word in tens of thousands.
            cap = max(CANDIDATES, 4 * (limit + offset))
            ranked = "SELECT rowid AS fts_id, bm25(entries_fts, 10.0, 1.0, 3.0, 0.3) AS fts_rank "
            if list_name is not None:
                joins = f" JOIN ({ranked}FROM entries_fts WHERE entries_fts MATCH ?) fts"
                params = [phrase]
            elif self._fts_count(phrase) <= RANKED_MATCHES:
                joins = (
                    f" JOIN ({ranked}FROM entries_fts WHERE entries_fts MATCH ? "
                    "ORDER BY fts_rank LIMIT ?) fts"
                )
                params = [phrase, cap]
            else:
                # Too many to rank them all (bm25 is per match): the newest title hits, then
                # the newest others.
                joins = (
                    " JOIN (SELECT fts_id, min(fts_rank) AS fts_rank FROM ("
                    "SELECT * FROM (SELECT rowid AS fts_id, 0 AS fts_rank FROM entries_fts "
                    "WHERE entries_fts MATCH ? ORDER BY rowid DESC LIMIT ?) UNION ALL "
                    "SELECT * FROM (SELECT rowid, 1 FROM entries_fts WHERE entries_fts MATCH ? "
                    "ORDER BY rowid DESC LIMIT ?)) GROUP BY fts_id) fts"
                )
                params = [f"title : ({phrase})", cap, phrase, cap]
            joins += " ON fts.fts_id = e.id"
            order.append("fts.fts_rank")
        match_clause(where, params, words, entry_columns("e"))
        add_filters(where, params, list_name)
        sql = (
            f"SELECT {ENTRY_COLUMNS}, {CARD_COLUMNS} FROM entries e{joins} "
            f"JOIN lists l ON l.id = e.list_id{CARD_JOIN.format(table='e')} "
            f"WHERE {' AND '.join(where)} "
            f"ORDER BY {', '.join(order)}, e.first_date DESC, e.id LIMIT ? OFFSET ?"
        )
        params.extend([*order_params, limit, offset])
        return [stored_entry_row(row) for row in self.db.execute(sql, params)]

    def _fts_count(self, phrase: str) -> int:
        """How many entries the trigram index matches (counted in C, without ranking)."""
        row = self.db.execute(
            "SELECT count(*) FROM entries_fts WHERE entries_fts MATCH ?", (phrase,)
        ).fetchone()
        count: int = row[0]
        return count

    def match_texts(self, list_name: str) -> dict[str, str]:
        """What the one matching rule looks in for each current entry of a list (identity →
        its MATCH_COLUMNS case-folded, one a line): search.js matches over it."""
        columns = " || char(10) || ".join(entry_columns("e"))
        rows = self.db.execute(
            f"SELECT e.identity, casefold({columns}) AS text FROM entries e "
            "JOIN lists l ON l.id = e.list_id WHERE l.name = ?",
            (list_name,),
        )
        return {row["identity"]: row["text"] for row in rows}

    def random_entry(
        self, list_name: str | None = None, section: str | None = None
    ) -> StoredEntry | None:
        """Return a uniformly random current entry, optionally under headings matching words."""
        where, params = ["1"], list[Any]()
        add_filters(where, params, list_name, section, ["e.section_text"])
        row = self.db.execute(
            f"SELECT {ENTRY_COLUMNS}, {CARD_COLUMNS} FROM entries e "
            f"JOIN lists l ON l.id = e.list_id{CARD_JOIN.format(table='e')} "
            f"WHERE {' AND '.join(where)} ORDER BY random() LIMIT 1",
            params,
        ).fetchone()
        return stored_entry_row(row) if row else None

    def entries(self, list_name: str) -> list[StoredEntry]:
        """Return a list's current entries in list order."""
        rows = self.db.execute(
            f"SELECT {ENTRY_COLUMNS}, {CARD_COLUMNS} FROM entries e "
            f"JOIN lists l ON l.id = e.list_id{CARD_JOIN.format(table='e')} "
            "WHERE l.name = ? ORDER BY e.position, e.id",
            (list_name,),
        )
        return [stored_entry_row(row) for row in rows]

    def feed_events(
        self,
        kinds: Sequence[EventKind],
        list_name: str | None = None,
        *,
        limit: int,
        offset: int = 0,
        newest_first: bool = True,
        section: str | None = None,
        identities: Sequence[str] | None = None,
        by_date: bool = False,
        upto: int | None = None,
        paper_once: bool = False,
    ) -> list[FeedEvent]:
        """Return events for a feed, with the entry's text as its last "changed" event left it.

        Ordered by event id (the order events were recorded), newest first unless asked; with
        `by_date`, by the commit's date in UTC (documents of several lists: a list synced
        later brings older history, which must not push the newest additions out).
        `section` keeps events under headings holding every one of its words; `identities`
        keeps events of those entries only; `upto`, events up to that id (later additions
        wait for their cards); `paper_once`, a paper's first addition only (the all-lists
        feed: a paper several lists add comes once).
        """
        where = [f"ev.kind IN ({', '.join('?' * len(kinds))})"]
        params: list[Any] = list(kinds)
        add_filters(where, params, list_name, section, ["ev.section"])
        if identities is not None:
            where.append("ev.identity IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(identities)))
        if upto is not None:
            where.append("ev.id <= ?")
            params.append(upto)
        if paper_once:
            where.append(
                "(ev.kind != 'added' OR ev.paper_key IS NULL OR ev.id = (SELECT min(e3.id) "
                "FROM events e3 WHERE e3.paper_key = ev.paper_key AND e3.kind = 'added'))"
            )
        order = "DESC" if newest_first else "ASC"
        # julianday() reads the offset, so dates of different time zones compare in UTC (and
        # the index events_kind_date serves the order).
        sort = f"julianday(ev.committed_at) {order}, ev.id {order}" if by_date else f"ev.id {order}"
        sql = f"""
            SELECT ev.id, l.name AS list_name, l.repo, ev.kind, ev.kind_seq, ev.identity,
                   ev.url, ev.title, ev.description, ev.section, ev.text_links, c.sha,
                   c.committed_at, c.author, c.summary, {CARD_COLUMNS},
                   (SELECT json_array(e2.url, e2.title, e2.description, e2.section,
                                      e2.committed_at, e2.text_links)
                    FROM events e2
                    WHERE e2.list_id = ev.list_id AND e2.identity = ev.identity
                      AND e2.kind = 'changed' AND e2.id > ev.id AND ev.kind != 'removed'
                    ORDER BY e2.id DESC LIMIT 1) AS edited
            FROM events ev JOIN lists l ON l.id = ev.list_id
            JOIN commits c ON c.list_id = ev.list_id AND c.sha = ev.commit_sha
            {CARD_JOIN.format(table="ev")}
            WHERE {" AND ".join(where)}
            ORDER BY {sort} LIMIT ? OFFSET ?
        """
        params.extend([limit, offset])
        return [feed_event_row(row) for row in self.db.execute(sql, params)]

    def count_events(
        self, kinds: Sequence[EventKind], list_name: str | None = None, upto: int | None = None
    ) -> int:
        """Return how many events of these kinds there are (in one list, up to an id)."""
        sql = (
            "SELECT count(*) FROM events ev JOIN lists l ON l.id = ev.list_id "
            f"WHERE ev.kind IN ({', '.join('?' * len(kinds))})"
        )
        params: list[Any] = list(kinds)
        if upto is not None:
            sql += " AND ev.id <= ?"
            params.append(upto)
        if list_name is not None:
            sql += " AND l.name = ?"
            params.append(list_name)
        count: int = self.db.execute(sql, params).fetchone()[0]
        return count

    def content_version(self) -> tuple[int, str]:
        """Return a value that changes whenever what the feeds and pages show does: a new
        event, a list's sync state, a card or a link's health. The bot's own writes (queries,
        outbox) leave it."""
        row = self.db.execute(
            "SELECT (SELECT coalesce(max(id), 0) FROM events) AS events, "
            "(SELECT group_concat(id || ':' || coalesce(head, '') || ':' || status || ':' || "
            "coalesce(last_sync_at, '') || ':' || coalesce(last_error, ''), '|') FROM lists) "
            "|| '/' || (SELECT count(*) || ':' || coalesce(max(changed_at), 0) FROM cards) "
            "AS state"
        ).fetchone()
        return row["events"], row["state"] or ""

    def entry_counts(self) -> dict[int, int]:
        """Return how many entries each list holds now, by list id."""
        rows = self.db.execute("SELECT list_id, count(*) FROM entries GROUP BY list_id")
        return {row[0]: row[1] for row in rows}

    def entry_count(self, list_id: int) -> int:
        """Return how many entries the list holds now."""
        row = self.db.execute("SELECT count(*) FROM entries WHERE list_id = ?", (list_id,))
        count: int = row.fetchone()[0]
        return count

    def sections(self, list_name: str | None = None) -> list[tuple[str, tuple[str, ...], int]]:
        """Return (list, heading path, entry count) of every heading path, in list order."""
        sql = (
            "SELECT l.name AS name, e.section AS section, count(*) AS count, min(e.position) "
            "FROM entries e "
            "JOIN lists l ON l.id = e.list_id"
        )
        params: list[Any] = []
        if list_name is not None:
            sql += " WHERE l.name = ?"
            params.append(list_name)
        sql += " GROUP BY l.name, e.section ORDER BY l.name, min(e.position)"
        return [
            (row["name"], tuple(json.loads(row["section"])), row["count"])
            for row in self.db.execute(sql, params)
        ]

    def entries_in_section(
        self, list_name: str, section: tuple[str, ...], limit: int = 20, offset: int = 0
    ) -> tuple[list[StoredEntry], int]:
        """Return a page of a list's entries under a heading path (and below it), in list
        order, and how many there are in all."""
        prefix = json.dumps(list(section), ensure_ascii=False)[:-1]
        where = "WHERE l.name = ? AND (e.section = ? OR substr(e.section, 1, ?) = ?)"
        params = (list_name, prefix + "]", len(prefix) + 1, prefix + ",")
        rows = self.db.execute(
            f"SELECT {ENTRY_COLUMNS}, {CARD_COLUMNS} FROM entries e "
            f"JOIN lists l ON l.id = e.list_id{CARD_JOIN.format(table='e')} "
            f"{where} ORDER BY e.position LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        total = self.db.execute(
            f"SELECT count(*) FROM entries e JOIN lists l ON l.id = e.list_id {where}", params
        ).fetchone()[0]
        return [stored_entry_row(row) for row in rows], total

    def last_commit_date(self, list_id: int) -> str | None:
        """The date of the newest commit of the list read so far (its last update)."""
        row = self.db.execute(
            "SELECT max(committed_at) FROM commits WHERE list_id = ?", (list_id,)
        ).fetchone()
        date: str | None = row[0]
        return date
