"""The SQLite database: schema, migrations, search and random, on real files."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from dltbot.errors import StorageError
from dltbot.migrations import MIGRATIONS
from dltbot.models import Commit, Entry, Event
from dltbot.storage import Storage

COMMIT = Commit("c" * 40, "2024-05-01T10:00:00+08:00", "Ada", "add papers")


def fill(storage: Storage, entries: list[Entry], name: str = "dlt") -> None:
    state = storage.ensure_list(name, f"https://example.org/{name}")
    with storage.atomic():
        storage.record_commit(
            state.id,
            COMMIT,
            [Event("added", e) for e in entries],
            list(enumerate(entries)),
            (),
            None,
        )


PAPERS = [
    Entry(
        "a.org/1", "https://a.org/1", "Generalization bounds", "泛化误差的上界", ("理论", "泛化")
    ),
    Entry(
        "a.org/2",
        "https://a.org/2",
        "深度学习的几何学解释",
        "optimal transport view",
        ("Geometry",),
    ),
    Entry("a.org/3", "https://a.org/3", "Adam", "optimizer; generalization is discussed", ("Opt",)),
    Entry("a.org/4", "https://a.org/4", 'Quotes "and" NEAR(x) *stars* -minus a:b', "", ("Misc",)),
]


def test_schema_is_created_whole(tmp_path: Path) -> None:
    Storage(tmp_path / "db.sqlite3").close()
    db = sqlite3.connect(tmp_path / "db.sqlite3")
    names = [row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') "
        "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'entries_fts_%' ORDER BY name"
    )]  # fmt: skip
    assert names == [
        "cards",
        "chats",
        "commits",
        "entries",
        "entries_ad",
        "entries_ai",
        "entries_au",
        "entries_fts",
        "events",
        "follow_ups",
        "hub_pings",
        "lists",
        "news_outbox",
        "outbox",
        "queries",
        "seen",
        "subscriptions",
    ]
    assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StorageError, match="newer than this dltbot"):
        Storage(path)


def test_older_schema_is_migrated_and_data_kept(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with Storage(path) as storage:
        fill(storage, PAPERS[:1])
    with Storage(path) as storage:  # opening again runs no migration twice
        assert [s.entry for s in storage.entries("dlt")] == PAPERS[:1]


def test_failed_transaction_leaves_nothing(storage: Storage) -> None:
    state = storage.ensure_list("dlt", "x")
    with pytest.raises(RuntimeError), storage.atomic():
        storage.record_commit(
            state.id, COMMIT, [Event("added", PAPERS[0])], [(0, PAPERS[0])], (), None
        )
        raise RuntimeError("killed mid-commit")
    assert storage.events() == []
    assert storage.entries("dlt") == []
    assert storage.list_state("dlt") == state


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("泛化", ["Generalization bounds"]),  # two characters: below the trigram size
        ("几何", ["深度学习的几何学解释"]),
        ("generalization", ["Generalization bounds", "Adam"]),  # title hit first
        ("GENERAL 泛化", ["Generalization bounds"]),
        ("geometry", ["深度学习的几何学解释"]),  # heading
        ('"and"', ['Quotes "and" NEAR(x) *stars* -minus a:b']),
        ("NEAR(x)", ['Quotes "and" NEAR(x) *stars* -minus a:b']),
        ("*", ['Quotes "and" NEAR(x) *stars* -minus a:b']),
        ("-minus", ['Quotes "and" NEAR(x) *stars* -minus a:b']),
        ("a:b", ['Quotes "and" NEAR(x) *stars* -minus a:b']),
        ('"', ['Quotes "and" NEAR(x) *stars* -minus a:b']),
        ("AND OR NOT", []),
        ("nothing-like-this", []),
        ("   ", []),
    ],
)
def test_search(storage: Storage, query: str, titles: list[str]) -> None:
    fill(storage, PAPERS)
    assert [r.entry.title for r in storage.search(query)] == titles


def test_search_result_says_list_section_and_date(storage: Storage) -> None:
    fill(storage, PAPERS)
    fill(storage, [PAPERS[2]], name="other")
    results = storage.search("adam")
    assert [(r.list, r.entry.section, r.first_date, r.first_commit) for r in results] == [
        ("dlt", ("Opt",), COMMIT.date, COMMIT.sha),
        ("other", ("Opt",), COMMIT.date, COMMIT.sha),
    ]
    assert [r.list for r in storage.search("adam", list_name="other")] == ["other"]


def test_random_is_uniform_and_filters_by_section(storage: Storage) -> None:
    fill(storage, PAPERS)
    counts = Counter(
        storage.random_entry().entry.title
        for _ in range(4000)  # type: ignore[union-attr]
    )
    assert set(counts) == {e.title for e in PAPERS}
    assert min(counts.values()) > 800  # expected 1000 each; 800 is > 6 sigma away
    picked = storage.random_entry(section="泛化")
    assert picked is not None and picked.entry.title == "Generalization bounds"
    assert storage.random_entry(section="no such heading") is None
    assert storage.random_entry(list_name="missing") is None
