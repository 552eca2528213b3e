"""The connection, transactions and row conversions shared by the storage mixins."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import urls
from ..errors import StorageError
from ..migrations import MIGRATIONS, apply_migrations
from ..models import (
    Card,
    Commit,
    Entry,
    FeedEvent,
    FollowUp,
    LinkHealth,
    StoredEntry,
    StoredEvent,
)
from ..query import section_text

BUSY_TIMEOUT_MS = 10_000

ENTRY_COLUMNS = (
    "e.identity, e.url, e.title, e.description, e.section, e.parents, e.parent, "
    "e.extra_links, e.occurrences, e.position, e.first_commit, e.first_date, "
    "l.name AS list_name, e.other_sections, e.text_links"
)
# What enrichment knows of an entry's URL (joined by identity; NULL when nothing yet).
CARD_COLUMNS = "k.card AS card, k.link AS link"
CARD_JOIN = " LEFT JOIN cards k ON k.identity = {table}.identity"
LIST_COLUMNS = (
    "id, name, repo, path, branch, head, status, last_error, last_sync_at, last_success_at, "
    "failing_since, backfilled_at, created_at, parser_version, meta, left_at, linked"
)
EVENT_COLUMNS = (
    "ev.id, l.name AS list_name, ev.kind, ev.identity, ev.url, ev.title, ev.description, "
    "ev.section, ev.text_links, ev.old_url, ev.old_title, ev.old_description, ev.old_section, "
    "c.sha, c.committed_at, c.author, c.summary"
)


def add_filters(
    where: list[str],
    params: list[Any],
    list_name: str | None = None,
    words: str | None = None,
    columns: Sequence[str] = (),
) -> None:
    """Append the usual conditions: the list's name (l.name), and every word of `words`
    found, case-folded, in one of `columns`."""
    if list_name:
        where.append("l.name = ?")
        params.append(list_name)
    for word in (words or "").split():
        where.append("(" + " OR ".join(f"instr(casefold({c}), ?)" for c in columns) + ")")
        params.extend([word.casefold()] * len(columns))


# The one matching rule's columns (query.match_words): an entry's own words and its card's.
MATCH_COLUMNS = ("title", "description", "section_text", "card_text")


def match_clause(
    where: list[str], params: list[Any], words: Sequence[str], columns: Sequence[str]
) -> None:
    """Append the one matching rule for case-folded `words` (query.match_words) over the
    SQL expressions of MATCH_COLUMNS, in that order (entry_columns gives an entries alias's)."""
    assert len(columns) == len(MATCH_COLUMNS)
    for word in words:
        where.append("(" + " OR ".join(f"instr({folded(c, word)}, ?)" for c in columns) + ")")
        params.extend([word] * len(columns))


def folded(column: str, word: str) -> str:
    """The SQL a column is matched in for `word`: case-folded (a Python call a row), or as it
    is when the word has no cased character (泛化, 2024): case folding never makes nor breaks
    such a word, so the match is the same, and runs in C."""
    return column if uncased(word) else f"casefold({column})"


def uncased(word: str) -> bool:
    """Tell whether no character of the word changes under case mapping."""
    return all(ch.casefold() == ch == ch.upper() == ch.lower() for ch in word)


def entry_columns(table: str) -> list[str]:
    """An entries alias's MATCH_COLUMNS."""
    return [f"{table}.{column}" for column in MATCH_COLUMNS]


def follow_up_row(row: Any) -> FollowUp:
    """A paper's news from a row naming news_id, news_list, identity, kind, value, detail,
    found_at, url and title."""
    return FollowUp(
        id=row["news_id"],
        list=row["news_list"],
        identity=row["identity"],
        url=row["url"] or "",
        title=row["title"] or row["identity"],
        kind=row["kind"],
        value=row["value"],
        detail=json.loads(row["detail"]),
        found_at=row["found_at"],
    )


def _casefold(value: str | None) -> str:
    return value.casefold() if value else ""


def _make_private(path: Path) -> None:
    """Create the database file as 0600, or narrow an existing one to 0600.

    Never open and close an existing database file here: closing any descriptor of a file
    drops every POSIX lock the process holds on it, the locks SQLite's other connections in
    this process rely on.
    """
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)


_WORD_CHARS = re.compile(r"\w+")


def title_rank(title: str | None, query: str) -> int:
    """Rank a search hit by its title: 0 the title is the query, 1 it starts with it, 2 it
    holds every word as a whole word, 3 it holds every word inside others, 4 otherwise (the
    words are in the description or the headings). `topik` must not beat `Opik` for opik."""
    title = (title or "").casefold()
    query = " ".join(query.casefold().split())
    if title == query:
        return 0
    if title.startswith(query):
        return 1
    words = query.split()
    if all(word in title for word in words):
        whole = set(_WORD_CHARS.findall(title))
        return 2 if all(word in whole for word in words) else 3
    return 4


class Connection:
    """The connection, its settings and schema, and the one place transactions begin."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            # The database holds chat ids and users' searches: only its owner may read it
            # (SQLite gives the -wal and -shm files the database file's mode).
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _make_private(self.path)
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as error:
            raise StorageError(f"database {self.path}: cannot open: {error}") from error
        self._depth = 0
        try:
            # Rows are read by column name: a column added later never shifts another.
            self.db.row_factory = sqlite3.Row
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.create_function("casefold", 1, _casefold, deterministic=True)
            self.db.create_function("title_rank", 2, title_rank, deterministic=True)
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

    def backup(self, target: Path) -> dict[str, int]:
        """Write a consistent copy of the database to `target` (which must not exist) while
        other connections and processes go on writing, and check it; return its row counts.

        SQLite's online backup API in one step: the copy is the database as one read
        transaction sees it (in WAL mode writers are not held up meanwhile), never a file
        copy that could catch a page half-written or miss what the WAL still holds."""
        try:
            _make_private(target)
            copy = sqlite3.connect(target, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise StorageError(f"backup {target}: cannot create: {error}") from error
        try:
            self.db.backup(copy)
            # One self-contained file: no -wal beside it to lose when it is moved or copied.
            copy.execute("PRAGMA journal_mode = DELETE")
            (verdict,) = copy.execute("PRAGMA integrity_check").fetchone()
            if verdict != "ok":
                raise StorageError(f"backup {target}: integrity check says {verdict}")
            return {
                table: copy.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("lists", "events", "subscriptions", "outbox")
            }
        except sqlite3.Error as error:
            raise StorageError(f"backup {target}: {error}") from error
        finally:
            copy.close()

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


def entry_values(entry: Entry) -> tuple[Any, ...]:
    """The entries columns from identity to extra_links, then other_sections, text_links."""
    text = section_text(entry.all_sections)
    return (
        entry.identity,
        entry.url,
        entry.title,
        entry.description,
        json.dumps(entry.section, ensure_ascii=False),
        text,
        json.dumps(entry.parents, ensure_ascii=False),
        entry.parent,
        json.dumps(entry.extra_links, ensure_ascii=False),
        json.dumps(entry.sections, ensure_ascii=False),
        links_json(entry.text_links),
    )


def links_json(spans: tuple[tuple[int, int, str], ...]) -> str:
    return json.dumps(spans, ensure_ascii=False) if spans else "[]"


def links_of(value: str | None) -> tuple[tuple[int, int, str], ...]:
    """Spans from a text_links column ("[]" for most rows: no JSON parse)."""
    if not value or value == "[]":
        return ()
    return tuple((int(start), int(end), str(url)) for start, end, url in json.loads(value))


def _strings(value: str) -> tuple[Any, ...]:
    """A JSON array column as a tuple ("[]", most rows' value, without a JSON parse: a sync
    that is not warm reads every entry of the list)."""
    return () if value == "[]" else tuple(json.loads(value))


def entry_row(row: sqlite3.Row) -> Entry:
    """An Entry from a row of ENTRY_COLUMNS."""
    return Entry(
        identity=row["identity"],
        url=row["url"],
        title=row["title"],
        description=row["description"],
        section=_strings(row["section"]),
        parents=_strings(row["parents"]),
        parent=row["parent"],
        extra_links=_strings(row["extra_links"]),
        occurrences=row["occurrences"],
        sections=tuple(map(tuple, _strings(row["other_sections"]))),
        text_links=links_of(row["text_links"]),
    )


def card_of(row: sqlite3.Row) -> tuple[Card | None, LinkHealth | None]:
    """The card and link health of a row with CARD_COLUMNS."""
    card = Card.from_json(json.loads(row["card"])) if row["card"] else None
    link = LinkHealth.from_json(json.loads(row["link"])) if row["link"] else None
    return card, link


def stored_entry_row(row: sqlite3.Row) -> StoredEntry:
    """A StoredEntry from a row of ENTRY_COLUMNS (and CARD_COLUMNS, when selected)."""
    # Row.keys(): `in` on a Row looks at its values, not its columns.
    card, link = card_of(row) if "card" in row.keys() else (None, None)  # noqa: SIM118
    return StoredEntry(
        list=row["list_name"],
        entry=entry_row(row),
        position=row["position"],
        first_commit=row["first_commit"],
        first_date=row["first_date"],
        card=card,
        link=link,
    )


def feed_event_row(row: sqlite3.Row) -> FeedEvent:
    url, title, description, section = row["url"], row["title"], row["description"], row["section"]
    updated, links = row["committed_at"], row["text_links"]
    if row["edited"] is not None:
        url, title, description, section, updated, links = json.loads(row["edited"])
    entry = Entry(
        row["identity"], url, title, description, tuple(json.loads(section)),
        text_links=links_of(links),
    )  # fmt: skip
    commit = Commit(row["sha"], row["committed_at"], row["author"], row["summary"])
    card, link = card_of(row)
    return FeedEvent(
        row["id"], row["list_name"], row["repo"], row["kind"], row["kind_seq"], entry, commit,
        updated, card, link,
    )  # fmt: skip


def event_row(row: sqlite3.Row) -> StoredEvent:
    entry = Entry(
        row["identity"], row["url"], row["title"], row["description"],
        tuple(json.loads(row["section"])), text_links=links_of(row["text_links"]),
    )  # fmt: skip
    old = None
    if row["old_url"] is not None:
        old = Entry(
            urls.identity(row["old_url"]),
            row["old_url"],
            row["old_title"],
            row["old_description"],
            tuple(json.loads(row["old_section"])),
        )
    commit = Commit(row["sha"], row["committed_at"], row["author"], row["summary"])
    # Row.keys(): `in` on a Row looks at its values, not its columns.
    card, link = card_of(row) if "card" in row.keys() else (None, None)  # noqa: SIM118
    return StoredEvent(row["id"], row["list_name"], row["kind"], entry, old, commit, card, link)
