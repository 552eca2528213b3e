"""Lists, the diff state and what each processed commit writes."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..errors import ConcurrentSyncError
from ..models import (
    Commit,
    Entry,
    Event,
    ListState,
)
from ..papers import url_paper_key
from .base import (
    ENTRY_COLUMNS,
    LIST_COLUMNS,
    Connection,
    entry_row,
    entry_values,
    links_json,
)


class HistoryStore(Connection):
    """Lists and their sync state; the entries and events a commit records."""

    # --- lists ---------------------------------------------------------------------------

    def ensure_list(self, name: str, repo: str) -> ListState:
        """Return the list named so, creating it; a changed remote is recorded."""
        with self.atomic():
            self.db.execute(
                "INSERT INTO lists (name, repo, created_at) "
                "VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')) "
                "ON CONFLICT (name) DO UPDATE SET repo = excluded.repo",
                (name, repo),
            )
        state = self.list_state(name)
        assert state is not None
        return state

    def list_state(self, name: str) -> ListState | None:
        """Return the stored state of one list."""
        row = self.db.execute(
            f"SELECT {LIST_COLUMNS} FROM lists WHERE name = ?", (name,)
        ).fetchone()
        return ListState(**dict(row)) if row else None

    def list_states(self) -> list[ListState]:
        """Return every list, by name."""
        rows = self.db.execute(f"SELECT {LIST_COLUMNS} FROM lists ORDER BY name")
        return [ListState(**dict(row)) for row in rows]

    def history_until(self, name: str) -> int:
        """Return the last event id of the list's first backfill (its history, not news);
        0 before the backfill ends."""
        row = self.db.execute(
            "SELECT coalesce(backfill_last_event, 0) AS last FROM lists WHERE name = ?", (name,)
        ).fetchone()
        last: int = row["last"] if row else 0
        return last

    def remove_list(self, name: str) -> dict[str, int] | None:
        """Delete a list and every row that belongs to it; return what was removed, by table
        (None if there is no such list)."""
        state = self.list_state(name)
        if state is None:
            return None
        removed: dict[str, int] = {}
        with self.atomic():
            for table in ("entries", "events", "commits"):
                removed[table] = self.db.execute(
                    f"SELECT count(*) FROM {table} WHERE list_id = ?", (state.id,)
                ).fetchone()[0]
            removed["deliveries"] = self.db.execute(
                "DELETE FROM outbox WHERE event_id IN (SELECT id FROM events WHERE list_id = ?)",
                (state.id,),
            ).rowcount
            removed["subscriptions"] = self.db.execute(
                "DELETE FROM subscriptions WHERE list_name = ?", (name,)
            ).rowcount
            # Entries first, while the list's row tells the index triggers whether they
            # were indexed; then the rest cascades.
            self.db.execute("DELETE FROM entries WHERE list_id = ?", (state.id,))
            self.db.execute("DELETE FROM lists WHERE id = ?", (state.id,))
        return removed

    def set_tracking(self, list_id: int, path: str, branch: str) -> None:
        """Record which file and branch of the repository the list is read from."""
        with self.atomic():
            self.db.execute(
                "UPDATE lists SET path = ?, branch = ? WHERE id = ?", (path, branch, list_id)
            )

    def defer_index(self, list_id: int) -> None:
        """Index a list's entries for search once its first backfill ends, not commit by
        commit (a backfill rewrites the same entries thousands of times). Only a list with no
        entries yet: what is indexed stays exactly what the entries hold."""
        with self.atomic():
            self.db.execute(
                "UPDATE lists SET index_pending = 1 WHERE id = ? AND NOT EXISTS "
                "(SELECT 1 FROM entries WHERE list_id = ?)",
                (list_id, list_id),
            )

    def mark_synced(
        self, list_id: int, head: str, now: str, *, backfilled: bool, parser_version: int = 0
    ) -> None:
        """Record a successful sync up to head, its entries read by that parser version; a
        deferred search index is written now."""
        with self.atomic():
            self.db.execute(
                "INSERT INTO entries_fts (rowid, title, description, section_text, card_text) "
                "SELECT e.id, casefold(e.title), casefold(e.description), "
                "casefold(e.section_text), casefold(e.card_text) "
                "FROM entries e JOIN lists l ON l.id = e.list_id "
                "WHERE e.list_id = ? AND l.index_pending = 1",
                (list_id,),
            )
            self.db.execute(
                "UPDATE lists SET index_pending = 0 WHERE id = ? AND index_pending = 1", (list_id,)
            )
            self.db.execute(
                "UPDATE lists SET head = ?, status = 'ok', last_error = NULL, "
                "parser_version = max(parser_version, ?), "
                "last_sync_at = ?, last_success_at = ?, failing_since = NULL, "
                "backfilled_at = CASE WHEN ? THEN coalesce(backfilled_at, ?) "
                "ELSE backfilled_at END, "
                "backfill_last_event = coalesce(backfill_last_event, "
                "(SELECT coalesce(max(id), 0) FROM events WHERE list_id = ?)) WHERE id = ?",
                (head, parser_version, now, now, backfilled, now, list_id, list_id),
            )

    def mark_failing(self, list_id: int, error: str, now: str) -> None:
        """Record a failed sync; the list keeps its entries and events."""
        with self.atomic():
            self.db.execute(
                "UPDATE lists SET status = 'failing', last_error = ?, last_sync_at = ?, "
                "failing_since = coalesce(failing_since, ?) WHERE id = ?",
                (error, now, now, list_id),
            )

    # --- the diff's state ----------------------------------------------------------------

    def current_entries(self, list_id: int) -> dict[str, Entry]:
        """Return the list's current entries by identity, in list order."""
        rows = self.db.execute(
            f"SELECT {ENTRY_COLUMNS} FROM entries e JOIN lists l ON l.id = e.list_id "
            "WHERE e.list_id = ? ORDER BY e.position",
            (list_id,),
        )
        return {row["identity"]: entry_row(row) for row in rows}

    def seen_identities(self, list_id: int) -> set[str]:
        """Return every identity the list ever held."""
        rows = self.db.execute("SELECT identity FROM seen WHERE list_id = ?", (list_id,))
        return {row["identity"] for row in rows}

    def record_commit(
        self,
        list_id: int,
        commit: Commit,
        events: Sequence[Event],
        changed: Sequence[tuple[int, Entry]],
        removed: Sequence[str],
        after: str | None,
    ) -> None:
        """Store one processed commit: its events, the entries it changed, the new head.

        The caller wraps this in atomic(), so a crash leaves the commit wholly done or undone.
        `after` is the head the caller diffed from: if another sync of the list moved it
        meanwhile, ConcurrentSyncError undoes this commit instead of recording it twice.
        """
        db = self.db
        moved = db.execute(
            "UPDATE lists SET head = ? WHERE id = ? AND head IS ?", (commit.sha, list_id, after)
        ).rowcount
        if not moved:
            raise ConcurrentSyncError("another sync of this list ran at the same time; skipped")
        db.execute(
            "INSERT OR IGNORE INTO commits (list_id, sha, committed_at, author, summary) "
            "VALUES (?, ?, ?, ?, ?)",
            (list_id, commit.sha, commit.date, commit.author, commit.summary),
        )
        if events:
            self._insert_events(list_id, commit, events)
        self._write_entries(list_id, commit, changed, removed)

    def reread_entries(
        self,
        list_id: int,
        commit: Commit,
        changed: Sequence[tuple[int, Entry]],
        removed: Sequence[str],
        parser_version: int,
    ) -> None:
        """Store the head as a newer parser reads it: entries updated, no events (the text
        did not change, only how it is read), and the parser version."""
        with self.atomic():
            self._write_entries(list_id, commit, changed, removed)
            self.db.execute(
                "UPDATE lists SET parser_version = ? WHERE id = ?", (parser_version, list_id)
            )

    def _write_entries(
        self,
        list_id: int,
        commit: Commit,
        changed: Sequence[tuple[int, Entry]],
        removed: Sequence[str],
    ) -> None:
        if removed:
            self.db.executemany(
                "DELETE FROM entries WHERE list_id = ? AND identity = ?",
                [(list_id, identity) for identity in removed],
            )
        if changed:
            self._upsert_entries(list_id, commit, changed)

    def _insert_events(self, list_id: int, commit: Commit, events: Sequence[Event]) -> None:
        self.db.executemany(
            "INSERT INTO events (list_id, kind, identity, url, title, description, section, "
            "old_url, old_title, old_description, old_section, commit_sha, committed_at, "
            "text_links, paper_key, kind_seq) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
            "(SELECT count(*) + 1 FROM events WHERE list_id = ?1 AND identity = ?3 AND kind = ?2))",
            [
                (
                    list_id,
                    event.kind,
                    event.entry.identity,
                    event.entry.url,
                    event.entry.title,
                    event.entry.description,
                    json.dumps(event.entry.section, ensure_ascii=False),
                    event.old.url if event.old else None,
                    event.old.title if event.old else None,
                    event.old.description if event.old else None,
                    json.dumps(event.old.section, ensure_ascii=False) if event.old else None,
                    commit.sha,
                    commit.date,
                    links_json(event.entry.text_links),
                    url_paper_key(event.entry.url),
                )
                for event in events
            ],
        )

    def _upsert_entries(
        self, list_id: int, commit: Commit, changed: Sequence[tuple[int, Entry]]
    ) -> None:
        db = self.db
        db.executemany(
            "INSERT OR IGNORE INTO seen (list_id, identity, first_commit, first_date) "
            "VALUES (?, ?, ?, ?)",
            [(list_id, entry.identity, commit.sha, commit.date) for _, entry in changed],
        )
        db.executemany(
            "INSERT INTO entries (list_id, identity, url, title, description, section, "
            "section_text, parents, parent, extra_links, other_sections, text_links, position, "
            "occurrences, first_commit, first_date, card_text) "
            "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, s.first_commit, s.first_date, "
            "coalesce((SELECT k.search_text FROM cards k WHERE k.identity = s.identity), '') "
            "FROM seen s WHERE s.list_id = ? AND s.identity = ? "
            "ON CONFLICT (list_id, identity) DO UPDATE SET url = excluded.url, "
            "title = excluded.title, description = excluded.description, "
            "section = excluded.section, section_text = excluded.section_text, "
            "parents = excluded.parents, parent = excluded.parent, "
            "extra_links = excluded.extra_links, other_sections = excluded.other_sections, "
            "text_links = excluded.text_links, "
            "position = excluded.position, occurrences = excluded.occurrences",
            [
                (
                    list_id,
                    *entry_values(entry),
                    position,
                    entry.occurrences,
                    list_id,
                    entry.identity,
                )
                for position, entry in changed
            ],
        )

    def write_positions(self, list_id: int, entries: Sequence[Entry]) -> None:
        """Store each entry's place in the list (done once a sync, not per commit)."""
        with self.atomic():
            stored = dict(
                self.db.execute(
                    "SELECT identity, position FROM entries WHERE list_id = ?", (list_id,)
                ).fetchall()
            )
            self.db.executemany(
                "UPDATE entries SET position = ? WHERE list_id = ? AND identity = ?",
                [
                    (position, list_id, entry.identity)
                    for position, entry in enumerate(entries)
                    if stored.get(entry.identity) != position
                ],
            )
