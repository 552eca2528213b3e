"""`dltbot run` in a subprocess: it serves, syncs, survives faults and stops in order."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import GitRepo
from fakebot import TOKEN, FakeTelegram

from dltbot.migrations import MIGRATIONS
from dltbot.storage import Storage

LIST = "# L\n\n## Papers\n\n- [One](https://one.org) first\n- [Two](https://two.org) second\n"


class Running:
    """A `dltbot run` process, its log lines, and its HTTP address."""

    def __init__(self, config: Path, *options: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dltbot.cli", "run", "--config", str(config), *options],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        line = self.wait_log("serving http://")
        self.base = line.split("serving ", 1)[1].split("/ ", 1)[0]

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_log(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if text in line:
                    return line
            if self.process.poll() is not None and not self.reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no log line with {text!r}:\n" + "\n".join(self.lines))

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def health(self) -> dict[str, dict[str, object]]:
        body = json.loads(self.get("/healthz?details=1")[1])["lists"]
        return {item["list"]: item for item in body}

    def stop(self) -> float:
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=15)
        self.reader.join(5)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return time.monotonic() - started


def write_config(path: Path, db: Path, lists: str, extra: str = "") -> Path:
    if "enrich:" not in extra:  # its lists' links are made up: never fetch them
        extra += "enrich:\n  enabled: false\n"
    path.write_text(
        f"storage:\n  path: {db}\nweb:\n  listen: 127.0.0.1:0\nlists:\n{lists}{extra}",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def service(repo: GitRepo, tmp_path: Path) -> Iterator[Running]:
    repo.commit({"README.md": LIST}, "start")
    lists = (
        f"  - name: good\n    repo: {repo.path}\n  - name: gone\n    repo: {tmp_path / 'nowhere'}\n"
    )
    running = Running(write_config(tmp_path / "config.yaml", tmp_path / "db.sqlite3", lists))
    yield running
    if running.process.poll() is None:
        running.stop()


def test_serves_syncs_survives_a_failing_remote_and_stops_in_order(service: Running) -> None:
    service.wait_log("list good synced: 1 new commits, events: 2 added")
    service.wait_log("list gone sync failed (1 in a row), retrying in 30s: repository")
    assert service.wait_log("no telegram.token: running feed-only").endswith(
        "running feed-only (no bot)"
    )
    health = service.health()
    assert (health["good"]["status"], health["good"]["entries"]) == ("ok", 2)
    # Failing since its first sync, not for 3 intervals yet: degraded, still healthy.
    assert (health["gone"]["status"], health["gone"]["healthy"]) == ("degraded", True)
    assert "nowhere" in str(health["gone"]["last_error"])
    status, body = service.get("/lists/good/feed.atom")
    assert status == 200 and b"<title>One</title>" in body
    check = subprocess.run(
        [sys.executable, "-m", "dltbot.cli", "healthcheck", "--url", service.base + "/healthz"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert (check.returncode, check.stdout) == (
        0,
        f"dltbot: healthcheck: {service.base}/healthz: HTTP 200\n",
    )
    assert service.stop() < 10
    assert service.process.returncode == 0
    tail = [line.split(": ", 1)[1] for line in service.lines[-2:]]
    assert tail == ["shutting down", "stopped"]


def test_healthcheck_fails_when_nothing_answers() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dltbot.cli", "healthcheck", "--url", "http://127.0.0.1:9/healthz"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("dltbot: healthcheck: http://127.0.0.1:9/healthz: ")


def test_a_second_run_on_the_same_database_refuses(service: Running, tmp_path: Path) -> None:
    # `dltbot bot` holds the database the same way: two senders would double-post.
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": "123456:" + "A" * 35}
    for command in ("run", "bot"):
        second = subprocess.run(
            [sys.executable, "-m", "dltbot.cli", command, "--config", str(tmp_path / "config.yaml")],
            capture_output=True, text=True, timeout=30, env=env,
        )  # fmt: skip
        assert second.returncode == 1
        assert second.stderr.startswith(
            f"dltbot: error: database {tmp_path / 'db.sqlite3'} is in use by another `dltbot run` "
            "or `dltbot bot` (pid "
        )
        assert len(second.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("lists:\n  - repo: x\n    colour: red\n", "dltbot: error: lists[0].colour: unknown key"),
        (
            "telegram:\n  token_file: missing.txt\n",
            "dltbot: error: telegram.token_file: cannot read missing.txt: No such file or directory",
        ),
        (
            "storage:\n  path: blocker/db.sqlite3\n",
            "dltbot: error: storage.path: {tmp}/blocker is not writable: File exists",
        ),
        (
            "web:\n  listen: nowhere\n",
            "dltbot: error: web.listen: must be HOST:PORT, such as 127.0.0.1:8080",
        ),
    ],
)
def test_bad_setup_is_one_clear_line(tmp_path: Path, config: str, message: str) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    path = tmp_path / "config.yaml"
    path.write_text(config, encoding="utf-8")
    # A relative storage.path is under the data directory.
    result = subprocess.run(
        [sys.executable, "-m", "dltbot.cli", "run", "--config", str(path)],
        capture_output=True, text=True, timeout=30, cwd=tmp_path,
        env={**os.environ, "DLTBOT_DATA_DIR": str(tmp_path)},
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (1, message.format(tmp=tmp_path) + "\n")


def test_newer_schema_is_refused_and_older_is_migrated(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": LIST}, "start")
    db = tmp_path / "db.sqlite3"
    lists = f"  - name: good\n    repo: {repo.path}\n"
    config = write_config(tmp_path / "config.yaml", db, lists)
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    result = subprocess.run(
        [sys.executable, "-m", "dltbot.cli", "run", "--config", str(config)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == (
        f"dltbot: error: database {db}: schema version {len(MIGRATIONS) + 1} is newer than this "
        f"dltbot knows ({len(MIGRATIONS)}); upgrade dltbot or use another --db\n"
    )
    db.unlink()
    with sqlite3.connect(db) as conn:  # a database at schema 1, as the first release made it
        from dltbot.migrations import _m001_initial

        conn.isolation_level = None
        _m001_initial(conn)
        conn.execute("PRAGMA user_version = 1")
    running = Running(config)
    try:
        running.wait_log("list good synced")
    finally:
        running.stop()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)


def test_a_locked_database_is_waited_for(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": LIST}, "start")
    db = tmp_path / "db.sqlite3"
    Storage(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    config = write_config(tmp_path / "config.yaml", db, f"  - name: good\n    repo: {repo.path}\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "dltbot.cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(2.0)
    assert process.poll() is None  # waiting on the lock (busy_timeout), not failing
    holder.execute("ROLLBACK")
    holder.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with Storage(db) as storage:
            state = storage.list_state("good")
        if state is not None and state.status == "ok":
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, log = process.communicate(timeout=15)
    assert state is not None and state.status == "ok", log
    assert "Traceback" not in log


def test_telegram_down_for_a_while_loses_nothing(repo: GitRepo, tmp_path: Path) -> None:
    fake = FakeTelegram().start()
    try:
        repo.commit({"README.md": LIST}, "start")
        db = tmp_path / "db.sqlite3"
        lists = f"  - name: good\n    repo: {repo.path}\n    interval: 1m\n"
        telegram = f"telegram:\n  token: '{TOKEN}'\n  api_base_url: {fake.base_url}\n  channels: [-100777]\n"
        config = write_config(tmp_path / "config.yaml", db, lists, telegram)
        first = Running(config)  # backfills (pushes nothing) and registers the channel
        first.wait_log("list good synced")
        first.stop()
        more = LIST + "".join(f"- [N{i}](https://n.org/{i}) new\n" for i in range(30))
        repo.commit({"README.md": more}, "thirty more")
        fake.down = 502
        running = Running(config)
        try:
            running.wait_log("list good synced: 1 new commits, events: 30 added")
            time.sleep(3.0)  # the bot cannot start meanwhile (502) and retries; rows wait
            assert fake.sent == []
            fake.down = 0
            fake.wait_for(lambda: sum(s.html.count("href=") for s in fake.sent) >= 30, timeout=60)
            time.sleep(1.0)
        finally:
            running.stop()
        urls = [u for s in fake.sent for u in __import__("re").findall(r'href="([^"]+)"', s.html)]
        assert sorted(urls) == sorted(f"https://n.org/{i}" for i in range(30))
        assert {s.chat_id for s in fake.sent} == {-100777}
        assert any(c.status == 502 for c in fake.calls)
        assert TOKEN.split(":")[1] not in "\n".join(running.lines)
    finally:
        fake.stop()


def test_run_keeps_the_export_dir_up_to_date(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": LIST}, "start")
    config = write_config(
        tmp_path / "config.yaml", tmp_path / "db.sqlite3",
        f"  - name: good\n    repo: {repo.path}\n", "export:\n  dir: site\n",
    )  # fmt: skip
    running = Running(config)
    try:
        running.wait_log("exported to")
    finally:
        running.stop()
    site = tmp_path / "site"  # relative to the config file
    assert b"<title>One</title>" in (site / "lists" / "good" / "feed.atom").read_bytes()
    assert (site / "feed.json").exists() and (site / "index.html").exists()


def test_a_push_waits_for_the_card_and_carries_it(repo: GitRepo, tmp_path: Path) -> None:
    """`dltbot run` with enrichment: an addition's push and feed entry wait for its card
    (arXiv answers after 2 s here), and show its authors and the abstract's first sentences."""
    from fakeweb import FakeWeb
    from test_enrich import KAN

    fake, web = FakeTelegram().start(), FakeWeb().start()
    try:
        from fakeweb import Page

        web.papers = {"2404.19756": KAN}
        web.arxiv_delay = 2.0
        web.pages = {"one": Page(body="<title>One</title>")}
        start = f"# L\n\n## Papers\n\n- [One]({web.url('one')}) first\n"  # nothing off-machine
        repo.commit({"README.md": start}, "start")
        db = tmp_path / "db.sqlite3"
        lists = f"  - name: good\n    repo: {repo.path}\n    interval: 1m\n"
        settings = "".join(f"  {key}: {value}\n" for key, value in web.config().items())
        telegram = (
            f"telegram:\n  token: '{TOKEN}'\n  api_base_url: {fake.base_url}\n"
            "  channels: [-100777]\n"
        )
        config = write_config(
            tmp_path / "config.yaml", db, lists, telegram + "enrich:\n" + settings
        )
        first = Running(config)  # backfills (pushes nothing)
        first.wait_log("list good enriched")
        first.stop()
        kan = "- [KAN](https://arxiv.org/abs/2404.19756) ICLR 2025\n"
        repo.commit({"README.md": start + kan}, "KAN")
        running = Running(config)
        try:
            running.wait_log("list good synced: 1 new commits, events: 1 added")
            # While arXiv has not answered (2 s), the feed holds the addition back too.
            held = running.get("/feed.atom")[1]
            assert b"One" in held and b"KAN" not in held
            fake.wait_for(lambda: fake.sent, timeout=30)
            status, feed = running.get("/feed.atom")
        finally:
            running.stop()
        (message,) = fake.sent
        assert "👤 Ziming Liu, Yixuan Wang, Sachin Vaidya" in message.text
        assert "we propose Kolmogorov-Arnold Networks (KANs)" in message.text
        assert "KANs have learnable activation functions on edges." in message.text
        assert "A third sentence" not in message.text  # two sentences, not the whole abstract
        assert status == 200 and b"Ziming Liu" in feed
    finally:
        fake.stop()
        web.stop()
