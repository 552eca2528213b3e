"""The SQLite database: every SQL statement of dltbot lives here."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import urls
from .errors import StorageError
from .migrations import MIGRATIONS, apply_migrations
from .models import (
    Commit,
    Delivery,
    Entry,
    Event,
    EventKind,
    FeedEvent,
    ListState,
    StoredEntry,
    StoredEvent,
    Subscription,
)

BUSY_TIMEOUT_MS = 10_000

_ENTRY_COLUMNS = (
    "e.identity, e.url, e.title, e.description, e.section, e.parents, e.parent, "
    "e.extra_links, e.occurrences, e.position, e.first_commit, e.first_date, l.name"
)
_LIST_COLUMNS = (
    "id, name, repo, path, branch, head, status, last_error, last_sync_at, last_success_at, "
    "failing_since, backfilled_at"
)
_EVENT_COLUMNS = (
    "ev.id, l.name, ev.kind, ev.identity, ev.url, ev.title, ev.description, ev.section, "
    "ev.old_url, ev.old_title, ev.old_description, ev.old_section, "
    "c.sha, c.committed_at, c.author, c.summary"
)


def _casefold(value: str | None) -> str:
    return value.casefold() if value else ""


class Storage:
    """One SQLite database file: lists, commits, current entries, events and search."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as error:
            raise StorageError(f"database {self.path}: cannot open: {error}") from error
        self._depth = 0
        try:
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.create_function("casefold", 1, _casefold, deterministic=True)
            version: int = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StorageError(
                    f"database {self.path}: schema version {version} is newer than this dltbot "
                    f"knows ({len(MIGRATIONS)}); upgrade dltbot or use another --db"
                )
            apply_migrations(self.db)
        except sqlite3.Error as error:
            self.db.close()
            raise StorageError(f"database {self.path}: {error}") from error
        except StorageError:
            self.db.close()
            raise

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Run the block in one transaction (nested blocks join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")
        finally:
            self._depth = 0

    # --- lists ---------------------------------------------------------------------------

    def ensure_list(self, name: str, repo: str) -> ListState:
        """Return the list named so, creating it; a changed remote is recorded."""
        with self.atomic():
            self.db.execute(
                "INSERT INTO lists (name, repo) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET repo = excluded.repo",
                (name, repo),
            )
        state = self.list_state(name)
        assert state is not None
        return state

    def list_state(self, name: str) -> ListState | None:
        """Return the stored state of one list."""
        row = self.db.execute(
            f"SELECT {_LIST_COLUMNS} FROM lists WHERE name = ?", (name,)
        ).fetchone()
        return ListState(*row) if row else None

    def list_states(self) -> list[ListState]:
        """Return every list, by name."""
        rows = self.db.execute(f"SELECT {_LIST_COLUMNS} FROM lists ORDER BY name")
        return [ListState(*row) for row in rows]

    def set_tracking(self, list_id: int, path: str, branch: str) -> None:
        """Record which file and branch of the repository the list is read from."""
        with self.atomic():
            self.db.execute(
                "UPDATE lists SET path = ?, branch = ? WHERE id = ?", (path, branch, list_id)
            )

    def mark_synced(self, list_id: int, head: str, now: str, *, backfilled: bool) -> None:
        """Record a successful sync up to head."""
        with self.atomic():
            self.db.execute(
                "UPDATE lists SET head = ?, status = 'ok', last_error = NULL, "
                "last_sync_at = ?, last_success_at = ?, failing_since = NULL, "
                "backfilled_at = CASE WHEN ? THEN coalesce(backfilled_at, ?) "
                "ELSE backfilled_at END, "
                "backfill_last_event = coalesce(backfill_last_event, "
                "(SELECT coalesce(max(id), 0) FROM events WHERE list_id = ?)) WHERE id = ?",
                (head, now, now, backfilled, now, list_id, list_id),
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
            f"SELECT {_ENTRY_COLUMNS} FROM entries e JOIN lists l ON l.id = e.list_id "
            "WHERE e.list_id = ? ORDER BY e.position",
            (list_id,),
        )
        return {row[0]: _entry(row) for row in rows}

    def seen_identities(self, list_id: int) -> set[str]:
        """Return every identity the list ever held."""
        rows = self.db.execute("SELECT identity FROM seen WHERE list_id = ?", (list_id,))
        return {row[0] for row in rows}

    def record_commit(
        self,
        list_id: int,
        commit: Commit,
        events: Sequence[Event],
        changed: Sequence[tuple[int, Entry]],
        removed: Sequence[str],
    ) -> None:
        """Store one processed commit: its events, the entries it changed, the new head.

        The caller wraps this in atomic(), so a crash leaves the commit wholly done or undone.
        """
        db = self.db
        db.execute(
            "INSERT OR IGNORE INTO commits (list_id, sha, committed_at, author, summary) "
            "VALUES (?, ?, ?, ?, ?)",
            (list_id, commit.sha, commit.date, commit.author, commit.summary),
        )
        if events:
            self._insert_events(list_id, commit, events)
        if removed:
            db.executemany(
                "DELETE FROM entries WHERE list_id = ? AND identity = ?",
                [(list_id, identity) for identity in removed],
            )
        if changed:
            self._upsert_entries(list_id, commit, changed)
        db.execute("UPDATE lists SET head = ? WHERE id = ?", (commit.sha, list_id))

    def _insert_events(self, list_id: int, commit: Commit, events: Sequence[Event]) -> None:
        self.db.executemany(
            "INSERT INTO events (list_id, kind, identity, url, title, description, section, "
            "old_url, old_title, old_description, old_section, commit_sha, committed_at, "
            "kind_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
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
            "section_text, parents, parent, extra_links, position, occurrences, "
            "first_commit, first_date) "
            "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, s.first_commit, s.first_date "
            "FROM seen s WHERE s.list_id = ? AND s.identity = ? "
            "ON CONFLICT (list_id, identity) DO UPDATE SET url = excluded.url, "
            "title = excluded.title, description = excluded.description, "
            "section = excluded.section, section_text = excluded.section_text, "
            "parents = excluded.parents, parent = excluded.parent, "
            "extra_links = excluded.extra_links, position = excluded.position, "
            "occurrences = excluded.occurrences",
            [
                (
                    list_id,
                    *_entry_values(entry),
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
        if list_name is not None:
            where.append("l.name = ?")
            params.append(list_name)
        if kinds:
            where.append(f"ev.kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM events ev JOIN lists l ON l.id = ev.list_id "
            "JOIN commits c ON c.list_id = ev.list_id AND c.sha = ev.commit_sha "
            f"WHERE {' AND '.join(where)} ORDER BY ev.id {order}"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_event(row) for row in self.db.execute(sql, params)]

    def search(
        self, query: str, list_name: str | None = None, limit: int = 20, offset: int = 0
    ) -> list[StoredEntry]:
        """Return current entries matching every word of query, title hits first.

        Words of three or more characters go through the trigram index; shorter ones (the
        commonest Chinese queries are two characters: 泛化) are matched as substrings.
        Words are always literal text: FTS5 syntax in them is quoted away.
        """
        words = [casefold for word in query.split() if (casefold := word.casefold())]
        if not words:
            return []
        long = [word for word in words if len(word) >= 3]
        short = [word for word in words if len(word) < 3]
        joins, where, params = "", ["1"], list[Any]()
        order = [f"({' + '.join('(instr(casefold(e.title), ?) > 0)' for _ in words)}) DESC"]
        if long:
            joins = " JOIN entries_fts ON entries_fts.rowid = e.id"
            where.append("entries_fts MATCH ?")
            params.append(" ".join('"' + word.replace('"', '""') + '"' for word in long))
            order.append("bm25(entries_fts, 10.0, 1.0, 3.0)")
        for word in short:
            where.append(
                "(instr(casefold(e.title), ?) OR instr(casefold(e.description), ?) "
                "OR instr(casefold(e.section_text), ?))"
            )
            params.extend([word] * 3)
        if list_name is not None:
            where.append("l.name = ?")
            params.append(list_name)
        sql = (
            f"SELECT {_ENTRY_COLUMNS} FROM entries e JOIN lists l ON l.id = e.list_id{joins} "
            f"WHERE {' AND '.join(where)} "
            f"ORDER BY {', '.join(order)}, e.first_date DESC, e.id LIMIT ? OFFSET ?"
        )
        params.extend([*words, limit, offset])
        return [_stored_entry(row) for row in self.db.execute(sql, params)]

    def random_entry(
        self, list_name: str | None = None, section: str | None = None
    ) -> StoredEntry | None:
        """Return a uniformly random current entry, optionally under headings matching words."""
        where, params = ["1"], list[Any]()
        if list_name is not None:
            where.append("l.name = ?")
            params.append(list_name)
        for word in (section or "").split():
            where.append("instr(casefold(e.section_text), ?)")
            params.append(word.casefold())
        row = self.db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries e JOIN lists l ON l.id = e.list_id "
            f"WHERE {' AND '.join(where)} ORDER BY random() LIMIT 1",
            params,
        ).fetchone()
        return _stored_entry(row) if row else None

    def entries(self, list_name: str) -> list[StoredEntry]:
        """Return a list's current entries in list order."""
        rows = self.db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries e JOIN lists l ON l.id = e.list_id "
            "WHERE l.name = ? ORDER BY e.position, e.id",
            (list_name,),
        )
        return [_stored_entry(row) for row in rows]

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
    ) -> list[FeedEvent]:
        """Return events for a feed, with the entry's text as its last "changed" event left it.

        Ordered by event id (the order events were recorded), newest first unless asked.
        `section` keeps events under headings holding every one of its words; `identities`
        keeps events of those entries only.
        """
        where = [f"ev.kind IN ({', '.join('?' * len(kinds))})"]
        params: list[Any] = list(kinds)
        if list_name is not None:
            where.append("l.name = ?")
            params.append(list_name)
        for word in (section or "").split():
            where.append("instr(casefold(ev.section), ?)")
            params.append(word.casefold())
        if identities is not None:
            where.append("ev.identity IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(identities)))
        order = "DESC" if newest_first else "ASC"
        sql = f"""
            SELECT ev.id, l.name, l.repo, ev.kind, ev.kind_seq, ev.identity, ev.url, ev.title,
                   ev.description, ev.section, c.sha, c.committed_at, c.author, c.summary,
                   (SELECT json_array(e2.url, e2.title, e2.description, e2.section,
                                      e2.committed_at)
                    FROM events e2
                    WHERE e2.list_id = ev.list_id AND e2.identity = ev.identity
                      AND e2.kind = 'changed' AND e2.id > ev.id AND ev.kind != 'removed'
                    ORDER BY e2.id DESC LIMIT 1) AS edited
            FROM events ev JOIN lists l ON l.id = ev.list_id
            JOIN commits c ON c.list_id = ev.list_id AND c.sha = ev.commit_sha
            WHERE {" AND ".join(where)}
            ORDER BY ev.id {order} LIMIT ? OFFSET ?
        """
        params.extend([limit, offset])
        return [_feed_event(row) for row in self.db.execute(sql, params)]

    def count_events(self, kinds: Sequence[EventKind], list_name: str | None = None) -> int:
        """Return how many events of these kinds there are (in one list)."""
        sql = (
            "SELECT count(*) FROM events ev JOIN lists l ON l.id = ev.list_id "
            f"WHERE ev.kind IN ({', '.join('?' * len(kinds))})"
        )
        params: list[Any] = list(kinds)
        if list_name is not None:
            sql += " AND l.name = ?"
            params.append(list_name)
        count: int = self.db.execute(sql, params).fetchone()[0]
        return count

    def data_version(self) -> tuple[int, int]:
        """Return a value that changes whenever the database does (a cache key).

        PRAGMA data_version moves when another connection commits; total_changes when this one
        writes.
        """
        version: int = self.db.execute("PRAGMA data_version").fetchone()[0]
        return version, self.db.total_changes

    def entry_count(self, list_id: int) -> int:
        """Return how many entries the list holds now."""
        row = self.db.execute("SELECT count(*) FROM entries WHERE list_id = ?", (list_id,))
        count: int = row.fetchone()[0]
        return count

    # --- Telegram: chats, subscriptions, the outbox --------------------------------------

    def chat_lang(self, chat_id: int) -> str | None:
        """Return the language a chat chose with /lang, if any."""
        row = self.db.execute("SELECT lang FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
        return row[0] if row else None

    def set_chat_lang(self, chat_id: int, lang: str) -> None:
        """Remember a chat's language."""
        with self.atomic():
            self.db.execute(
                "INSERT INTO chats (chat_id, lang) VALUES (?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET lang = excluded.lang",
                (chat_id, lang),
            )

    def subscribe(
        self, chat_id: int, thread_id: int, list_name: str, words: str, origin: str = "user"
    ) -> bool:
        """Subscribe a chat from the present on; return False if it already was."""
        with self.atomic():
            row = self.db.execute(
                "SELECT id, active FROM subscriptions WHERE chat_id = ? AND thread_id = ? "
                "AND list_name = ? AND filter = ?",
                (chat_id, thread_id, list_name, words),
            ).fetchone()
            if row and row[1]:
                return False
            cursor = self.db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
            self.db.execute(
                "INSERT INTO chats (chat_id) VALUES (?) ON CONFLICT (chat_id) DO UPDATE "
                "SET active = 1, reason = NULL",
                (chat_id,),
            )
            self.db.execute(
                "INSERT INTO subscriptions (chat_id, thread_id, list_name, filter, cursor, origin) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id, thread_id, list_name, filter) "
                "DO UPDATE SET active = 1, cursor = excluded.cursor",
                (chat_id, thread_id, list_name, words, cursor, origin),
            )
            return True

    def unsubscribe(
        self, chat_id: int, thread_id: int, list_name: str | None, words: str | None
    ) -> int:
        """End a chat's subscriptions (all, or those of a list and filter); return how many."""
        sql = "UPDATE subscriptions SET active = 0 WHERE active AND chat_id = ? AND thread_id = ?"
        params: list[Any] = [chat_id, thread_id]
        if list_name is not None:
            sql += " AND list_name = ?"
            params.append(list_name)
        if words is not None:
            sql += " AND filter = ?"
            params.append(words)
        with self.atomic():
            count: int = self.db.execute(sql, params).rowcount
        return count

    def subscriptions(self, chat_id: int | None = None) -> list[Subscription]:
        """Return active subscriptions (of one chat), oldest first."""
        sql = (
            "SELECT id, chat_id, thread_id, list_name, filter, origin FROM subscriptions "
            "WHERE active"
        )
        params: list[Any] = []
        if chat_id is not None:
            sql += " AND chat_id = ?"
            params.append(chat_id)
        return [Subscription(*row) for row in self.db.execute(sql + " ORDER BY id", params)]

    def fan_out(self) -> int:
        """Put new additions into the outbox of every matching subscription; return how many.

        One transaction: a subscription's cursor moves with the rows it produced. Events of a
        list's first backfill (up to backfill_last_event) are history and never pushed.
        """
        added = 0
        with self.atomic():
            top = self.db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
            subs = self.db.execute(
                "SELECT s.id, s.chat_id, s.thread_id, s.list_name, s.filter, s.cursor "
                "FROM subscriptions s JOIN chats c ON c.chat_id = s.chat_id "
                "WHERE s.active AND c.active AND s.cursor < ?",
                (top,),
            ).fetchall()
            for sub_id, chat_id, thread_id, list_name, words, cursor in subs:
                where = [
                    "ev.kind = 'added'",
                    "ev.id > ?",
                    "ev.id <= ?",
                    "l.backfill_last_event IS NOT NULL",
                    "ev.id > l.backfill_last_event",
                ]
                params: list[Any] = [cursor, top]
                if list_name:
                    where.append("l.name = ?")
                    params.append(list_name)
                for word in words.split():
                    where.append(
                        "(instr(casefold(ev.section), ?) OR instr(casefold(ev.title), ?) "
                        "OR instr(casefold(ev.description), ?))"
                    )
                    params.extend([word.casefold()] * 3)
                added += self.db.execute(
                    "INSERT OR IGNORE INTO outbox (chat_id, thread_id, event_id) "
                    f"SELECT ?, ?, ev.id FROM events ev JOIN lists l ON l.id = ev.list_id "
                    f"WHERE {' AND '.join(where)} ORDER BY ev.id",
                    [chat_id, thread_id, *params],
                ).rowcount
                self.db.execute("UPDATE subscriptions SET cursor = ? WHERE id = ?", (top, sub_id))
        return added

    def pending_deliveries(self, now: float, limit: int = 5000) -> list[Delivery]:
        """Return pending outbox rows that may be sent now, oldest first."""
        rows = self.db.execute(
            "SELECT o.id, o.chat_id, o.thread_id, o.attempts, l.name, ev.identity, ev.url, "
            "ev.title, ev.description, ev.section "
            "FROM outbox o JOIN chats c ON c.chat_id = o.chat_id "
            "JOIN events ev ON ev.id = o.event_id JOIN lists l ON l.id = ev.list_id "
            "WHERE o.status = 'pending' AND o.next_attempt <= ? AND c.active "
            "AND c.retry_until <= ? ORDER BY o.id LIMIT ?",
            (now, now, limit),
        )
        return [
            Delivery(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                Entry(row[5], row[6], row[7], row[8], tuple(json.loads(row[9]))),
            )
            for row in rows
        ]

    def mark_sent(self, ids: Sequence[int], now: str) -> None:
        """Record that Telegram accepted the message holding these rows."""
        with self.atomic():
            self.db.executemany(
                "UPDATE outbox SET status = 'sent', sent_at = ?, error = NULL WHERE id = ?",
                [(now, row_id) for row_id in ids],
            )

    def mark_failed(
        self, ids: Sequence[int], error: str, next_attempt: float, park_after: int
    ) -> None:
        """Record a failed attempt: retry later, or park the rows with the reason."""
        with self.atomic():
            self.db.executemany(
                "UPDATE outbox SET attempts = attempts + 1, error = ?, next_attempt = ?, "
                "status = CASE WHEN attempts + 1 >= ? THEN 'parked' ELSE status END "
                "WHERE id = ?",
                [(error, next_attempt, park_after, row_id) for row_id in ids],
            )

    def retry_chat_after(self, chat_id: int, until: float) -> None:
        """Remember Telegram's RetryAfter for a chat."""
        with self.atomic():
            self.db.execute(
                "INSERT INTO chats (chat_id, retry_until) VALUES (?, ?) ON CONFLICT (chat_id) "
                "DO UPDATE SET retry_until = max(retry_until, excluded.retry_until)",
                (chat_id, until),
            )

    def deactivate_chat(self, chat_id: int, reason: str) -> None:
        """Stop pushing to a chat that blocked or removed the bot; drop what it had pending."""
        with self.atomic():
            self.db.execute(
                "INSERT INTO chats (chat_id, active, reason) VALUES (?, 0, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET active = 0, reason = excluded.reason",
                (chat_id, reason),
            )
            self.db.execute("UPDATE subscriptions SET active = 0 WHERE chat_id = ?", (chat_id,))
            self.db.execute(
                "UPDATE outbox SET status = 'dropped', error = ? "
                "WHERE chat_id = ? AND status = 'pending'",
                (reason, chat_id),
            )

    def migrate_chat(self, old: int, new: int) -> None:
        """Move a chat's subscriptions, settings and pending rows to its new id (supergroup)."""
        with self.atomic():
            self.db.execute(
                "INSERT OR IGNORE INTO chats (chat_id, lang) "
                "SELECT ?, lang FROM chats WHERE chat_id = ?",
                (new, old),
            )
            self.db.execute(
                "UPDATE OR IGNORE subscriptions SET chat_id = ? WHERE chat_id = ?", (new, old)
            )
            self.db.execute(
                "UPDATE OR IGNORE outbox SET chat_id = ? WHERE chat_id = ? AND status = 'pending'",
                (new, old),
            )
            self.db.execute("UPDATE subscriptions SET active = 0 WHERE chat_id = ?", (old,))
            self.db.execute(
                "UPDATE outbox SET status = 'dropped', error = 'migrated' "
                "WHERE chat_id = ? AND status = 'pending'",
                (old,),
            )
            self.db.execute(
                "UPDATE chats SET active = 0, reason = 'migrated to ' || ? WHERE chat_id = ?",
                (new, old),
            )

    def outbox_counts(self) -> dict[str, int]:
        """Return how many outbox rows are in each status."""
        rows = self.db.execute("SELECT status, count(*) FROM outbox GROUP BY status")
        return dict(rows.fetchall())

    def save_query(self, kind: str, text: str) -> int:
        """Keep a query server-side (callback data holds 64 bytes); return its id."""
        with self.atomic():
            row = self.db.execute(
                "SELECT id FROM queries WHERE kind = ? AND text = ?", (kind, text)
            ).fetchone()
            if row:
                found: int = row[0]
                return found
            new_id = self.db.execute(
                "INSERT INTO queries (kind, text) VALUES (?, ?)", (kind, text)
            ).lastrowid
        assert new_id is not None
        return new_id

    def query_text(self, query_id: int, kind: str) -> str | None:
        """Return a kept query."""
        row = self.db.execute(
            "SELECT text FROM queries WHERE id = ? AND kind = ?", (query_id, kind)
        ).fetchone()
        return row[0] if row else None

    def sections(self, list_name: str | None = None) -> list[tuple[str, tuple[str, ...], int]]:
        """Return (list, heading path, entry count) of every heading path, in list order."""
        sql = (
            "SELECT l.name, e.section, count(*), min(e.position) FROM entries e "
            "JOIN lists l ON l.id = e.list_id"
        )
        params: list[Any] = []
        if list_name is not None:
            sql += " WHERE l.name = ?"
            params.append(list_name)
        sql += " GROUP BY l.name, e.section ORDER BY l.name, min(e.position)"
        return [(row[0], tuple(json.loads(row[1])), row[2]) for row in self.db.execute(sql, params)]

    def entries_in_section(
        self, list_name: str, section: tuple[str, ...], limit: int = 20
    ) -> list[StoredEntry]:
        """Return a list's entries under a heading path (and below it), in list order."""
        prefix = json.dumps(list(section), ensure_ascii=False)[:-1]
        rows = self.db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries e JOIN lists l ON l.id = e.list_id "
            "WHERE l.name = ? AND (e.section = ? OR substr(e.section, 1, ?) = ?) "
            "ORDER BY e.position LIMIT ?",
            (list_name, prefix + "]", len(prefix) + 1, prefix + ",", limit),
        )
        return [_stored_entry(row) for row in rows]


def _entry_values(entry: Entry) -> tuple[Any, ...]:
    return (
        entry.identity,
        entry.url,
        entry.title,
        entry.description,
        json.dumps(entry.section, ensure_ascii=False),
        " > ".join(entry.section),
        json.dumps(entry.parents, ensure_ascii=False),
        entry.parent,
        json.dumps(entry.extra_links, ensure_ascii=False),
    )


def _entry(row: Sequence[Any]) -> Entry:
    identity, url, title, description, section, parents, parent, extra, occurrences = row[:9]
    return Entry(
        identity=identity,
        url=url,
        title=title,
        description=description,
        section=tuple(json.loads(section)),
        parents=tuple(json.loads(parents)),
        parent=parent,
        extra_links=tuple(json.loads(extra)),
        occurrences=occurrences,
    )


def _stored_entry(row: Sequence[Any]) -> StoredEntry:
    return StoredEntry(
        list=row[12], entry=_entry(row), position=row[9], first_commit=row[10], first_date=row[11]
    )


def _feed_event(row: Sequence[Any]) -> FeedEvent:
    (event_id, name, repo, kind, seq, identity, url, title, description, section,
     sha, date, author, summary, edited) = row  # fmt: skip
    updated = date
    if edited is not None:
        url, title, description, section, updated = json.loads(edited)
    entry = Entry(identity, url, title, description, tuple(json.loads(section)))
    commit = Commit(sha, date, author, summary)
    return FeedEvent(event_id, name, repo, kind, seq, entry, commit, updated)


def _event(row: Sequence[Any]) -> StoredEvent:
    (
        event_id,
        name,
        kind,
        identity,
        url,
        title,
        description,
        section,
        old_url,
        old_title,
        old_description,
        old_section,
        sha,
        date,
        author,
        summary,
    ) = row
    entry = Entry(identity, url, title, description, tuple(json.loads(section)))
    old = None
    if old_url is not None:
        old = Entry(
            urls.identity(old_url),
            old_url,
            old_title,
            old_description,
            tuple(json.loads(old_section)),
        )
    return StoredEvent(event_id, name, kind, entry, old, Commit(sha, date, author, summary))
