"""Kill a backfill at random moments; the rerun must give exactly the uninterrupted events."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import fast_import

from dltbot.storage import Storage
from dltbot.sync import BATCH_COMMITS


def history(count: int) -> list[str]:
    """Versions that add, edit, move and remove entries, all under one big heading."""
    rng = random.Random(7)
    live: dict[int, str] = {}
    versions = []
    for step in range(count):
        live[step] = f"note {step}"
        if step % 7 == 3 and len(live) > 5:
            del live[rng.choice(sorted(live))]
        if step % 11 == 5:
            key = rng.choice(sorted(live))
            live[key] = f"edited at {step}"
        lines = ["# List\n\n## All\n\n"]
        lines += [f"- [Item {k}](https://e.org/{k}) {v}\n" for k, v in sorted(live.items())]
        if step % 13 == 0:
            lines.append("\n## Moved\n\n- [Item 0](https://e.org/0) note 0\n")
        versions.append("".join(lines))
    return versions


def sync(repo: Path, db: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dltbot.cli", "sync", "--repo", str(repo), "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def processed(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT count(*) FROM commits").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0  # not created yet


def events(db: Path) -> list[tuple[str, str, str, str, tuple[str, ...], str]]:
    with Storage(db) as storage:
        return [
            (e.kind, e.entry.identity, e.entry.title, e.entry.description, e.entry.section,
             e.commit.sha)
            for e in storage.events()
        ]  # fmt: skip


def test_killed_backfill_resumes_to_the_same_events(tmp_path: Path) -> None:
    total = 400
    repo = tmp_path / "repo"
    fast_import(repo, history(total))
    reference = tmp_path / "reference.sqlite3"
    assert sync(repo, reference).wait(timeout=300) == 0
    expected = events(reference)
    assert len(expected) > total

    db = tmp_path / "killed.sqlite3"
    kills = []
    # 20 kills at random moments of the backfill (commits are stored in batches of up to
    # sync.BATCH_COMMITS: the last kills leave room for two batches after them).
    for threshold in range(5, total - 2 * BATCH_COMMITS, 15):
        process = sync(repo, db)
        deadline = time.monotonic() + 120
        while processed(db) < threshold and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.002)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills.append(processed(db))
    # The kills landed mid-backfill (not after it ended), and each resumed further on.
    assert len(kills) >= 15 and all(0 < k < total for k in kills), kills
    assert sync(repo, db).wait(timeout=300) == 0
    assert processed(db) == total
    assert events(db) == expected
    assert os.path.getsize(db) > 0
