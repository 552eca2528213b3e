"""Text output of the command line: nothing a list holds can drive the terminal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import GitRepo

from dltbot.models import ListSource
from dltbot.storage import Storage
from dltbot.sync import sync_list

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dltbot.cli", *args], capture_output=True, text=True
    )


def test_events_search_and_lists_print_no_terminal_controls(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": "## S\n\n- [Title](https://t.example.org) desc\n"}, "start")
    db = tmp_path / "db.sqlite3"
    with Storage(db) as storage:
        sync_list(storage, ListSource("l", str(repo.path)), tmp_path / "clones")
        # Rows as a database written before ingest cleaned text could hold them.
        storage.db.execute("UPDATE events SET title = ?, url = ?", (f"Ti{ESCAPES}tle",
                           f"https://t.example.org/{ESCAPES}"))  # fmt: skip
        storage.db.execute("UPDATE entries SET title = ?, description = ?",
                           (f"Ti{ESCAPES}tle", f"d{ESCAPES}"))  # fmt: skip
        storage.db.execute("UPDATE lists SET last_error = ?", (f"bad{ESCAPES}",))
    for args in (["events"], ["search", "ti"], ["lists"], ["random"]):
        result = run(*args, "--db", str(db))
        assert result.returncode == 0, result.stderr
        for ch in "\x1b\x07\x9b\u202e":
            assert ch not in result.stdout, (args, result.stdout)
        assert "\\x1b" in result.stdout or "\\u202e" in result.stdout  # shown, escaped
    for args in (["events", "--json"], ["search", "ti", "--json"]):
        result = run(*args, "--db", str(db))
        line = result.stdout.splitlines()[0]
        assert "\x1b" not in line and "\x9b" not in line and "\u202e" not in line
        assert "Ti" in json.loads(line)["title"]
