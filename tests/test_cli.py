"""The dltbot command, run as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GitRepo

V1 = "# Awesome DL\n\n## 泛化 Generalization\n\n- [Bounds](https://arxiv.org/pdf/1.pdf) 泛化误差\n"
V2 = V1 + "\n## Optimization\n\n- [Adam](https://arxiv.org/abs/1412.6980) optimizer\n"


def dltbot(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dltbot.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.fixture
def synced(repo: GitRepo, tmp_path: Path) -> tuple[Path, list[str]]:
    shas = [repo.commit({"README.md": V1}, "first"), repo.commit({"README.md": V2}, "second")]
    db = tmp_path / "data" / "db.sqlite3"
    result = dltbot("sync", "--repo", str(repo.path), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "list upstream synced: 2 new commits, events: 2 added" in result.stderr
    return db, shas


def test_events_json(synced: tuple[Path, list[str]]) -> None:
    db, (first, second) = synced
    result = dltbot("events", "--db", str(db), "--list", "upstream", "--kind", "added", "--json")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {
            "id": 1,
            "kind": "added",
            "list": "upstream",
            "title": "Bounds",
            "url": "https://arxiv.org/pdf/1.pdf",
            "identity": "arxiv.org/abs/1",
            "section": ["泛化 Generalization"],
            "description": "泛化误差",
            "description_links": [],
            "commit": first,
            "date": "2024-01-01T01:00:00+08:00",
            "author": "Ada Author",
            "summary": "first",
            "meta": None,  # the card, once `dltbot enrich` has looked at the link
            "link": None,
            "paper": None,  # "1" is no arXiv id
        },
        {
            "id": 2,
            "kind": "added",
            "list": "upstream",
            "title": "Adam",
            "url": "https://arxiv.org/abs/1412.6980",
            "identity": "arxiv.org/abs/1412.6980",
            "section": ["Optimization"],
            "description": "optimizer",
            "description_links": [],
            "commit": second,
            "date": "2024-01-01T02:00:00+08:00",
            "author": "Ada Author",
            "summary": "second",
            "meta": None,
            "link": None,
            "paper": {
                "key": "arxiv:1412.6980",
                "arxiv": "1412.6980",
                "doi": "10.48550/arXiv.1412.6980",
                "version": None,
            },
        },
    ]


def test_search_and_random_json(synced: tuple[Path, list[str]]) -> None:
    db, (first, _) = synced
    result = dltbot("search", "泛化", "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {
            "list": "upstream",
            "title": "Bounds",
            "url": "https://arxiv.org/pdf/1.pdf",
            "identity": "arxiv.org/abs/1",
            "section": ["泛化 Generalization"],
            "parents": [],
            "parent": None,
            "description": "泛化误差",
            "description_links": [],
            "extra_links": [],
            "occurrences": 1,
            "sections": [["泛化 Generalization"]],
            "added": "2024-01-01T01:00:00+08:00",
            "added_commit": first,
            "meta": None,
            "link": None,
            "paper": None,
            "also": [],  # the same paper elsewhere (a paper is shown once)
        }
    ]
    picked = json.loads(dltbot("random", "--db", str(db), "--json", "--section", "optim").stdout)
    assert (picked["title"], picked["list"], picked["added"]) == (
        "Adam",
        "upstream",
        "2024-01-01T02:00:00+08:00",
    )


def test_text_output_and_lists(synced: tuple[Path, list[str]]) -> None:
    db, _ = synced
    events = dltbot("events", "--db", str(db))
    assert events.stdout.splitlines() == [
        "2024-01-01 added    upstream: Bounds <https://arxiv.org/pdf/1.pdf> [泛化 Generalization]",
        "2024-01-01 added    upstream: Adam <https://arxiv.org/abs/1412.6980> [Optimization]",
    ]
    lists = json.loads(dltbot("lists", "--db", str(db), "--json").stdout)
    assert (lists["list"], lists["status"], lists["entries"], lists["last_error"]) == (
        "upstream",
        "ok",
        2,
        None,
    )
    # Nothing found: exit 1, from search and random alike.
    missing = dltbot("search", "zzzz", "--db", str(db))
    assert (missing.returncode, missing.stdout, missing.stderr) == (1, "", "no match\n")
    none = dltbot("random", "--section", "zzzz", "--db", str(db))
    assert (none.returncode, none.stdout, none.stderr) == (1, "", "no entries\n")
    assert dltbot("search", "zzzz", "--json", "--db", str(db)).returncode == 1


def test_near_misses_and_a_bare_command_line_are_helped() -> None:
    bare = dltbot()
    assert bare.returncode == 2 and "COMMAND" in bare.stdout and "search" in bare.stdout
    typo = dltbot("--db", "/nowhere.sqlite3", "serach", "x")
    assert typo.returncode == 2
    assert typo.stderr == (
        "dltbot: error: no command 'serach'; did you mean 'search'? (dltbot --help lists them)\n"
    )
    assert "did you mean" not in dltbot("frobnicate").stderr
    assert dltbot("--version").returncode == 0


def test_links_says_to_enrich_when_nothing_was_checked(
    synced: tuple[Path, list[str]],
) -> None:
    db, _ = synced
    result = dltbot("links", "--db", str(db))
    assert result.stdout.startswith("unchecked ")
    assert "run `dltbot enrich`" in result.stderr


def test_sync_with_config_and_data_dir(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": V1}, "first")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"storage:\n  path: state/db.sqlite3\nlists:\n  - name: mine\n    repo: {repo.path}\n"
        "    interval: 30m\n  - name: broken\n    repo: /nonexistent/repo\n",
        encoding="utf-8",
    )
    data = {"DLTBOT_DATA_DIR": str(tmp_path / "data")}
    result = dltbot("sync", "--config", str(config), env=data)
    assert result.returncode == 1  # one list failed; the other synced
    assert "broken: FAILED: repository '/nonexistent/repo'" in result.stderr
    # A relative storage.path is under the data directory (in the image: the volume).
    assert (tmp_path / "data" / "state" / "db.sqlite3").exists()
    events = dltbot("events", "--config", str(config), "--json", env=data).stdout.splitlines()
    assert [json.loads(line)["list"] for line in events] == ["mine"]


def test_parse_json(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_text(V2, encoding="utf-8")
    result = dltbot("parse", str(path), "--json")
    assert [json.loads(line)["title"] for line in result.stdout.splitlines()] == ["Bounds", "Adam"]
    assert json.loads(result.stdout.splitlines()[1])["position"] == 1


def test_bad_input_gets_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("lists:\n  - repo: x\n  - repo: y\n    interval: 10s\n    colour: red\n")
    result = dltbot("check-config", "--config", str(config))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "dltbot: error: lists[1].interval: must be at least 1m",
        "lists[1].colour: unknown key",
    ]
    missing = dltbot("parse", str(tmp_path / "nope.md"))
    assert missing.returncode == 1
    assert (
        missing.stderr
        == f"dltbot: error: {tmp_path / 'nope.md'}: cannot read: No such file or directory\n"
    )
    both = dltbot("sync", "--repo", "x", "--config", str(config))
    assert both.stderr.strip() == "dltbot: error: --repo and --config: give one or the other"


def test_check_config_default_and_data_dir(tmp_path: Path) -> None:
    result = dltbot("check-config", env={"DLTBOT_DATA_DIR": str(tmp_path / "d")})
    assert result.returncode == 0
    assert result.stdout == (
        f"config ok: 1 list(s): deeplearningtheory; database {tmp_path / 'd' / 'dltbot.sqlite3'}\n"
    )


def test_every_command_has_help() -> None:
    from dltbot.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert sorted(commands) == [
        "backup",
        "bib",
        "bot",
        "check-config",
        "enrich",
        "entries",
        "events",
        "export",
        "healthcheck",
        "links",
        "lists",
        "papers",
        "parse",
        "random",
        "remove",
        "run",
        "search",
        "serve",
        "sync",
    ]
    for name, sub in commands.items():
        assert sub.description, name
        for action in sub._actions:
            assert action.help, f"{name} {action.dest}"


def test_json_log_lines(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": V1}, "first")
    result = dltbot(
        "--log-format",
        "json",
        "sync",
        "--repo",
        str(repo.path),
        "--db",
        str(tmp_path / "db.sqlite3"),
    )
    assert result.returncode == 0
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(line["level"], line["logger"]) for line in lines][-1] == ("info", "dltbot")
    assert lines[-1]["message"].startswith("list upstream synced: 1 new commits, events: 1 added")
    assert all(set(line) == {"time", "level", "logger", "message"} for line in lines)


def test_global_options_before_or_after_the_command(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit(
        {"README.md": "## S\n\n- [One](https://one.org) a\n- [Two](https://two.org)\n"}, "s"
    )
    db = str(tmp_path / "db.sqlite3")
    assert dltbot("sync", "--repo", str(repo.path), "--name", "l", "--db", db).returncode == 0
    before = dltbot("--db", db, "lists")
    after = dltbot("lists", "--db", db)
    assert before.returncode == after.returncode == 0
    assert before.stdout == after.stdout and before.stdout.startswith("l: ok, 2 entries")
    assert dltbot("-v", "--db", db, "events", "--json").returncode == 0


def test_read_commands_refuse_a_missing_database(tmp_path: Path) -> None:
    typo = tmp_path / "dltbot.sqlite"
    for args in (["lists"], ["events"], ["search", "x"], ["random"], ["entries"],
                 ["serve", "--listen", "127.0.0.1:0"], ["export", "--out", str(tmp_path / "o")]):  # fmt: skip
        result = dltbot(*args, "--db", str(typo))
        assert result.returncode == 1, args
        assert result.stderr == f"dltbot: error: no database at {typo} (run dltbot sync first)\n"
    assert not typo.exists()


def test_entries_prints_the_list_in_order(repo: GitRepo, tmp_path: Path) -> None:
    text = "## A\n\n- [One](https://one.org) a\n\n## B\n\n- [Two](https://two.org) b\n"
    repo.commit({"README.md": text}, "s")
    db = str(tmp_path / "db.sqlite3")
    dltbot("sync", "--repo", str(repo.path), "--name", "l", "--db", db)
    rows = [
        json.loads(line) for line in dltbot("entries", "--db", db, "--json").stdout.splitlines()
    ]
    assert [(r["title"], r["identity"], r["section"]) for r in rows] == [
        ("One", "one.org", ["A"]),
        ("Two", "two.org", ["B"]),
    ]
    only_b = dltbot("entries", "--db", db, "--section", "b").stdout
    assert only_b.startswith("Two <https://two.org>")
    assert dltbot("entries", "--db", db, "--list", "nope").returncode == 1


def test_check_config_refuses_no_lists_and_names_the_yaml_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("lists: []\n", encoding="utf-8")
    result = dltbot("check-config", "--config", str(empty))
    assert result.returncode == 1
    assert "lists: must name at least one list" in result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("web:\n  listen: [1\nfeed: {}\n", encoding="utf-8")
    result = dltbot("check-config", "--config", str(broken))
    assert result.returncode == 1
    assert result.stderr.startswith(f"dltbot: error: {broken}: not valid YAML at line ")


def test_remove_drops_a_list_and_everything_of_it(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": "## S\n\n- [One](https://one.org) a\n"}, "s")
    db = str(tmp_path / "db.sqlite3")
    dltbot("sync", "--repo", str(repo.path), "--name", "keep", "--db", db)
    dltbot("sync", "--repo", str(repo.path), "--name", "typo", "--db", db)
    assert list((tmp_path / "clones").glob("typo-*.git"))
    result = dltbot("remove", "typo", "--db", db)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"removed typo ({repo.path}): 1 entries, 1 events, 1 commits, 0 deliveries, "
        "0 subscriptions\n"
    )
    assert dltbot("lists", "--db", db).stdout.startswith("keep: ok")
    assert "typo" not in dltbot("lists", "--db", db).stdout
    assert not list((tmp_path / "clones").glob("typo-*.git"))
    assert [
        json.loads(x)["list"] for x in dltbot("events", "--db", db, "--json").stdout.splitlines()
    ] == ["keep"]
    missing = dltbot("remove", "typo", "--db", db)
    assert missing.returncode == 1 and "typo: no such list" in missing.stderr


def test_text_output_says_what_changed_and_what_was_left_out(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit(
        {
            "README.md": "- [Bare](https://bare.org) no heading\n\n## A\n\n- [T](https://t.org) one\n"
        },
        "1",
    )
    repo.commit(
        {
            "README.md": "- [Bare](https://bare.org) no heading\n\n## A\n\n- [T](https://t.org) two\n"
        },
        "2",
    )
    repo.commit(
        {
            "README.md": "- [Bare](https://bare.org) no heading\n\n## B\n\n- [T](https://t.org) two\n"
        },
        "3",
    )
    db = str(tmp_path / "db.sqlite3")
    dltbot("sync", "--repo", str(repo.path), "--name", "l", "--db", db)
    lines = dltbot("events", "--db", db).stdout.splitlines()
    assert lines[0].endswith("added    l: Bare <https://bare.org>")  # no "[]"
    assert lines[2].endswith("changed  l: T <https://t.org> [A] (description 'one' → 'two')")
    assert lines[3].endswith("moved    l: T <https://t.org> [B] (from [A])")
    capped = dltbot("events", "--db", db, "--limit", "1")
    assert capped.stderr == "1 of 4 events shown (the newest); --limit N\n"
    search = dltbot("search", "o", "--db", db, "--limit", "1")
    assert search.stderr == "1 of 2 shown; --limit N for more\n"
    assert dltbot("parse", str(repo.path / "README.md")).stdout.splitlines()[0] == (
        "Bare <https://bare.org> no heading"
    )
