"""Remotes that hang, clones that were killed, credentials in repository URLs."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import GitRepo

from dltbot import gitsource
from dltbot.config import Config
from dltbot.models import ListSource
from dltbot.site import Site
from dltbot.storage import Storage
from dltbot.sync import sync_list

README = "## Papers\n\n- [One](https://one.example.org) first\n"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP listener on loopback that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize(
    "scheme", ["ssh://git@127.0.0.1:{port}/x.git", "https://127.0.0.1:{port}/x"]
)
def test_a_remote_that_never_answers_times_out(
    silent_server: int, storage: Storage, tmp_path: Path, scheme: str
) -> None:
    source = ListSource("hang", scheme.format(port=silent_server), git_timeout_seconds=2)
    started = time.monotonic()
    report = sync_list(storage, source, tmp_path / "clones")
    assert time.monotonic() - started < 10
    assert report.error is not None and "timed out after 2s (sync.git_timeout)" in report.error
    state = storage.list_state("hang")
    assert state is not None and state.status == "failing"
    assert not list((tmp_path / "clones").glob("*.git"))  # no half clone left to trust


def test_stopping_kills_a_hanging_clone(
    silent_server: int, storage: Storage, tmp_path: Path
) -> None:
    source = ListSource("hang", f"ssh://git@127.0.0.1:{silent_server}/x.git")
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    report = sync_list(storage, source, tmp_path / "clones", should_stop=stop.is_set)
    assert time.monotonic() - started < 3
    assert report.error is not None and "shutting down" in report.error
    leftover = subprocess.run(
        ["pgrep", "-f", f"127.0.0.1:{silent_server}"], capture_output=True, text=True
    )
    assert leftover.stdout.strip() == ""  # git and its ssh child were killed


def bare_clone(repo: GitRepo, tmp_path: Path, name: Callable[[Path], str]) -> tuple[Path, Path]:
    """Commit the list, then bare-clone it into the clones folder under name(clone dir)."""
    repo.commit({"README.md": README}, "start")
    clones = tmp_path / "clones"
    clones.mkdir()
    target = clones / name(gitsource.clone_dir_for(clones, "l", str(repo.path)))
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(target)], check=True)
    return clones, target


def assert_follows_new_commits(repo: GitRepo, storage: Storage, clones: Path) -> None:
    """Sync, commit one more entry upstream, sync again: the new entry must arrive."""
    assert sync_list(storage, ListSource("l", str(repo.path)), clones).error is None
    repo.commit({"README.md": README + "- [Two](https://two.example.org)\n"}, "two")
    assert sync_list(storage, ListSource("l", str(repo.path)), clones).error is None
    assert [e.entry.title for e in storage.events()] == ["One", "Two"]


def test_an_interrupted_first_clone_is_not_taken_for_a_clone(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    # What a kill -9 during the first clone leaves: the clone's temporary folder, complete
    # (its git ran on) but never renamed into place.
    clones, _ = bare_clone(repo, tmp_path, lambda target: f".{target.name}.abc.tmp")
    assert_follows_new_commits(repo, storage, clones)


def test_a_clone_without_its_fetch_refspec_is_repaired(
    repo: GitRepo, storage: Storage, tmp_path: Path
) -> None:
    """An older dltbot killed between `git clone` and writing the refspec left this."""
    clones, target = bare_clone(repo, tmp_path, lambda target: target.name)
    subprocess.run(["git", "--git-dir", str(target), "config", "--unset-all",
                    "remote.origin.fetch"], check=False)  # fmt: skip
    assert_follows_new_commits(repo, storage, clones)


def test_a_sync_killed_during_its_first_clone_recovers(repo: GitRepo, tmp_path: Path) -> None:
    # A history big enough that the clone is still running when the kill comes.
    repo.commit({"README.md": README}, "start")
    big = os.urandom(40_000_000)
    repo.commit({"blob.bin": big}, "a large file beside the list")
    repo.commit({"blob.bin": None}, "and gone")
    db = tmp_path / "db.sqlite3"
    clones = tmp_path / "clones"
    sync = subprocess.Popen(
        [sys.executable, "-m", "dltbot.cli", "sync", "--repo", str(repo.path), "--name", "l",
         "--db", str(db)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "DLTBOT_DATA_DIR": str(tmp_path)},
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not list(clones.glob(".*.tmp")):
        time.sleep(0.01)
    sync.kill()
    sync.wait()
    time.sleep(1)  # the orphaned git clone may finish meanwhile; it must not matter
    with Storage(db) as storage:
        assert_follows_new_commits(repo, storage, clones)


def test_credentials_in_a_repository_url_are_never_shown_or_logged(
    storage: Storage, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: the clone fails at once
    repo = f"https://user:secretpass@127.0.0.1:{port}/x.git"
    caplog.set_level(logging.DEBUG)
    report = sync_list(storage, ListSource("private", repo), tmp_path / "clones")
    assert report.error is not None and "***@127.0.0.1" in report.error
    site = Site(storage, Config())
    shown = [report.error, caplog.text, site.index().body.decode(), site.health().body.decode()]
    for text in shown:
        assert "secretpass" not in text
    assert "https://***@127.0.0.1" in site.index().body.decode()


def test_the_service_stops_promptly_while_a_remote_hangs(
    silent_server: int, tmp_path: Path
) -> None:
    from test_service import Running, write_config

    config = write_config(
        tmp_path / "c.yaml", tmp_path / "db.sqlite3",
        f"  - name: hang\n    repo: ssh://git@127.0.0.1:{silent_server}/x.git\n",
    )  # fmt: skip
    service = Running(config)
    time.sleep(1.5)  # the first sync is under way, its git waiting on the silent server
    assert service.get("/healthz")[0] == 200
    assert service.stop() < 10
    assert service.process.returncode == 0
    leftover = subprocess.run(
        ["pgrep", "-f", f"127.0.0.1:{silent_server}"], capture_output=True, text=True
    )
    assert leftover.stdout.strip() == ""
