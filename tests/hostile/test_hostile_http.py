"""Hostile HTTP clients against the real server (`dltbot serve` on 127.0.0.1, port 0)."""

from __future__ import annotations

import json
import re
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import GitRepo
from test_web import Server, sync

from dltbot.config import Config
from dltbot.site import Site
from dltbot.storage import Storage

LIST = (
    "# Awesome\n\n## Papers\n\n- [One](https://one.org) first\n"
    "- [Script](javascript:alert(1)) bad scheme\n- [Data](data:text/html,x) bad too\n"
)


@pytest.fixture
def served(repo: GitRepo, tmp_path: Path) -> Iterator[Server]:
    repo.commit({"README.md": LIST}, "first")
    db = tmp_path / "db.sqlite3"
    sync(repo, db)
    server = Server(db)
    yield server
    server.stop()


@pytest.mark.parametrize(
    "path",
    [
        "/api/search?q=%00abc",
        "/search?q=%00",
        "/feed.atom?q=%00",
        "/feed.atom?q=ab%01cd",
        "/lists/dlt/feed.atom?section=%1b",
        "/api/search?q=%EF%BF%BF",
        "/search?q=a%E2%80%AEb",
        "/archive/%C2%B2.atom",
        "/archive/%EF%BC%91.atom",
        "/lists/dlt/archive/%D9%A1.atom",
        "/api/search?q=" + "+".join("a" * 13),
        "/api/search?q=" + "x" * 201,
        "/search?q=" + "+".join("w" * 13),
    ],
)
def test_hostile_queries_get_a_400_naming_the_parameter(served: Server, path: str) -> None:
    status, headers, body = served.get(path)
    assert status == 400, (path, status, body)
    if path.startswith("/search?"):  # a person's page: the form again, saying what is wrong
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert b'role="alert">That search cannot be run (q: ' in body
    else:
        assert headers["Content-Type"] == "text/plain; charset=utf-8"
        assert body.startswith(b"bad request: ")
    assert served.get("/healthz")[0] == 200  # and the server lives on


def test_too_many_words_says_the_limit(served: Server) -> None:
    body = served.get("/api/search?q=" + "+".join("abcdefghijklm"))[2]
    assert body == b"bad request: q: at most 12 words\n"


def test_unsafe_links_are_never_links(served: Server) -> None:
    results = json.loads(served.get("/api/search?q=bad")[2])["results"]
    assert {r["title"]: r["url"] for r in results} == {"Script": None, "Data": None}
    page = served.get("/")[2].decode()
    assert "Script" in page
    assert 'href="javascript' not in page and 'href="data:' not in page


def test_the_page_sends_nosniff_and_a_content_security_policy(served: Server) -> None:
    headers = served.get("/")[1]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "script-src" not in headers["Content-Security-Policy"]  # no script may run
    assert served.get("/feed.atom")[1]["X-Content-Type-Options"] == "nosniff"
    assert served.get("/nowhere")[1]["X-Content-Type-Options"] == "nosniff"


def test_a_bot_write_keeps_the_feed_cache(repo: GitRepo, storage: Storage, tmp_path: Path) -> None:
    repo.commit({"README.md": LIST}, "first")
    from dltbot.models import ListSource
    from dltbot.sync import sync_list

    sync_list(storage, ListSource("dlt", str(repo.path)), tmp_path / "clones")
    site = Site(storage, Config())
    first = site.feed(None)
    storage.save_query("search", "anything", 42)
    storage.subscribe(42, 0, "", "")
    assert site.feed(None) is first  # the same rendered document: no re-render
    repo.commit({"README.md": LIST + "- [Two](https://two.org)\n"}, "second")
    sync_list(storage, ListSource("dlt", str(repo.path)), tmp_path / "clones")
    assert site.feed(None) is not first


def test_database_and_data_folder_are_private(tmp_path: Path) -> None:
    db = tmp_path / "data" / "dltbot.sqlite3"
    with Storage(db) as storage:
        storage.save_query("search", "x", 1)
    assert db.stat().st_mode & 0o777 == 0o600
    assert db.parent.stat().st_mode & 0o777 == 0o700


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


def _serve(db: Path, tmp_path: Path, request_timeout: float) -> tuple[subprocess.Popen[str], int]:
    """`dltbot serve` with 1,024 file descriptors, as a small host would have."""
    config = tmp_path / "c.yaml"
    config.write_text(
        f"storage:\n  path: {db}\nweb:\n  request_timeout: {request_timeout}\n", encoding="utf-8"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "dltbot.cli", "serve", "--config", str(config),
         "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_limit_files,
    )  # fmt: skip
    assert process.stdout is not None
    return process, int(process.stdout.readline().split("127.0.0.1:")[1].split("/")[0])


def _healthz(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as probe:
        probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return probe.recv(100)


def test_a_client_that_never_finishes_its_headers_is_cut_off(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": LIST}, "first")
    sync(repo, tmp_path / "db.sqlite3")
    process, port = _serve(tmp_path / "db.sqlite3", tmp_path, request_timeout=1)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            for _ in range(3):  # a header line now and then, as slowloris does
                time.sleep(0.4)
                slow.sendall(b"X-Slow: 1\r\n")
            assert slow.recv(100) == b""  # closed by the server, not answered
    finally:
        process.terminate()
        process.communicate(timeout=15)


def test_a_flood_of_half_open_connections_neither_stalls_nor_floods_the_log(
    repo: GitRepo, tmp_path: Path
) -> None:
    repo.commit({"README.md": LIST}, "first")
    sync(repo, tmp_path / "db.sqlite3")
    # A long timeout: the flood is still open when /healthz asks.
    process, port = _serve(tmp_path / "db.sqlite3", tmp_path, request_timeout=120)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), max(hard, 4096)))
    flood: list[socket.socket] = []
    try:
        for _ in range(1100):
            conn = socket.socket()
            conn.settimeout(5)
            try:
                conn.connect(("127.0.0.1", port))
                conn.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the rest
            except OSError:
                conn.close()
                continue
            flood.append(conn)
        assert len(flood) > 1000
        # Over the cap the oldest half-open connections make room: /healthz gets in.
        assert _healthz(port).startswith(b"HTTP/1.1 200")
        assert _healthz(port).startswith(b"HTTP/1.1 200")
    finally:
        for sock in flood:
            sock.close()
        process.terminate()
        _, log = process.communicate(timeout=15)
    lines = [line for line in log.splitlines() if line.strip()]
    assert "Traceback" not in log
    assert len(lines) < 10, log[:2000]
    assert "connection cap reached: 768 open" in log


def test_malformed_requests_get_a_400_and_no_traceback(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": LIST}, "first")
    sync(repo, tmp_path / "db.sqlite3")
    process, port = _serve(tmp_path / "db.sqlite3", tmp_path, request_timeout=5)
    try:
        for raw in (
            "GET /api/search?q=泛化 HTTP/1.1\r\nHost: x\r\n\r\n".encode(),  # unencoded UTF-8
            b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # TLS to plain HTTP
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(raw)
                assert re.match(rb"HTTP/1.[01] 400 ", conn.recv(100)), raw
    finally:
        process.terminate()
        _, log = process.communicate(timeout=15)
    assert "Traceback" not in log
    assert len(log.splitlines()) <= 2, log
