"""Schema migrations: an ordered list; each runs with its version bump in one transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Run SQL statements one by one (executescript would commit our transaction first)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            db.execute(buffer)
            buffer = ""


def _m001_initial(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        CREATE TABLE lists (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            repo TEXT NOT NULL,
            path TEXT,                     -- the list file, as found in the repository
            branch TEXT,                   -- the tracked branch, as resolved
            head TEXT,                     -- the last commit fully processed
            status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'ok', 'failing')),
            last_error TEXT,
            last_sync_at TEXT,
            last_success_at TEXT,
            failing_since TEXT,
            backfilled_at TEXT             -- when the first sync's history walk ended
        );
        CREATE TABLE commits (
            list_id INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
            sha TEXT NOT NULL,
            committed_at TEXT NOT NULL,
            author TEXT NOT NULL,
            summary TEXT NOT NULL,
            PRIMARY KEY (list_id, sha)
        ) WITHOUT ROWID;
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            list_id INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
            identity TEXT NOT NULL,
            url TEXT NOT NULL,
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            section TEXT NOT NULL,         -- JSON array of headings
            section_text TEXT NOT NULL,    -- the same, joined with ' > ', for search
            parents TEXT NOT NULL,         -- JSON array of link-less parent item labels
            parent TEXT,                   -- identity of the parent entry
            extra_links TEXT NOT NULL,     -- JSON array
            position INTEGER NOT NULL,
            occurrences INTEGER NOT NULL,
            first_commit TEXT NOT NULL,
            first_date TEXT NOT NULL,
            UNIQUE (list_id, identity)
        );
        CREATE INDEX entries_list_position ON entries (list_id, position);
        CREATE TABLE seen (
            list_id INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
            identity TEXT NOT NULL,
            first_commit TEXT NOT NULL,
            first_date TEXT NOT NULL,
            PRIMARY KEY (list_id, identity)
        ) WITHOUT ROWID;
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            list_id INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
            kind TEXT NOT NULL
                CHECK (kind IN ('added', 'changed', 'moved', 'removed', 'restored')),
            identity TEXT NOT NULL,
            url TEXT NOT NULL,
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            section TEXT NOT NULL,
            old_url TEXT,
            old_title TEXT,
            old_description TEXT,
            old_section TEXT,
            commit_sha TEXT NOT NULL,
            committed_at TEXT NOT NULL
        );
        CREATE INDEX events_list_kind ON events (list_id, kind, id);
        CREATE INDEX events_kind ON events (kind, id);
        CREATE VIRTUAL TABLE entries_fts USING fts5 (
            title, description, section_text,
            content = 'entries', content_rowid = 'id', tokenize = 'trigram'
        );
        CREATE TRIGGER entries_ai AFTER INSERT ON entries BEGIN
            INSERT INTO entries_fts (rowid, title, description, section_text)
            VALUES (new.id, new.title, new.description, new.section_text);
        END;
        CREATE TRIGGER entries_ad AFTER DELETE ON entries BEGIN
            INSERT INTO entries_fts (entries_fts, rowid, title, description, section_text)
            VALUES ('delete', old.id, old.title, old.description, old.section_text);
        END;
        CREATE TRIGGER entries_au AFTER UPDATE OF title, description, section_text ON entries
        BEGIN
            INSERT INTO entries_fts (entries_fts, rowid, title, description, section_text)
            VALUES ('delete', old.id, old.title, old.description, old.section_text);
            INSERT INTO entries_fts (rowid, title, description, section_text)
            VALUES (new.id, new.title, new.description, new.section_text);
        END;
        """,
    )


def _m002_event_sequence(db: sqlite3.Connection) -> None:
    # Feed entry ids are built from list, identity, kind and this number (the n-th "changed"
    # of one entry): stable across re-syncs and rebuilds, unlike row ids or commit shas.
    run_script(
        db,
        """
        ALTER TABLE events ADD COLUMN kind_seq INTEGER NOT NULL DEFAULT 1;
        UPDATE events SET kind_seq = (
            SELECT count(*) FROM events e2
            WHERE e2.list_id = events.list_id AND e2.identity = events.identity
              AND e2.kind = events.kind AND e2.id <= events.id
        );
        CREATE INDEX events_identity ON events (list_id, identity, kind, id);
        """,
    )


def _m003_telegram(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- Events up to this id are the list's first backfill: history, not news to push.
        ALTER TABLE lists ADD COLUMN backfill_last_event INTEGER;
        UPDATE lists SET backfill_last_event = (
            SELECT coalesce(max(id), 0) FROM events WHERE events.list_id = lists.id
        ) WHERE backfilled_at IS NOT NULL;
        CREATE TABLE chats (
            chat_id INTEGER PRIMARY KEY,
            lang TEXT,                               -- 'en' or 'zh' chosen with /lang
            retry_until REAL NOT NULL DEFAULT 0,     -- a RetryAfter, remembered (unix time)
            active INTEGER NOT NULL DEFAULT 1,
            reason TEXT                              -- why it was deactivated
        );
        CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            thread_id INTEGER NOT NULL DEFAULT 0,    -- forum topic; 0 for none
            list_name TEXT NOT NULL DEFAULT '',      -- '' for every list
            filter TEXT NOT NULL DEFAULT '',         -- words a section or entry must hold
            cursor INTEGER NOT NULL,                 -- the last event id fanned out
            active INTEGER NOT NULL DEFAULT 1,
            origin TEXT NOT NULL DEFAULT 'user' CHECK (origin IN ('user', 'config')),
            UNIQUE (chat_id, thread_id, list_name, filter)
        );
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            thread_id INTEGER NOT NULL DEFAULT 0,
            event_id INTEGER NOT NULL REFERENCES events (id),
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'dropped', 'parked')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt REAL NOT NULL DEFAULT 0,
            error TEXT,
            sent_at TEXT,
            -- An addition goes to a chat (topic) once, however many subscriptions match it.
            UNIQUE (chat_id, thread_id, event_id)
        );
        CREATE INDEX outbox_pending ON outbox (status, chat_id, id);
        CREATE TABLE queries (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            text TEXT NOT NULL
        );
        """,
    )


def _m004_query_owner(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- A kept query belongs to the chat it was asked in: a button pressed in another chat
        -- (forged callback data) finds nothing.
        ALTER TABLE queries ADD COLUMN chat_id INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX queries_by_chat ON queries (chat_id, kind, text);
        """,
    )


def _m005_list_created(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- When the list was first configured: an empty feed's date (not 1970).
        ALTER TABLE lists ADD COLUMN created_at TEXT;
        UPDATE lists SET created_at = coalesce(
            (SELECT min(committed_at) FROM commits WHERE commits.list_id = lists.id),
            last_sync_at, strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'));
        """,
    )


def _m006_entry_sections(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- JSON array of the heading paths of a URL's other occurrences; section_text holds
        -- them too (after " | "), so a search by any of its sections finds the entry.
        ALTER TABLE entries ADD COLUMN other_sections TEXT NOT NULL DEFAULT '[]';
        """,
    )


def _m007_events_by_date(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- Documents of several lists put the newest addition first by its date in UTC:
        -- julianday() reads the offset, and this index serves that order without a sort.
        CREATE INDEX events_kind_date ON events (kind, julianday(committed_at));
        """,
    )


def _m008_cards(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- What enrichment knows of a URL (keyed by identity: lists sharing a URL share it).
        CREATE TABLE cards (
            identity TEXT PRIMARY KEY,
            url TEXT NOT NULL,                  -- the URL as last fetched
            card TEXT,                          -- JSON (models.Card); NULL: none found
            search_text TEXT NOT NULL DEFAULT '',  -- authors, abstract, …: for search
            link TEXT,                          -- JSON (models.LinkHealth); NULL: unchecked
            fetched_at REAL NOT NULL DEFAULT 0, -- when the card was fetched (unix time)
            next_check REAL NOT NULL DEFAULT 0, -- when to look again
            hard_count INTEGER NOT NULL DEFAULT 0,  -- consecutive hard answers (404, 410, …)
            hard_last REAL NOT NULL DEFAULT 0,      -- when the last counted one came
            failures INTEGER NOT NULL DEFAULT 0,    -- consecutive errors (backoff)
            etag TEXT,
            last_modified TEXT,
            changed_at REAL NOT NULL DEFAULT 0  -- card or link last changed: pages re-render
        ) WITHOUT ROWID;
        CREATE INDEX cards_due ON cards (next_check);
        -- A card reaches every list's entry of its URL (UPDATE … WHERE identity = ?).
        CREATE INDEX entries_identity ON entries (identity);
        -- The card's text joins the entry's in the search index, weighted below the title.
        ALTER TABLE entries ADD COLUMN card_text TEXT NOT NULL DEFAULT '';
        DROP TRIGGER entries_ai;
        DROP TRIGGER entries_ad;
        DROP TRIGGER entries_au;
        DROP TABLE entries_fts;
        CREATE VIRTUAL TABLE entries_fts USING fts5 (
            title, description, section_text, card_text,
            content = 'entries', content_rowid = 'id', tokenize = 'trigram'
        );
        CREATE TRIGGER entries_ai AFTER INSERT ON entries BEGIN
            INSERT INTO entries_fts (rowid, title, description, section_text, card_text)
            VALUES (new.id, new.title, new.description, new.section_text, new.card_text);
        END;
        CREATE TRIGGER entries_ad AFTER DELETE ON entries BEGIN
            INSERT INTO entries_fts (entries_fts, rowid, title, description, section_text,
                                     card_text)
            VALUES ('delete', old.id, old.title, old.description, old.section_text,
                    old.card_text);
        END;
        CREATE TRIGGER entries_au AFTER UPDATE OF title, description, section_text, card_text
        ON entries BEGIN
            INSERT INTO entries_fts (entries_fts, rowid, title, description, section_text,
                                     card_text)
            VALUES ('delete', old.id, old.title, old.description, old.section_text,
                    old.card_text);
            INSERT INTO entries_fts (rowid, title, description, section_text, card_text)
            VALUES (new.id, new.title, new.description, new.section_text, new.card_text);
        END;
        INSERT INTO entries_fts (entries_fts) VALUES ('rebuild');
        """,
    )


def _m009_text_links(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- The links inside a description: JSON [[start, end, url], …] spans of it.
        ALTER TABLE entries ADD COLUMN text_links TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE events ADD COLUMN text_links TEXT NOT NULL DEFAULT '[]';
        -- The parser version the list's entries were read with (0: before versions): a newer
        -- parser re-reads the head silently before diffing new commits.
        ALTER TABLE lists ADD COLUMN parser_version INTEGER NOT NULL DEFAULT 0;
        -- 1 while a list's first backfill runs: its entries are indexed for search once, at
        -- the end, instead of on every commit of its history.
        ALTER TABLE lists ADD COLUMN index_pending INTEGER NOT NULL DEFAULT 0;
        DROP TRIGGER entries_ai;
        DROP TRIGGER entries_ad;
        DROP TRIGGER entries_au;
        CREATE TRIGGER entries_ai AFTER INSERT ON entries
        WHEN (SELECT index_pending FROM lists WHERE id = new.list_id) = 0 BEGIN
            INSERT INTO entries_fts (rowid, title, description, section_text, card_text)
            VALUES (new.id, new.title, new.description, new.section_text, new.card_text);
        END;
        CREATE TRIGGER entries_ad AFTER DELETE ON entries
        WHEN (SELECT index_pending FROM lists WHERE id = old.list_id) = 0 BEGIN
            INSERT INTO entries_fts (entries_fts, rowid, title, description, section_text,
                                     card_text)
            VALUES ('delete', old.id, old.title, old.description, old.section_text,
                    old.card_text);
        END;
        CREATE TRIGGER entries_au AFTER UPDATE OF title, description, section_text, card_text
        ON entries WHEN (SELECT index_pending FROM lists WHERE id = new.list_id) = 0 BEGIN
            INSERT INTO entries_fts (entries_fts, rowid, title, description, section_text,
                                     card_text)
            VALUES ('delete', old.id, old.title, old.description, old.section_text,
                    old.card_text);
            INSERT INTO entries_fts (rowid, title, description, section_text, card_text)
            VALUES (new.id, new.title, new.description, new.section_text, new.card_text);
        END;
        """,
    )


def _m010_hub_pings(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- WebSub publish pings waiting for the hub, kept like the outbox: a restart resumes
        -- them, a hub that keeps refusing parks them with its answer.
        CREATE TABLE hub_pings (
            id INTEGER PRIMARY KEY,
            hub TEXT NOT NULL,
            url TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',  -- pending, parked
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt REAL NOT NULL DEFAULT 0,  -- unix time
            error TEXT,
            queued_at TEXT NOT NULL
        );
        -- A feed waiting for its ping is not queued twice.
        CREATE UNIQUE INDEX hub_pings_waiting ON hub_pings (hub, url) WHERE status = 'pending';
        """,
    )


def _m011_subscription_options(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- The language pushes are written in: the chat's /lang, else the language of the
        -- user who subscribed (NULL: English).
        ALTER TABLE subscriptions ADD COLUMN lang TEXT;
        -- 'now' (each addition as it comes), 'daily' or 'weekly' (held for a digest).
        ALTER TABLE subscriptions ADD COLUMN mode TEXT NOT NULL DEFAULT 'now';
        -- 1: additions that come during the chat's quiet hours wait until they end.
        ALTER TABLE subscriptions ADD COLUMN quiet INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE subscriptions ADD COLUMN created_at TEXT;
        -- The chat's quiet hours (local hours, end exclusive) and its offset from UTC.
        ALTER TABLE chats ADD COLUMN quiet_start INTEGER NOT NULL DEFAULT 22;
        ALTER TABLE chats ADD COLUMN quiet_end INTEGER NOT NULL DEFAULT 8;
        ALTER TABLE chats ADD COLUMN utc_offset INTEGER NOT NULL DEFAULT 0;  -- minutes
        -- Which subscription put the row there (its language, filter and mode).
        ALTER TABLE outbox ADD COLUMN subscription_id INTEGER;
        """,
    )


def _m012_folded_search_index(db: sqlite3.Connection) -> None:
    # The one matching rule (query.py): every word, case-folded, a substring of the entry's
    # title, description, headings or card. The trigram index now holds the case-folded text,
    # so a trigram match is never narrower than the rule (it was for "STRASSE" in "Straße"):
    # search uses it to find candidates and the rule to decide, as subscriptions do.
    run_script(
        db,
        """
        DROP TRIGGER entries_ai;
        DROP TRIGGER entries_ad;
        DROP TRIGGER entries_au;
        CREATE TRIGGER entries_ai AFTER INSERT ON entries
        WHEN (SELECT index_pending FROM lists WHERE id = new.list_id) = 0 BEGIN
            INSERT INTO entries_fts (rowid, title, description, section_text, card_text)
            VALUES (new.id, casefold(new.title), casefold(new.description),
                    casefold(new.section_text), casefold(new.card_text));
        END;
        CREATE TRIGGER entries_ad AFTER DELETE ON entries
        WHEN (SELECT index_pending FROM lists WHERE id = old.list_id) = 0 BEGIN
            INSERT INTO entries_fts (entries_fts, rowid, title, description, section_text,
                                     card_text)
            VALUES ('delete', old.id, casefold(old.title), casefold(old.description),
                    casefold(old.section_text), casefold(old.card_text));
        END;
        CREATE TRIGGER entries_au AFTER UPDATE OF title, description, section_text, card_text
        ON entries WHEN (SELECT index_pending FROM lists WHERE id = new.list_id) = 0 BEGIN
            INSERT INTO entries_fts (entries_fts, rowid, title, description, section_text,
                                     card_text)
            VALUES ('delete', old.id, casefold(old.title), casefold(old.description),
                    casefold(old.section_text), casefold(old.card_text));
            INSERT INTO entries_fts (rowid, title, description, section_text, card_text)
            VALUES (new.id, casefold(new.title), casefold(new.description),
                    casefold(new.section_text), casefold(new.card_text));
        END;
        INSERT INTO entries_fts (entries_fts) VALUES ('delete-all');
        INSERT INTO entries_fts (rowid, title, description, section_text, card_text)
        SELECT e.id, casefold(e.title), casefold(e.description),
                    casefold(e.section_text), casefold(e.card_text)
        FROM entries e JOIN lists l ON l.id = e.list_id WHERE l.index_pending = 0;
        """,
    )


def _m013_event_papers(db: sqlite3.Connection) -> None:
    # The paper an event's link names (papers.url_paper_key): a chat gets a paper once,
    # whichever lists bring it, and the all-lists feed shows it once.
    from .papers import url_paper_key

    db.execute("ALTER TABLE events ADD COLUMN paper_key TEXT")
    rows = db.execute("SELECT id, url FROM events").fetchall()
    db.executemany(
        "UPDATE events SET paper_key = ? WHERE id = ?",
        [(key, row[0]) for row in rows if (key := url_paper_key(row[1]))],
    )
    db.execute("CREATE INDEX events_paper ON events (paper_key, id) WHERE paper_key IS NOT NULL")


def _m014_follow_ups(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- News of a paper from its records (papers.follow_ups), never from a list's commits:
        -- a new arXiv version, a published version, a code repository. Each said once.
        CREATE TABLE follow_ups (
            id INTEGER PRIMARY KEY,
            identity TEXT NOT NULL,            -- the entries' identity (every list's)
            kind TEXT NOT NULL CHECK (kind IN ('revised', 'published', 'code')),
            value TEXT NOT NULL,               -- the version, the DOI, the repository
            detail TEXT NOT NULL,              -- JSON
            found_at TEXT NOT NULL,
            UNIQUE (identity, kind, value)
        );
        CREATE INDEX follow_ups_identity ON follow_ups (identity, id);
        """,
    )


def _m015_news_subscriptions(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- A subscription that asked for its papers' news (`/subscribe … +updates`), and the
        -- last follow-up it was given (it starts from the present, like additions).
        ALTER TABLE subscriptions ADD COLUMN updates INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE subscriptions ADD COLUMN news_cursor INTEGER NOT NULL DEFAULT 0;
        -- News waiting for a chat, kept as the outbox keeps additions.
        CREATE TABLE news_outbox (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            thread_id INTEGER NOT NULL DEFAULT 0,
            follow_up_id INTEGER NOT NULL REFERENCES follow_ups (id),
            list_name TEXT NOT NULL,
            lang TEXT,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'parked')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt REAL NOT NULL DEFAULT 0,
            error TEXT,
            sent_at TEXT,
            UNIQUE (chat_id, thread_id, follow_up_id)
        );
        CREATE INDEX news_outbox_pending ON news_outbox (status, chat_id, id);
        """,
    )


def _m016_lists_of_lists(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        -- A list that came from a list of lists (lists_from): the one it came from, and when
        -- it left it (no longer polled; its history stays).
        ALTER TABLE lists ADD COLUMN meta TEXT;
        ALTER TABLE lists ADD COLUMN left_at TEXT;
        -- A list of lists: how many repositories it linked when last read.
        ALTER TABLE lists ADD COLUMN linked INTEGER;
        CREATE INDEX lists_meta ON lists (meta) WHERE meta IS NOT NULL;
        """,
    )


MIGRATIONS: list[Migration] = [
    _m001_initial,
    _m002_event_sequence,
    _m003_telegram,
    _m004_query_owner,
    _m005_list_created,
    _m006_entry_sections,
    _m007_events_by_date,
    _m008_cards,
    _m009_text_links,
    _m010_hub_pings,
    _m011_subscription_options,
    _m012_folded_search_index,
    _m013_event_papers,
    _m014_follow_ups,
    _m015_news_subscriptions,
    _m016_lists_of_lists,
]


def apply_migrations(db: sqlite3.Connection) -> int:
    """Bring the schema up to date; return the version it had. The caller refuses newer ones."""
    start: int = db.execute("PRAGMA user_version").fetchone()[0]
    for version, migration in enumerate(MIGRATIONS[start:], start=start + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            migration(db)
            db.execute(f"PRAGMA user_version = {version}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return start
