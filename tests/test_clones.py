"""What a clone costs: remote repositories are cloned partially (the list file's versions
only), a clone is bounded on disk, and a poll with nothing new asks the remote once."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import GitRepo

from dltbot import gitsource
from dltbot.models import ListSource
from dltbot.storage import Storage
from dltbot.sync import sync_list

LIST = "# L\n\n## Papers\n\n- [One](https://one.org) first\n"


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[GitRepo, str]:
    """A repository with a list and a large unrelated file, served as file:// with
    partial-clone support (as GitHub serves https)."""
    upstream = GitRepo(tmp_path / "upstream")
    upstream.git("config", "uploadpack.allowFilter", "true")
    upstream.git("config", "uploadpack.allowAnySHA1InWant", "true")
    for number in range(3):
        upstream.commit(
            {"README.md": LIST + f"- [N{number}](https://n{number}.org)\n",
             "data.bin": os.urandom(2_000_000)},
            f"version {number}",
        )  # fmt: skip
    # dltbot takes https:// (never file://) from a config; git's own configuration points
    # it at the file:// remote, as a mirror would be.
    config = tmp_path / "gitconfig"
    config.write_text(f'[url "file://{tmp_path}/"]\n\tinsteadOf = https://forge.test/\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    return upstream, "https://forge.test/upstream"


def clone_of(clones: Path) -> Path:
    return next(clones.glob("*.git"))


def test_a_remote_is_cloned_with_the_list_files_versions_only(
    served: tuple[GitRepo, str], tmp_path: Path
) -> None:
    _, url = served
    clones = tmp_path / "clones"
    with Storage(tmp_path / "db.sqlite3") as storage:
        report = sync_list(storage, ListSource("l", url), clones)
        assert report.error is None and report.commits == 3
        assert report.events == {"added": 4, "removed": 2}  # each version swaps its N
    size = gitsource.folder_size(clone_of(clones))
    assert size < 500_000  # 6 MB of data.bin never came
    repository = gitsource.Repo(clone_of(clones))
    assert gitsource.is_partial(repository)


def test_a_clone_past_its_size_limit_fails_the_list_clearly(tmp_path: Path) -> None:
    upstream = GitRepo(tmp_path / "upstream")
    upstream.commit({"README.md": LIST, "data.bin": os.urandom(3_000_000)}, "big")
    with Storage(tmp_path / "db.sqlite3") as storage:
        source = ListSource("l", str(upstream.path), max_clone_bytes=1_000_000)
        report = sync_list(storage, source, tmp_path / "clones")
        assert report.error is not None and "sync.max_clone_size" in report.error
        state = storage.list_state("l")
        assert state is not None and state.status == "failing"
    assert not list((tmp_path / "clones").glob("*.git"))  # nothing half-made is kept


def test_a_poll_with_nothing_new_does_not_fetch(
    served: tuple[GitRepo, str], tmp_path: Path
) -> None:
    upstream, url = served
    clones = tmp_path / "clones"
    with Storage(tmp_path / "db.sqlite3") as storage:
        assert sync_list(storage, ListSource("l", url), clones).error is None
        # Another branch appears upstream; the tracked one does not move.
        upstream.git("branch", "other")
        again = sync_list(storage, ListSource("l", url), clones)
        assert again.error is None and again.commits == 0
        refs = subprocess.run(
            ["git", "--git-dir", str(clone_of(clones)), "for-each-ref", "--format=%(refname)"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        assert refs == ["refs/heads/main"]  # the poll fetched nothing
        # The tracked branch moves: now it fetches, and sees the new version.
        upstream.commit({"README.md": LIST + "- [New](https://new.org)\n"}, "new")
        moved = sync_list(storage, ListSource("l", url), clones)
        assert moved.error is None and moved.commits == 1
        assert moved.events == {"added": 1, "removed": 1}  # New in, N2 out
        # The remote goes away: the poll fails the list, as a fetch would.
        upstream.path.rename(tmp_path / "moved-away")
        gone = sync_list(storage, ListSource("l", url), clones)
        assert gone.error is not None and "https://forge.test/upstream" in gone.error
        state = storage.list_state("l")
        assert state is not None and state.status == "failing"
