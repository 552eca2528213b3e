"""`dltbot backup`: a consistent copy of a database that is being written, and its restore."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from conftest import GitRepo

from dltbot.models import ListSource
from dltbot.storage import Storage
from dltbot.sync import sync_list


def backup(db: Path, target: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dltbot.cli", "backup", str(target), "--db", str(db), *options],
        capture_output=True, text=True,
    )  # fmt: skip


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return [tuple(row) for row in conn.execute(sql)]


def version(n: int) -> str:
    return "# L\n\n## Papers\n\n" + "".join(
        f"- [Paper {i}](https://p{i}.org) about topic {i % 3}\n" for i in range(n)
    )


def test_a_backup_taken_during_syncs_and_pushes_restores_a_consistent_database(
    repo: GitRepo, tmp_path: Path
) -> None:
    db, clones = tmp_path / "db.sqlite3", tmp_path / "clones"
    source = ListSource("l", str(repo.path))
    repo.commit({"README.md": version(3)}, "start")
    with Storage(db) as storage:
        sync_list(storage, source, clones)
        for chat in range(1, 6):
            storage.subscribe(chat, 0, "l", "" if chat % 2 else "topic")
    stop = threading.Event()
    rounds = [0]

    def writer() -> None:  # a sync and a fan-out to the outbox, again and again
        with Storage(db) as storage:
            while not stop.is_set():
                rounds[0] += 1
                repo.commit({"README.md": version(3 + rounds[0])}, f"round {rounds[0]}")
                sync_list(storage, source, clones)
                storage.fan_out()
                storage.subscribe(100 + rounds[0], 0, "", "")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while rounds[0] < 3:  # well into the writes
            stop.wait(0.01)
        result = backup(db, tmp_path / "copy.sqlite3")
        started = rounds[0]
        while rounds[0] < started + 2:  # and some more after it
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join(30)
    assert result.returncode == 0, result.stderr
    assert "integrity ok" in result.stdout and "to restore: stop dltbot" in result.stdout
    copy = tmp_path / "copy.sqlite3"
    assert rows(copy, "PRAGMA integrity_check") == [("ok",)]
    assert rows(copy, "PRAGMA journal_mode") == [("delete",)]  # one file, no -wal needed
    assert copy.stat().st_mode & 0o777 == 0o600
    assert rows(db, "SELECT count(*) FROM events") > rows(copy, "SELECT count(*) FROM events")

    # What the copy holds is the source at one moment: events and outbox rows are never
    # rewritten, so the copy's are exactly the source's of the same ids, with no gaps.
    for table in ("events", "outbox", "subscriptions"):
        copied = rows(copy, f"SELECT * FROM {table} ORDER BY id")
        assert copied, table
        assert [row[0] for row in copied] == list(range(1, len(copied) + 1)), table
        if table != "subscriptions":  # (a cursor moves on)
            assert copied == rows(db, f"SELECT * FROM {table} ORDER BY id LIMIT {len(copied)}")
    # The list's head is the commit of its last event: no sync was caught half-recorded.
    head = rows(copy, "SELECT head FROM lists")[0][0]
    last = rows(copy, "SELECT commit_sha FROM events ORDER BY id DESC LIMIT 1")[0][0]
    assert head == last
    # Each subscription's cursor moved with the rows it produced: a fan-out on the
    # restored copy has nothing left to add up to the cursors, and then adds exactly what
    # the source added for the same events.
    top = rows(copy, "SELECT max(id) FROM events")[0][0]
    with Storage(copy) as restored:
        restored.fan_out()
    pairs = "SELECT chat_id, event_id FROM outbox WHERE event_id <= {top} AND chat_id < 100 ORDER BY 1, 2"
    assert rows(copy, pairs.format(top=top)) == rows(db, pairs.format(top=top))


def test_backup_refuses_to_overwrite_without_force(repo: GitRepo, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    repo.commit({"README.md": version(2)}, "start")
    with Storage(db) as storage:
        sync_list(storage, ListSource("l", str(repo.path)), tmp_path / "clones")
    target = tmp_path / "copy.sqlite3"
    target.write_text("an older backup")
    refused = backup(db, target)
    assert refused.returncode == 1 and "exists; add --force" in refused.stderr
    assert target.read_text() == "an older backup"
    assert backup(db, tmp_path).returncode == 1  # a directory
    assert backup(tmp_path / "nope.sqlite3", tmp_path / "x.sqlite3").returncode == 1
    assert not (tmp_path / "x.sqlite3").exists()
    forced = backup(db, target, "--force")
    assert forced.returncode == 0, forced.stderr
    assert rows(target, "SELECT name FROM lists") == [("l",)]
    assert not (tmp_path / "copy.sqlite3.partial").exists()
