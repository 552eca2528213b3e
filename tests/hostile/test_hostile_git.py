"""Malicious list repositories: forged commit fields, odd objects, huge or deep files.

Each test builds the repository with plain git in tmp_path, often writing raw commit objects
(`git hash-object --literally`) that no porcelain would make, and syncs it for real.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import GIT_ENV, GitRepo

from dltbot import listparse
from dltbot.config import Config
from dltbot.models import ListSource
from dltbot.site import Site
from dltbot.storage import Storage
from dltbot.sync import sync_list

README = "## Papers\n\n- [One](https://one.example.org) first\n"


def git(repo: Path, *args: str, data: bytes | None = None) -> str:
    result = subprocess.run(
        ["git", *args], cwd=repo, input=data, capture_output=True, check=True,
        env={**os.environ, **GIT_ENV},
    )  # fmt: skip
    return result.stdout.decode().strip()


def raw_commit(
    repo: GitRepo,
    files: dict[str, str],
    message: bytes,
    author: bytes = b"Ada Author",
    when: bytes = b"1704067200 +0800",
    extra_headers: bytes = b"",
) -> str:
    """Commit files on main with a hand-written commit object; return its sha."""
    for name, content in files.items():
        (repo.path / name).write_text(content, encoding="utf-8")
        git(repo.path, "add", name)
    tree = git(repo.path, "write-tree")
    parent = (
        git(repo.path, "rev-parse", "-q", "--verify", "HEAD^{commit}") if _has_head(repo) else ""
    )
    body = b"tree " + tree.encode() + b"\n"
    if parent:
        body += b"parent " + parent.encode() + b"\n"
    body += b"author " + author + b" <a@example.org> " + when + b"\n"
    body += b"committer " + author + b" <a@example.org> " + when + b"\n"
    body += extra_headers + b"\n" + message
    sha = git(repo.path, "hash-object", "-t", "commit", "--literally", "-w", "--stdin", data=body)
    git(repo.path, "update-ref", "refs/heads/main", sha)
    return sha


def _has_head(repo: GitRepo) -> bool:
    result = subprocess.run(
        ["git", "rev-parse", "-q", "--verify", "HEAD^{commit}"], cwd=repo.path,
        capture_output=True,
    )  # fmt: skip
    return result.returncode == 0


def commit_symlink(repo: GitRepo, target: str, message: str) -> None:
    """Make README.md a symbolic link to target and commit it."""
    (repo.path / "README.md").unlink(missing_ok=True)
    os.symlink(target, repo.path / "README.md")
    repo.git("add", "README.md")
    repo.git("commit", "-q", "-m", message)


def commit_gitlink(repo: GitRepo, message: str) -> None:
    """Make README.md a submodule entry (a gitlink to the current commit) and commit it."""
    (repo.path / "README.md").unlink(missing_ok=True)
    sha = repo.git("rev-parse", "HEAD")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{sha},README.md")
    repo.git("commit", "-q", "-m", message)


def sync(storage: Storage, repo: GitRepo, tmp_path: Path, **kwargs: object) -> str | None:
    source = ListSource(name="l", repo=str(repo.path), **kwargs)  # type: ignore[arg-type]
    return sync_list(storage, source, tmp_path / "clones").error


def all_documents(storage: Storage) -> list[bytes]:
    """Every feed kind the site renders for the list, and the page."""
    site = Site(storage, Config())
    return [
        site.feed(None).body,
        site.feed("l").body,
        site.digest("l", "daily").body,
        site.digest("l", "weekly").body,
        site.index().body,
    ]


def test_forged_separators_in_a_subject_forge_nothing(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    repo.commit({"README.md": README}, "start")
    forged = b"add \x1e deadbeef\x1f9999-12-31T00:00:00+00:00\x1fForged\x1fforged summary\n"
    sha = raw_commit(repo, {"README.md": README + "- [Two](https://two.example.org)\n"}, forged)
    assert sync(storage, repo, tmp_path) is None
    event = storage.events()[-1]
    assert event.entry.title == "Two"
    assert event.commit.sha == sha  # the real sha, not deadbeef
    assert event.commit.date == "2024-01-01T08:00:00+08:00"  # from the committer line
    assert event.commit.author == "Ada Author"
    assert "\x1e" not in event.commit.summary and "\x1f" not in event.commit.summary
    assert event.commit.summary.startswith("add deadbeef")


@pytest.mark.parametrize(
    "author",
    [b"Eve\x01", b"Eve\x1eMallory", b"Eve \xff\xfe latin \xe9", b"\xe2\x80\xaeEve", b"\x1b[31mEve"],
)
def test_hostile_author_names_are_kept_clean_and_feeds_stay_valid(
    repo: GitRepo, storage: Storage, tmp_path: Path, author: bytes
) -> None:
    raw_commit(repo, {"README.md": README}, b"add \x1b[31mred\x07\n", author=author)
    assert sync(storage, repo, tmp_path) is None
    event = storage.events()[-1]
    assert "Eve" in event.commit.author
    for text in (event.commit.author, event.commit.summary):
        assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text), repr(text)
        assert "\u202e" not in text
    assert event.commit.summary == "add [31mred"
    for document in all_documents(storage):
        assert document  # rendered: lxml refused such strings before


@pytest.mark.parametrize(
    "line",
    [
        "- [Bad &#xFFFF; title](https://x.example.org/a) desc &#xFFFE; here",
        "- [Bad url](https://x.example.org/a&#1;b)",
        "- [\u202eevil\u200b title\ufeff](https://x.example.org/c) \x01ctl \x85nel",
        "- [Ok](https://x.example.org/d) \U0010ffff\U0001fffe tail",
    ],
)
def test_hostile_characters_in_the_list_are_cleaned_at_ingest(
    repo: GitRepo, storage: Storage, tmp_path: Path, line: str
) -> None:
    repo.commit({"README.md": README + line + "\n"}, "hostile")
    assert sync(storage, repo, tmp_path) is None
    entry = storage.events()[-1].entry
    for text in (entry.title, entry.description, entry.url):
        for ch in text:
            assert not (ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0), repr(text)
            assert ch not in "\ufffe\uffff\u202e\u200b\ufeff\U0001fffe", repr(text)
    for document in all_documents(storage):
        assert b"<feed" in document or b"<html" in document


def test_url_with_a_control_character_is_percent_encoded(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    repo.commit({"README.md": README + "- [U](https://x.example.org/a&#1;b)\n"}, "ctl")
    assert sync(storage, repo, tmp_path) is None
    assert storage.events()[-1].entry.url == "https://x.example.org/a%01b"


def test_impossible_timezone_and_date_are_clamped(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    raw_commit(repo, {"README.md": README}, b"tz\n", when=b"1704067200 +9959")
    raw_commit(
        repo,
        {"README.md": README + "- [Future](https://f.example.org)\n"},
        b"future\n",
        when=b"253402214400 +0000",  # 9999-12-31
    )
    assert sync(storage, repo, tmp_path) is None
    first, second = storage.events()
    assert first.commit.date == "2024-01-01T00:00:00+00:00"  # the offset dropped, not the time
    assert second.commit.date < "2100"
    site = Site(storage, Config())
    assert site.index().status == 200
    assert b"Future" in site.feed(None).body


def test_a_submodule_or_symlink_as_the_list_file_fails_the_list_with_its_reason(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    repo.commit({"README.md": README}, "start")
    commit_symlink(repo, "/etc/passwd", "symlink")
    error = sync(storage, repo, tmp_path)
    assert error is not None and "symbolic link" in error
    state = storage.list_state("l")
    assert state is not None and state.status == "failing" and state.last_error == error
    assert [e.kind for e in storage.events()] == []  # nothing parsed from the link

    gitlink = GitRepo(tmp_path / "gitlink")
    gitlink.commit({"other.md": "x"}, "start")
    commit_gitlink(gitlink, "submodule")
    with Storage(tmp_path / "g.sqlite3") as other:
        error = sync(other, gitlink, tmp_path)
        assert error is not None and "submodule" in error


def test_symlink_gitlink_and_lfs_versions_in_history_are_skipped(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    repo.commit({"README.md": README}, "start")
    commit_symlink(repo, "other.md", "symlink")
    commit_gitlink(repo, "gitlink")
    repo.git("rm", "-q", "--cached", "README.md")
    lfs = "version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 12\n"
    repo.commit({"README.md": lfs}, "lfs")
    repo.commit({"README.md": README + "- [Two](https://two.example.org)\n"}, "two")
    assert sync(storage, repo, tmp_path) is None
    assert [(e.kind, e.entry.title) for e in storage.events()] == [
        ("added", "One"),
        ("added", "Two"),  # no removal of One and no restore: the odd versions were skipped
    ]


def test_lfs_pointer_at_head_removes_nothing(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    repo.commit({"README.md": README}, "start")
    assert sync(storage, repo, tmp_path) is None
    repo.commit({"README.md": "version https://git-lfs.github.com/spec/v1\noid x\n"}, "lfs")
    assert sync(storage, repo, tmp_path) is None
    assert [e.kind for e in storage.events()] == ["added"]
    assert storage.entry_count(1) == 1


def test_a_list_nested_500_levels_deep_parses(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    deep = "".join("  " * i + f"- [L{i}](https://l.example.org/{i}) text\n" for i in range(500))
    bullets = "".join("- " * 500 + "[Deep](https://deep.example.org)\n")
    quotes = "> " * 500 + "- [Quoted](https://q.example.org)\n"
    repo.commit({"README.md": README + deep + "\n" + bullets + "\n" + quotes}, "deep")
    assert sync(storage, repo, tmp_path) is None
    titles = {e.entry.title for e in storage.events()}
    assert {"One", "L0", "L1", "Deep"} <= titles
    entries = listparse.parse_entries("- " * 3000 + "[x](https://x.example.org)\n")
    assert [e.title for e in entries] == ["x"]


def test_nesting_past_the_limit_is_kept_as_text() -> None:
    depth = listparse.walker.MAX_DEPTH
    text = "".join("  " * i + f"- item {i}\n" for i in range(depth - 1))
    text += "  " * (depth - 1) + "- [Deep](https://d.example.org)\n"
    text += "  " * depth + "- [Deeper](https://e.example.org) more\n"
    entries = listparse.parse_entries(text)
    assert [e.title for e in entries] == ["Deep"]
    assert "Deeper more" in entries[0].description


def test_a_list_file_over_the_size_limit_fails_the_list_without_reading_it(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    repo.commit({"README.md": README}, "start")
    assert sync(storage, repo, tmp_path) is None
    repo.commit({"README.md": "a\n" * 3_000_000}, "huge")
    error = sync(storage, repo, tmp_path)
    assert error == "list file is 6.0 MB, over the 5.0 MB limit (sync.max_file_size)"
    state = storage.list_state("l")
    assert state is not None and state.status == "failing"
    assert storage.entry_count(state.id) == 1  # nothing lost
    repo.commit({"README.md": README + "- [Back](https://b.example.org)\n"}, "fixed")
    assert sync(storage, repo, tmp_path) is None  # the huge version in between is skipped
    assert [(e.kind, e.entry.title) for e in storage.events()] == [
        ("added", "One"),
        ("added", "Back"),
    ]


def test_an_unexpected_error_marks_the_list_failing(
    repo: GitRepo, storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.commit({"README.md": README}, "start")

    def broken(self: object, data: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    # Fault injection: no real input makes the parser raise any more, which is the point.
    monkeypatch.setattr(listparse.ListParser, "parse", broken)
    error = sync(storage, repo, tmp_path)
    assert error == "unexpected error: RecursionError: maximum recursion depth exceeded"
    state = storage.list_state("l")
    assert state is not None and state.status == "failing" and state.last_error == error
    health = Site(storage, Config()).health()
    assert b'"failing"' in health.body


def test_feeds_survive_bad_rows_written_before_ingest_cleaned_them(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    repo.commit({"README.md": README}, "start")
    assert sync(storage, repo, tmp_path) is None
    storage.db.execute(
        "UPDATE events SET title = 'Bad \uffff\x01 title', url = 'https://x.org/a\x01b'"
    )
    storage.db.execute("UPDATE commits SET author = 'Eve\x01', committed_at = "
                       "'2024-01-01T00:00:00+99:59'")  # fmt: skip
    for document in all_documents(storage):
        assert b"\x01" not in document and "\uffff".encode() not in document
    feed = Site(storage, Config()).feed("l").body
    assert b"<title>Bad  title</title>" in feed  # the two characters dropped
