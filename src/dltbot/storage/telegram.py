"""Telegram: chats, subscriptions, the outbox, kept queries."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..models import (
    Delivery,
    Entry,
    NewsDelivery,
    Subscription,
)
from ..query import match_words
from ..schedule import due_at
from .base import (
    CARD_COLUMNS,
    CARD_JOIN,
    MATCH_COLUMNS,
    Connection,
    add_filters,
    card_of,
    entry_columns,
    follow_up_row,
    links_of,
    match_clause,
)

# An event's MATCH_COLUMNS: its entry's as it stands (m), else what the event recorded.
_EVENT_MATCH = [
    "coalesce(m.title, ev.title)",
    "coalesce(m.description, ev.description)",
    "coalesce(m.section_text, ev.section)",
    "coalesce(m.card_text, '')",
]
assert len(_EVENT_MATCH) == len(MATCH_COLUMNS)


class TelegramStore(Connection):
    """The bot's state: who gets what, and what is still to send."""

    # --- Telegram: chats, subscriptions, the outbox --------------------------------------

    def chat_lang(self, chat_id: int) -> str | None:
        """Return the language a chat chose with /lang, if any."""
        row = self.db.execute("SELECT lang FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
        return row["lang"] if row else None

    def set_chat_lang(self, chat_id: int, lang: str) -> None:
        """Remember a chat's language."""
        with self.atomic():
            self.db.execute(
                "INSERT INTO chats (chat_id, lang) VALUES (?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET lang = excluded.lang",
                (chat_id, lang),
            )

    def subscribe(
        self,
        chat_id: int,
        thread_id: int,
        list_name: str,
        words: str,
        origin: str = "user",
        lang: str | None = None,
    ) -> bool:
        """Subscribe a chat from the present on (pushes in `lang` unless the chat chose one
        with /lang); return False if it already was."""
        with self.atomic():
            row = self.db.execute(
                "SELECT id, active FROM subscriptions WHERE chat_id = ? AND thread_id = ? "
                "AND list_name = ? AND filter = ?",
                (chat_id, thread_id, list_name, words),
            ).fetchone()
            if row and row["active"]:
                return False
            cursor = self.last_event_id()
            self.db.execute(
                "INSERT INTO chats (chat_id) VALUES (?) ON CONFLICT (chat_id) DO UPDATE "
                "SET active = 1, reason = NULL",
                (chat_id,),
            )
            self.db.execute(
                "INSERT INTO subscriptions (chat_id, thread_id, list_name, filter, cursor, origin, "
                "lang, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (chat_id, thread_id, list_name, filter) DO UPDATE SET active = 1, "
                "cursor = excluded.cursor, lang = excluded.lang, created_at = excluded.created_at",
                (chat_id, thread_id, list_name, words, cursor, origin, lang, _today()),
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

    def subscriptions(
        self, chat_id: int | None = None, thread_id: int | None = None
    ) -> list[Subscription]:
        """Return active subscriptions (of one chat, one topic), oldest first."""
        sql = (
            "SELECT id, chat_id, thread_id, list_name, filter, origin, lang, mode, quiet, "
            "created_at, updates FROM subscriptions WHERE active"
        )
        params: list[Any] = []
        if chat_id is not None:
            sql += " AND chat_id = ?"
            params.append(chat_id)
        if thread_id is not None:
            sql += " AND thread_id = ?"
            params.append(thread_id)
        rows = self.db.execute(sql + " ORDER BY id", params)
        return [
            Subscription(
                **{**dict(row), "quiet": bool(row["quiet"]), "updates": bool(row["updates"])}
            )
            for row in rows
        ]

    def subscription(self, chat_id: int, sub_id: int) -> Subscription | None:
        """Return one active subscription of a chat (None: not this chat's, or ended)."""
        found = [s for s in self.subscriptions(chat_id) if s.id == sub_id]
        return found[0] if found else None

    def end_subscription(self, chat_id: int, sub_id: int) -> Subscription | None:
        """End one of a chat's subscriptions; return it (None: there was no such one)."""
        with self.atomic():
            sub = self.subscription(chat_id, sub_id)
            if sub is not None:
                self.db.execute("UPDATE subscriptions SET active = 0 WHERE id = ?", (sub_id,))
        return sub

    def set_subscription(
        self, chat_id: int, sub_id: int, mode: str | None = None, quiet: bool | None = None
    ) -> Subscription | None:
        """Change a subscription's delivery mode or quiet-hours flag; return it as it is now.
        Rows already waiting keep their time (what is held for a digest stays held)."""
        with self.atomic():
            if self.subscription(chat_id, sub_id) is None:
                return None
            self.db.execute(
                "UPDATE subscriptions SET mode = coalesce(?, mode), quiet = coalesce(?, quiet) "
                "WHERE id = ?",
                (mode, quiet, sub_id),
            )
        return self.subscription(chat_id, sub_id)

    def quiet_hours(self, chat_id: int) -> tuple[int, int, int]:
        """Return a chat's quiet hours (start, end; local hours) and UTC offset in minutes."""
        row = self.db.execute(
            "SELECT quiet_start, quiet_end, utc_offset FROM chats WHERE chat_id = ?", (chat_id,)
        ).fetchone()
        return (row[0], row[1], row[2]) if row else (22, 8, 0)

    def set_quiet_hours(self, chat_id: int, start: int, end: int, utc_offset: int) -> None:
        """Set a chat's quiet hours; its subscriptions are held during them from now on."""
        with self.atomic():
            self.db.execute(
                "INSERT INTO chats (chat_id, quiet_start, quiet_end, utc_offset) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (chat_id) DO UPDATE SET "
                "quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end, "
                "utc_offset = excluded.utc_offset",
                (chat_id, start, end, utc_offset),
            )
            self.db.execute("UPDATE subscriptions SET quiet = 1 WHERE chat_id = ?", (chat_id,))

    def fan_out(self, upto: int | None = None, now: float | None = None) -> int:
        """Put new additions into the outbox of every matching subscription; return how many.

        One transaction: a subscription's cursor moves with the rows it produced. Events of a
        list's first backfill (up to backfill_last_event) are history and never pushed.
        Events after `upto` wait (the service holds new additions until their cards come).
        A row of a digest subscription, or one held by quiet hours, waits until it is due.
        """
        now = time.time() if now is None else now
        added = 0
        with self.atomic():
            top = self.last_event_id()
            if upto is not None:
                top = min(top, upto)
            subs = self.db.execute(
                "SELECT s.id, s.chat_id, s.thread_id, s.list_name, s.filter, s.cursor, s.mode, "
                "s.quiet, c.quiet_start, c.quiet_end, c.utc_offset "
                "FROM subscriptions s JOIN chats c ON c.chat_id = s.chat_id "
                "WHERE s.active AND c.active AND s.cursor < ?",
                (top,),
            ).fetchall()
            for row in subs:
                sub_id, chat_id, thread_id = row["id"], row["chat_id"], row["thread_id"]
                list_name, words, cursor = row["list_name"], row["filter"], row["cursor"]
                due = due_at(
                    row["mode"], bool(row["quiet"]), now,
                    row["quiet_start"], row["quiet_end"], row["utc_offset"],
                )  # fmt: skip
                where = [
                    "ev.kind = 'added'",
                    "ev.id > ?",
                    "ev.id <= ?",
                    "l.backfill_last_event IS NOT NULL",
                    "ev.id > l.backfill_last_event",
                ]
                params: list[Any] = [cursor, top]
                add_filters(where, params, list_name)
                # The one matching rule, as search applies it: over the entry as it stands
                # (its card's text included), else over what the event recorded.
                match_clause(where, params, match_words(words), _EVENT_MATCH)
                # A paper once per chat (topic), whichever lists or subscriptions bring it:
                # not when the chat had it before, and once when a batch has it twice.
                where.append(
                    "(ev.paper_key IS NULL OR NOT EXISTS (SELECT 1 FROM outbox o2 "
                    "JOIN events e2 ON e2.id = o2.event_id WHERE o2.chat_id = ? "
                    "AND o2.thread_id = ? AND e2.paper_key = ev.paper_key))"
                )
                params += [chat_id, thread_id]
                added += self.db.execute(
                    "INSERT OR IGNORE INTO outbox (chat_id, thread_id, event_id, "
                    "subscription_id, next_attempt) "
                    "SELECT ?, ?, min(ev.id), ?, ? FROM events ev "
                    "JOIN lists l ON l.id = ev.list_id "
                    "LEFT JOIN entries m ON m.list_id = ev.list_id AND m.identity = ev.identity "
                    f"WHERE {' AND '.join(where)} "
                    "GROUP BY coalesce(ev.paper_key, 'event ' || ev.id) ORDER BY min(ev.id)",
                    [chat_id, thread_id, sub_id, due, *params],
                ).rowcount
                self.db.execute("UPDATE subscriptions SET cursor = ? WHERE id = ?", (top, sub_id))
        return added

    def want_updates(self, chat_id: int, thread_id: int, list_name: str, words: str) -> None:
        """The subscription also gets its papers' news, from the present on."""
        with self.atomic():
            self.db.execute(
                "UPDATE subscriptions SET news_cursor = CASE WHEN updates THEN news_cursor "
                "ELSE (SELECT coalesce(max(id), 0) FROM follow_ups) END, updates = 1 "
                "WHERE chat_id = ? AND thread_id = ? AND list_name = ? AND filter = ?",
                (chat_id, thread_id, list_name, words),
            )

    def fan_out_news(self) -> int:
        """Put papers' news into the news outbox of every subscription that asked for it
        (its list's papers, matching its words by the one rule); a chat gets each once."""
        added = 0
        with self.atomic():
            top = self.db.execute("SELECT coalesce(max(id), 0) FROM follow_ups").fetchone()[0]
            subs = self.db.execute(
                "SELECT s.id, s.chat_id, s.thread_id, s.list_name, s.filter, s.news_cursor, "
                "coalesce(c.lang, s.lang, 'en') AS lang FROM subscriptions s "
                "JOIN chats c ON c.chat_id = s.chat_id "
                "WHERE s.active AND c.active AND s.updates AND s.news_cursor < ?",
                (top,),
            ).fetchall()
            for row in subs:
                where, params = ["f.id > ?", "f.id <= ?"], [row["news_cursor"], top]
                add_filters(where, params, row["list_name"])
                match_clause(where, params, match_words(row["filter"]), entry_columns("e"))
                added += self.db.execute(
                    "INSERT OR IGNORE INTO news_outbox (chat_id, thread_id, follow_up_id, "
                    "list_name, lang) SELECT ?, ?, f.id, min(l.name), ? FROM follow_ups f "
                    "JOIN entries e ON e.identity = f.identity JOIN lists l ON l.id = e.list_id "
                    f"WHERE {' AND '.join(where)} GROUP BY f.id ORDER BY f.id",
                    [row["chat_id"], row["thread_id"], row["lang"], *params],
                ).rowcount
                self.db.execute(
                    "UPDATE subscriptions SET news_cursor = ? WHERE id = ?", (top, row["id"])
                )
        return added

    def pending_news(self, now: float, limit: int = 500) -> list[NewsDelivery]:
        """News that may be sent now, oldest first."""
        rows = self.db.execute(
            "SELECT n.id, n.chat_id, n.thread_id, n.attempts, n.lang, f.id AS news_id, "
            "n.list_name AS news_list, f.identity, f.kind, f.value, f.detail, f.found_at, "
            "(SELECT e.url FROM entries e WHERE e.identity = f.identity LIMIT 1) AS url, "
            "(SELECT e.title FROM entries e WHERE e.identity = f.identity LIMIT 1) AS title "
            "FROM news_outbox n JOIN follow_ups f ON f.id = n.follow_up_id "
            "JOIN chats c ON c.chat_id = n.chat_id WHERE n.status = 'pending' "
            "AND n.next_attempt <= ? AND c.active AND c.retry_until <= ? ORDER BY n.id LIMIT ?",
            (now, now, limit),
        )
        return [
            NewsDelivery(
                id=row["id"],
                chat_id=row["chat_id"],
                thread_id=row["thread_id"],
                attempts=row["attempts"],
                news=follow_up_row(row),
                lang=row["lang"] or "en",
            )
            for row in rows
        ]

    def news_sent(self, ids: Sequence[int], now: str) -> None:
        """Record that Telegram accepted the message holding these news rows."""
        self._sent("news_outbox", ids, now)

    def news_failed(self, ids: Sequence[int], error: str, next_attempt: float, park: bool) -> None:
        """Record a failed attempt at news rows: retry at next_attempt, or park them."""
        self._failed("news_outbox", ids, error, next_attempt, park)

    def _sent(self, table: str, ids: Sequence[int], now: str) -> None:
        with self.atomic():
            self.db.executemany(
                f"UPDATE {table} SET status = 'sent', sent_at = ?, error = NULL WHERE id = ?",
                [(now, row_id) for row_id in ids],
            )

    def _failed(
        self, table: str, ids: Sequence[int], error: str, next_attempt: float, park: bool
    ) -> None:
        with self.atomic():
            self.db.executemany(
                f"UPDATE {table} SET attempts = attempts + 1, error = ?, next_attempt = ?, "
                "status = CASE WHEN ? THEN 'parked' ELSE status END WHERE id = ?",
                [(error, next_attempt, park, row_id) for row_id in ids],
            )

    def pending_deliveries(self, now: float, limit: int = 5000) -> list[Delivery]:
        """Return pending outbox rows that may be sent now, oldest first; a paper that other
        lists hold too says where ("also in")."""
        found = self.db.execute(
            "SELECT o.id, o.chat_id, o.thread_id, o.attempts, l.name, ev.identity, ev.url, "
            f"ev.title, ev.description, ev.section, ev.text_links, {CARD_COLUMNS}, "
            "coalesce(c.lang, s.lang, 'en') AS push_lang, coalesce(s.filter, '') AS push_filter, "
            "coalesce(s.mode, 'now') AS push_mode, ev.paper_key AS paper_key "
            "FROM outbox o JOIN chats c ON c.chat_id = o.chat_id "
            "JOIN events ev ON ev.id = o.event_id JOIN lists l ON l.id = ev.list_id "
            "LEFT JOIN subscriptions s ON s.id = o.subscription_id"
            f"{CARD_JOIN.format(table='ev')} "
            "WHERE o.status = 'pending' AND o.next_attempt <= ? AND c.active "
            "AND c.retry_until <= ? ORDER BY o.id LIMIT ?",
            (now, now, limit),
        )
        rows = found.fetchall()
        places = self.paper_places([row["paper_key"] for row in rows if row["paper_key"]])
        return [
            Delivery(
                row["id"],
                row["chat_id"],
                row["thread_id"],
                row["attempts"],
                row["name"],
                Entry(
                    row["identity"],
                    row["url"],
                    row["title"],
                    row["description"],
                    tuple(json.loads(row["section"])),
                    text_links=links_of(row["text_links"]),
                ),
                card_of(row)[0],
                row["push_lang"],
                row["push_filter"],
                row["push_mode"],
                also=tuple(
                    (name, section)
                    for name, section in places.get(row["paper_key"], [])
                    if name != row["name"]
                ),
            )
            for row in rows
        ]

    def paper_places(self, keys: Sequence[str]) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
        """Where each paper was added: (list, section) of every addition of it, first first."""
        found: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = self.db.execute(
                "SELECT ev.paper_key, l.name, ev.section FROM events ev "
                "JOIN lists l ON l.id = ev.list_id WHERE ev.kind = 'added' "
                f"AND ev.paper_key IN ({', '.join('?' * len(chunk))}) ORDER BY ev.id",
                chunk,
            )
            for row in rows:
                place = (row["name"], tuple(json.loads(row["section"])))
                places = found.setdefault(row["paper_key"], [])
                if place not in places:
                    places.append(place)
        return found

    def mark_sent(self, ids: Sequence[int], now: str) -> None:
        """Record that Telegram accepted the message holding these rows."""
        self._sent("outbox", ids, now)

    def mark_failed(self, ids: Sequence[int], error: str, next_attempt: float, park: bool) -> None:
        """Record a failed attempt: retry at next_attempt, or park the rows with the reason."""
        self._failed("outbox", ids, error, next_attempt, park)

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
        """Move a chat's subscriptions, settings (language, quiet hours) and pending rows to
        its new id (supergroup)."""
        with self.atomic():
            self.db.execute(
                "INSERT OR IGNORE INTO chats (chat_id, lang, quiet_start, quiet_end, utc_offset) "
                "SELECT ?, lang, quiet_start, quiet_end, utc_offset FROM chats WHERE chat_id = ?",
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

    def last_event_id(self) -> int:
        """Return the id of the newest event (0: none)."""
        row = self.db.execute("SELECT coalesce(max(id), 0) AS top FROM events").fetchone()
        top: int = row["top"]
        return top

    def outbox_counts(self) -> dict[str, int]:
        """Return how many outbox rows are in each status."""
        rows = self.db.execute("SELECT status, count(*) FROM outbox GROUP BY status")
        return dict(rows.fetchall())

    def save_query(self, kind: str, text: str, chat_id: int) -> int:
        """Keep a query server-side (callback data holds 64 bytes) for one chat; return its id."""
        with self.atomic():
            row = self.db.execute(
                "SELECT id FROM queries WHERE chat_id = ? AND kind = ? AND text = ?",
                (chat_id, kind, text),
            ).fetchone()
            if row:
                found: int = row["id"]
                return found
            new_id = self.db.execute(
                "INSERT INTO queries (kind, text, chat_id) VALUES (?, ?, ?)", (kind, text, chat_id)
            ).lastrowid
        assert new_id is not None
        return new_id

    def query_text(self, query_id: int, kind: str, chat_id: int) -> str | None:
        """Return a kept query, if it was kept for this chat."""
        row = self.db.execute(
            "SELECT text FROM queries WHERE id = ? AND kind = ? AND chat_id = ?",
            (query_id, kind, chat_id),
        ).fetchone()
        return row["text"] if row else None


def _today() -> str:
    return datetime.now(UTC).date().isoformat()
