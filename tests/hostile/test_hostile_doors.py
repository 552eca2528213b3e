"""The doors the last round added, attacked: bytes that are not UTF-8 in secret headers and
paths, JSON nested past the parser, request text in the flood log, slow and many bodies, pages
nested deep enough to stall the HTML parser, and every secret in a DEBUG log."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo
from fakebot import TOKEN, FakeTelegram
from fakeweb import FakeWeb, MapResolver, Page
from test_enrich import states, synced
from test_hooks import HookServer, github_headers, github_push, signed
from test_service import Running, write_config

from dltbot import logfilter, web
from dltbot.config import Config, EnrichConfig, webhook_secret
from dltbot.enrich import Enricher
from dltbot.site import Site
from dltbot.storage import Storage

TG_SECRET = "t" * 40


@pytest.fixture
def flood(monkeypatch: pytest.MonkeyPatch) -> web._FloodLog:
    """A fresh flood log (the module's one remembers what earlier tests logged)."""
    fresh = web._FloodLog()
    monkeypatch.setattr(web, "_FLOOD", fresh)
    return fresh


@pytest.fixture
def doors(tmp_path: Path) -> Iterator[tuple[HookServer, list[Any]]]:
    accepted: list[Any] = []

    async def accept(data: Any) -> None:
        accepted.append(data)

    server = HookServer(tmp_path, serve={"telegram": web.TelegramHook(TG_SECRET, accept)})
    yield server, accepted
    server.close()


def raw_post(port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", path, body=body, headers=headers)  # values go out as latin-1 bytes
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]


def test_bytes_that_are_not_utf8_in_secrets_are_refused_in_the_flood_log(
    doors: tuple[HookServer, list[Any]], flood: web._FloodLog, caplog: pytest.LogCaptureFixture
) -> None:
    server, accepted = doors
    caplog.set_level(logging.WARNING)
    body = github_push()
    gitea = {"X-Gitea-Event": "push", "Content-Type": "application/json"}
    cases = [
        ("/hooks/github", {**github_headers(body), "X-Hub-Signature-256": "sha256=\xff"}, 403),
        ("/hooks/gitea", {**gitea, "X-Gitea-Signature": "\xff" * 64}, 403),
        ("/hooks/gitlab", {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "\xff\xfe"}, 403),
        (f"/telegram/{TG_SECRET}", {"X-Telegram-Bot-Api-Secret-Token": "\xff"}, 403),
        ("/telegram/%C3%A9", {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}, 404),
        ("/telegram/%FF", {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}, 404),
    ]
    for _ in range(25):
        for path, headers, status in cases:
            assert raw_post(server.server.port, path, body, headers) == status, path
    # 150 refusals: no traceback, one counted line per kind of refusal.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    lines = refusals(caplog)
    assert len(lines) == 4, lines
    assert {line.split(" refused")[0] for line in lines} == {
        "webhook github", "webhook gitea", "webhook gitlab", "telegram webhook"
    }  # fmt: skip
    assert flood.counts["telegram webhook refused"] == 75 - 1  # the first one was logged
    assert server.triggered == [] and accepted == []


def test_json_nested_past_the_parser_is_a_400(doors: tuple[HookServer, list[Any]]) -> None:
    server, accepted = doors
    nested = b"[" * 100_000 + b"]" * 100_000
    assert server.post("/hooks/github", nested, github_headers(nested))[0] == 400
    headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    assert raw_post(server.server.port, f"/telegram/{TG_SECRET}", nested, headers) == 400
    nested_object = b'{"update_id": 1, "message": ' + b'{"a":' * 100_000 + b"1" + b"}" * 100_001
    assert raw_post(server.server.port, f"/telegram/{TG_SECRET}", nested_object, headers) == 400
    assert server.triggered == [] and accepted == []


def test_request_text_is_never_a_log_format_and_the_flood_keys_are_bounded(
    hooks: HookServer, flood: web._FloodLog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    body = github_push()
    for number in range(200):
        path = f"/hooks/github?list=%25s%25s%25d{number}"
        assert hooks.post(path, body, github_headers(body))[0] == 404
    lines = refusals(caplog)  # getMessage() raises on a format string short of arguments
    assert len(lines) == 1 and "no list named '%s%s%d0'" in lines[0]
    assert list(flood.counts) == ["webhook github refused"]
    # However many kinds come, the log keeps at most KINDS of them.
    for number in range(1000):
        flood.note(f"kind {number}", "detail")
    assert len(flood.counts) == len(flood.last) == web._FloodLog.KINDS


@pytest.fixture
def hooks(tmp_path: Path) -> Iterator[HookServer]:
    server = HookServer(tmp_path)
    yield server
    server.close()


def wait_until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def opened(port: int, head: bytes, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head + body)
    return sock


def answer(sock: socket.socket) -> bytes:
    """What the server sent before it closed the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    return data


def test_slow_bodies_meet_a_deadline_and_many_share_a_budget(tmp_path: Path) -> None:
    # Pacing injected: a 0.5 s deadline and a 100 KB budget stand for 15 s and 8 MB.
    server = HookServer(tmp_path, serve={"request_timeout": 0.5, "body_budget": 100_000})
    port = server.server.port
    bodies = server_bodies(server)
    try:
        # A byte every 50 ms, forever: cut at the deadline, answered 408 and closed.
        sock = opened(
            port, b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
        )
        started = time.monotonic()
        try:
            while time.monotonic() - started < 10:
                sock.sendall(b"x")
                time.sleep(0.05)
        except OSError:
            pass  # the server closed it
        assert answer(sock).startswith(b"HTTP/1.1 408 ")
        # Bodies held while unfinished count against the budget, across connections.
        head = b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n"
        first = opened(port, head, b"x" * 30_000)
        wait_until(lambda: bodies.held == 30_000)
        second = opened(port, head, b"x" * 30_000)
        wait_until(lambda: bodies.held == 60_000)
        # Declares more than is left: refused before a byte of it is read.
        third = opened(port, head, b"x" * 30_000)
        assert answer(third).startswith(b"HTTP/1.1 503 ")
        # Chunked (no length declared): refused once what it sent would pass the budget.
        chunked = b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        fourth = opened(port, chunked, b"%x\r\n%s\r\n" % (50_000, b"x" * 50_000))
        assert answer(fourth).startswith(b"HTTP/1.1 503 ")
        assert bodies.peak <= bodies.total
        # The slow two reach the deadline; everything they held is given back.
        assert answer(first).startswith(b"HTTP/1.1 408 ")
        assert answer(second).startswith(b"HTTP/1.1 408 ")
        assert bodies.held == 0
        # And a real delivery still gets in.
        body = github_push()
        assert server.post("/hooks/github", body, github_headers(body))[0] == 202
    finally:
        server.close()


def server_bodies(server: HookServer) -> web.BodyBudget:
    return server.server.runner.app[web.BODIES]


DEEP = "<html><head><title>Deep</title></head><body>" + "<div>" * 60_000 + "</body></html>"


def test_deep_pages_are_cut_at_the_deadline_while_healthz_answers(
    repo: GitRepo, tmp_path: Path
) -> None:
    fake = FakeWeb().start()
    try:
        fake.pages = {f"deep{n}": Page(body=DEEP) for n in range(3)}
        fake.pages["fine"] = Page(body="<title>Fine</title>")
        text = "# L\n\n" + "".join(f"- [{name}]({fake.url(name)})\n" for name in fake.pages)
        db = synced(repo, tmp_path, text)
        settings = fake.config(parse_timeout=0.3)
        enricher = Enricher(EnrichConfig(**settings), db, "https://feeds.example.org",
                            resolver=MapResolver({"localhost": "127.0.0.1"}))  # fmt: skip
        answers: list[tuple[int, float]] = []

        async def main() -> None:
            storage = Storage(db)
            server = await web.start(Site(storage, Config()), "127.0.0.1", 0)
            passing = asyncio.ensure_future(enricher.run())

            def poll() -> None:  # a monitor asking /healthz all through the pass
                while not passing.done():
                    started = time.monotonic()
                    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
                    conn.request("GET", "/healthz")
                    response = conn.getresponse()
                    response.read()
                    conn.close()
                    answers.append((response.status, time.monotonic() - started))

            monitor = threading.Thread(target=poll)
            monitor.start()
            await passing
            await asyncio.to_thread(monitor.join)
            await server.cleanup()
            storage.close()

        asyncio.run(main())
        assert enricher.pages.killed == 3
        found = states(db)
        assert found[fake.url("fine")].card.title == "Fine"  # type: ignore[union-attr]
        assert all(found[fake.url(f"deep{n}")].card is None for n in range(3))
        # Each deep page held the parser its 0.3 s: /healthz was asked (and answered 200)
        # many times meanwhile, where before one answer waited for every page to parse.
        assert len(answers) >= 10 and {status for status, _ in answers} == {200}
        print("healthz while deep pages parse: worst %.1f ms" % (1000 * max(t for _, t in answers)))
    finally:
        fake.stop()


def test_the_log_filter_survives_a_bad_format_string() -> None:
    logfilter.hide("the-secret-value-123")
    record = logging.LogRecord(
        "x", logging.DEBUG, __file__, 1, "%s and %d", ("the-secret-value-123",), None
    )
    assert logfilter.FILTER.filter(record)
    assert "the-secret-value-123" not in record.getMessage() and "<secret>" in record.getMessage()


def test_no_secret_reaches_a_debug_log(repo: GitRepo, tmp_path: Path) -> None:
    """`dltbot run -v` in Telegram webhook mode, with every secret set: none reaches a line."""
    fake = FakeTelegram().start()
    try:
        repo.commit({"README.md": "# L\n\n- [One](https://one.org) first\n"}, "one")
        password, hook_secret, github_token = (
            "hunter2-hunter2",
            "forge-secret-0123456789",
            "ghp_" + "A" * 36,
        )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        lists = (
            f"  - name: l\n    repo: {repo.path}\n    interval: 1h\n"
            f"  - name: private\n    repo: https://reader:{password}@127.0.0.1:9/x.git\n"
        )
        extra = (
            f"telegram:\n  token: '{TOKEN}'\n  api_base_url: {fake.base_url}\n"
            f"  webhook_url: http://127.0.0.1:{port}\n"
            f"webhooks:\n  secret: {hook_secret}\n"
            f"enrich:\n  enabled: true\n  github_token: {github_token}\n"
            f"  github_api: http://127.0.0.1:9\n  arxiv_api: http://127.0.0.1:9/a\n"
            f"  crossref_api: http://127.0.0.1:9\n"
            f"web:\n  listen: 127.0.0.1:{port}\n"
        )
        config = write_config(tmp_path / "c.yaml", tmp_path / "db.sqlite3", lists, extra)
        config.write_text(config.read_text().replace("web:\n  listen: 127.0.0.1:0\n", "", 1))
        running = Running(config, "-v")
        try:
            running.wait_log("bot started (webhook)")
            running.wait_log("list private sync failed")
            # The debug line that carried the webhook's secret is there, without it.
            line = running.wait_log("Calling Bot API endpoint `setWebhook`")
            assert "<secret>" in line
            body = github_push()
            status = raw_post(port, "/hooks/github", body, {**github_headers(body),
                              "X-Hub-Signature-256": signed(body, hook_secret)})  # fmt: skip
            assert status == 404  # verified (no list follows that repository)
        finally:
            running.stop()
        log = "\n".join(running.lines)
        for secret in (TOKEN, webhook_secret(TOKEN), hook_secret, github_token, password):
            assert secret not in log, secret
        assert json.dumps(TOKEN)[1:-1] not in log
    finally:
        fake.stop()
