"""Sync against real git repositories built in tmp_path."""

from __future__ import annotations

from pathlib import Path

from conftest import GitRepo

from dltbot.models import Commit, Entry, ListSource, StoredEvent
from dltbot.storage import Storage
from dltbot.sync import sync_all, sync_list

V1 = "# Awesome\n\n## Papers\n\n- [One](https://one.org) first\n"
V2 = V1 + "- [Two](https://two.org) second\n"


def run(storage: Storage, repo: GitRepo, tmp_path: Path, **kwargs: object) -> None:
    report = sync_list(
        storage, ListSource(name="l", repo=str(repo.path), **kwargs), tmp_path / "clones"
    )
    assert report.error is None, report.error


def summary(storage: Storage) -> list[tuple[str, str, str]]:
    return [(e.kind, e.entry.title, e.commit.summary) for e in storage.events()]


def test_backfill_records_every_event_with_its_commit(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    first = repo.commit({"README.md": V1}, "start")
    second = repo.commit({"README.md": V2}, "add two")
    third = repo.commit({"README.md": V2.replace("second", "second, better")}, "edit two")
    repo.commit({"other.txt": "x"}, "unrelated")
    run(storage, repo, tmp_path)
    one = Entry("one.org", "https://one.org", "One", "first", ("Papers",))
    two = Entry("two.org", "https://two.org", "Two", "second", ("Papers",))
    two_better = Entry("two.org", "https://two.org", "Two", "second, better", ("Papers",))
    c1 = Commit(first, "2024-01-01T01:00:00+08:00", "Ada Author", "start")
    c2 = Commit(second, "2024-01-01T02:00:00+08:00", "Ada Author", "add two")
    c3 = Commit(third, "2024-01-01T03:00:00+08:00", "Ada Author", "edit two")
    assert storage.events() == [
        StoredEvent(1, "l", "added", one, None, c1),
        StoredEvent(2, "l", "added", two, None, c2),
        StoredEvent(3, "l", "changed", two_better, two, c3),
    ]
    state = storage.list_state("l")
    assert state is not None
    assert (state.status, state.path, state.branch, state.last_error) == (
        "ok",
        "README.md",
        "main",
        None,
    )
    assert state.head == repo.git("rev-parse", "HEAD")
    current = [(s.entry, s.position, s.first_commit) for s in storage.entries("l")]
    assert current == [(one, 0, first), (two_better, 1, second)]


def test_incremental_sync_processes_only_new_commits(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    repo.commit({"README.md": V1}, "start")
    run(storage, repo, tmp_path)
    run(storage, repo, tmp_path)
    assert summary(storage) == [("added", "One", "start")]
    repo.commit({"README.md": V2}, "add two")
    run(storage, repo, tmp_path)
    assert summary(storage) == [("added", "One", "start"), ("added", "Two", "add two")]


def test_every_event_kind(repo: GitRepo, storage: Storage, tmp_path: Path) -> None:
    repo.commit({"README.md": V2}, "start")
    repo.commit({"README.md": V1}, "drop two")
    repo.commit({"README.md": V2}, "bring two back")
    moved = V2.replace("- [Two]", "## Later\n\n- [Two]")
    repo.commit({"README.md": moved}, "move two")
    repo.commit({"README.md": moved.replace("https://two.org", "https://two.net")}, "fix url")
    repo.commit(
        {"README.md": moved.replace("https://two.org", "https://two.net").replace("- [", "* [")},
        "reformat",
    )
    run(storage, repo, tmp_path)
    assert summary(storage) == [
        ("added", "One", "start"),
        ("added", "Two", "start"),
        ("removed", "Two", "drop two"),
        ("restored", "Two", "bring two back"),
        ("moved", "Two", "move two"),
        ("changed", "Two", "fix url"),
    ]


def test_merge_of_a_stale_branch_invents_nothing(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    repo.commit({"README.md": V1}, "start")
    repo.git("checkout", "-q", "-b", "stale")
    repo.commit({"README.md": V1 + "- [Side](https://side.org) from a branch\n"}, "side work")
    repo.git("checkout", "-q", "main")
    repo.commit({"README.md": V2}, "add two")
    repo.commit({"README.md": V2 + "- [Three](https://three.org)\n"}, "add three")
    merged = V2 + "- [Three](https://three.org)\n- [Side](https://side.org) from a branch\n"
    repo.git("merge", "-q", "--no-commit", "--strategy=ours", "stale")
    (repo.path / "README.md").write_text(merged, encoding="utf-8")
    repo.git("add", "README.md")
    repo.tick += 1
    repo.git("commit", "-q", "-m", "merge stale")
    run(storage, repo, tmp_path)
    assert summary(storage) == [
        ("added", "One", "start"),
        ("added", "Two", "add two"),
        ("added", "Three", "add three"),
        ("added", "Side", "merge stale"),
    ]


def test_force_push_announces_nothing_twice(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    repo.commit({"README.md": V1}, "start")
    repo.commit({"README.md": V2}, "add two")
    run(storage, repo, tmp_path)
    repo.git("reset", "-q", "--hard", "HEAD~1")
    repo.commit({"README.md": V2 + "- [Three](https://three.org)\n"}, "rewritten")
    run(storage, repo, tmp_path)
    assert summary(storage) == [
        ("added", "One", "start"),
        ("added", "Two", "add two"),
        ("added", "Three", "rewritten"),
    ]
    state = storage.list_state("l")
    assert state is not None and state.head == repo.git("rev-parse", "HEAD")


def test_deleted_list_file_marks_the_list_failing_without_removals(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    repo.commit({"README.md": V2}, "start")
    run(storage, repo, tmp_path)
    repo.commit({"README.md": None, "LIST.md": V2}, "rename the list")
    report = sync_list(storage, ListSource("l", str(repo.path)), tmp_path / "clones")
    assert report.error is not None and "'README.md' not found" in report.error
    assert summary(storage) == [("added", "One", "start"), ("added", "Two", "start")]
    state = storage.list_state("l")
    assert state is not None and state.status == "failing" and state.last_error == report.error
    assert state.failing_since is not None


def test_file_deleted_then_restored_in_history_is_skipped(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    repo.commit({"README.md": V2}, "start")
    repo.commit({"README.md": None}, "oops")
    repo.commit({"README.md": V2 + "- [Three](https://three.org)\n"}, "restore")
    run(storage, repo, tmp_path)
    assert summary(storage) == [
        ("added", "One", "start"),
        ("added", "Two", "start"),
        ("added", "Three", "restore"),
    ]


def test_binary_version_is_skipped(repo: GitRepo, storage: Storage, tmp_path: Path) -> None:
    repo.commit({"README.md": V1}, "start")
    repo.commit({"README.md": b"\x89PNG\r\n\x1a\n\x00\x00binary"}, "broken")
    repo.commit({"README.md": V2}, "fixed")
    run(storage, repo, tmp_path)
    assert summary(storage) == [("added", "One", "start"), ("added", "Two", "fixed")]


def test_list_file_is_found_case_insensitively(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    repo.commit({"readme.md": V1}, "start")
    run(storage, repo, tmp_path)
    state = storage.list_state("l")
    assert state is not None and state.path == "readme.md"
    assert summary(storage) == [("added", "One", "start")]


def test_other_branch_and_path(repo: GitRepo, storage: Storage, tmp_path: Path) -> None:
    repo.commit({"README.md": V1}, "start")
    repo.git("checkout", "-q", "-b", "dev")
    repo.commit({"docs/list.md": "## X\n- [Guide](guide.md)\n"}, "docs")
    repo.git("checkout", "-q", "main")
    run(storage, repo, tmp_path, branch="dev", path="docs/LIST.md")
    assert summary(storage) == [("added", "Guide", "docs")]


def test_invalid_utf8_and_large_file(repo: GitRepo, storage: Storage, tmp_path: Path) -> None:
    big = "## Big\n" + "".join(f"- [E{i}](https://e.org/{i}) {'x' * 80}\n" for i in range(100_000))
    assert len(big) > 10_000_000
    repo.commit({"README.md": b"## Bad\n- [caf\xe9](https://cafe.org)\n"}, "latin-1")
    repo.commit({"README.md": big}, "big")
    run(storage, repo, tmp_path, max_file_bytes=20_000_000)
    events = [(e.kind, e.entry.title, e.commit.summary) for e in storage.events()]
    assert events[0] == ("added", "caf", "latin-1")
    assert events[1:] == [
        *[("added", f"E{i}", "big") for i in range(100_000)],
        ("removed", "caf", "big"),
    ]


def test_one_failing_list_never_stops_the_others(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    repo.commit({"README.md": V1}, "start")
    sources = [
        ListSource("gone", str(tmp_path / "no-such-repo")),
        ListSource("bad", "ext::sh -c touch% /tmp/pwned"),
        ListSource("plain", "http://example.org/list.git"),
        ListSource("option", "--upload-pack=touch /tmp/pwned"),
        ListSource("good", str(repo.path)),
    ]
    reports = sync_all(storage, sources, tmp_path / "clones")
    assert [(r.name, r.error is None) for r in reports] == [
        ("gone", False),
        ("bad", False),
        ("plain", False),
        ("option", False),
        ("good", True),
    ]
    assert reports[0].error is not None and "no-such-repo" in reports[0].error
    assert reports[1].error is not None and "not allowed" in reports[1].error
    assert reports[2].error is not None and "not http://" in reports[2].error
    assert reports[3].error is not None and "not an option" in reports[3].error
    assert not Path("/tmp/pwned").exists()
    assert [(s.name, s.status) for s in storage.list_states()] == [
        ("bad", "failing"),
        ("gone", "failing"),
        ("good", "ok"),
        ("option", "failing"),
        ("plain", "failing"),
    ]
    assert summary(storage) == [("added", "One", "start")]


def test_git_bundle_as_a_remote(repo: GitRepo, storage: Storage, tmp_path: Path) -> None:
    repo.commit({"README.md": V2}, "start")
    bundle = tmp_path / "list.bundle"
    repo.git("bundle", "create", str(bundle), "main")
    report = sync_list(storage, ListSource("b", str(bundle)), tmp_path / "clones")
    assert report.error is None
    assert [(e.kind, e.entry.title) for e in storage.events("b")] == [
        ("added", "One"),
        ("added", "Two"),
    ]


def test_two_syncs_of_one_list_at_once_record_each_commit_once(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from conftest import fast_import

    versions = [
        "## A\n" + "".join(f"- [E{i}](https://e.org/{i})\n" for i in range(n))
        for n in range(1, 151)
    ]
    fast_import(tmp_path / "repo", versions)
    db = tmp_path / "db.sqlite3"
    Storage(db).close()

    def run(clones: str) -> str | None:
        with Storage(db) as storage:
            report = sync_list(storage, ListSource("l", str(tmp_path / "repo")), tmp_path / clones)
            return report.error

    with ThreadPoolExecutor(2) as pool:
        errors = list(pool.map(run, ["clones-a", "clones-b"]))
    with Storage(db) as storage:
        assert run("clones-a") is None  # whatever stood down, a later sync finishes the job
        events = [(e.kind, e.entry.title) for e in storage.events()]
    assert events == [("added", f"E{i}") for i in range(150)]
    assert all(error is None or "another sync" in error for error in errors)


def test_a_heading_below_an_html_block_follows_commonmark(
    storage: Storage, repo: GitRepo, tmp_path: Path
) -> None:
    """`<a name="s" />` on its own line opens an HTML block (type 7) that runs to the next
    blank line and swallows the heading and the item below it; `<a name="s"></a>` does not.
    The chunked parse of `dltbot sync` must say what a whole parse (`dltbot parse`) says."""
    item = "* [T](https://t.org)\n"
    repo.commit({"README.md": f'# L\n\n<a name="s" />\n## S\n{item}'}, "anchor tag")
    repo.commit({"README.md": f'# L\n\n<a name="s" />\n ## S\n{item}'}, "heading indented")
    repo.commit({"README.md": f'# L\n\n<a name="s"></a>\n## S\n{item}'}, "anchor closed")
    run(storage, repo, tmp_path)
    assert summary(storage) == [("added", "T", "anchor closed")]


def test_a_parser_upgrade_rereads_the_head_without_events(
    storage: Storage, repo: GitRepo, tmp_path: Path
) -> None:
    """A database written by an older parser (spaces invented around links, no spans) is
    re-read at its head before new commits are diffed: no "changed" noise, the new
    commit's own edit still reported."""
    text = "# L\n\n## S\n\n- [T](https://t.org) text [x](https://x.org), more\n"
    repo.commit({"README.md": text}, "start")
    run(storage, repo, tmp_path)
    with storage.atomic():  # what version 1 of the parser had stored
        storage.db.execute("UPDATE entries SET description = 'text x , more', text_links = '[]'")
        storage.db.execute("UPDATE lists SET parser_version = 1")
    repo.commit({"README.md": text + "- [U](https://u.org) new\n"}, "add U")
    run(storage, repo, tmp_path)
    assert summary(storage) == [("added", "T", "start"), ("added", "U", "add U")]
    (entry, _) = [s.entry for s in storage.entries("l")]
    assert (entry.description, entry.text_links) == ("text x, more", ((5, 6, "https://x.org"),))
    state = storage.list_state("l")
    assert state is not None and state.parser_version == 2
    # The upgraded list goes on as any other: an edit is an edit.
    repo.commit({"README.md": text.replace("more", "much more")}, "edit T")
    run(storage, repo, tmp_path)
    assert summary(storage)[-2:] == [("changed", "T", "edit T"), ("removed", "U", "edit T")]


def index_consistent(storage: Storage, every_entry: bool = True) -> None:
    """FTS5's own check of the search index (raises if broken); with `every_entry`, also
    that it holds exactly what the entries table holds."""
    storage.db.execute(
        "INSERT INTO entries_fts (entries_fts, rank) VALUES ('integrity-check', ?)",
        (int(every_entry),),
    )


def test_a_first_backfill_indexes_search_once_at_its_end(
    storage: Storage, repo: GitRepo, tmp_path: Path
) -> None:
    for number in range(1, 6):
        lines = "".join(f"- [Paper {i}](https://p.org/{i}) topology\n" for i in range(number))
        repo.commit({"README.md": f"# L\n\n## S\n\n{lines}"}, f"add {number}")
    other = GitRepo(tmp_path / "other")
    other.commit({"README.md": "# O\n\n- [Topology notes](https://o.org) old\n"}, "o")
    assert sync_list(storage, ListSource("o", str(other.path)), tmp_path / "c").error is None
    asked = iter(range(100))
    stopped = sync_list(
        storage, ListSource("l", str(repo.path)), tmp_path / "c",
        should_stop=lambda: next(asked) >= 3,
    )  # fmt: skip
    assert stopped.stopped and 0 < len(storage.entries("l")) < 5
    index_consistent(storage, every_entry=False)  # the list's entries are not in it yet
    # Mid-backfill the list's entries are not searchable yet; the other list's are.
    assert [r.list for r in storage.search("topology")] == ["o"]
    run(storage, repo, tmp_path)  # resumes and ends the backfill
    index_consistent(storage)
    assert len(storage.search("topology")) == 6
    # Later syncs index as they go.
    repo.commit({"README.md": "# L\n\n## S\n\n- [Paper 0](https://p.org/0) geometry\n"}, "edit")
    run(storage, repo, tmp_path)
    index_consistent(storage)
    assert [r.entry.title for r in storage.search("geometry")] == ["Paper 0"]
    assert storage.remove_list("l") is not None
    index_consistent(storage)
    assert [r.list for r in storage.search("topology")] == ["o"]
