"""Push webhooks over the real HTTP server on 127.0.0.1: signatures, replays, list and branch
matching, limits; and `dltbot run` syncing on a signed push, coalescing a burst."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo
from fakebot import TOKEN, FakeTelegram
from test_service import Running, write_config

from dltbot import web
from dltbot.config import Config, parse_config, webhook_secret
from dltbot.hooks import Receiver, repo_key
from dltbot.site import Site
from dltbot.storage import Storage

SECRET = "s3cret-s3cret-s3cret"
REPO = "https://github.com/Owner/Awesome-Thing"


def github_push(ref: str = "refs/heads/main", clone_url: str = REPO + ".git") -> bytes:
    return json.dumps(
        {
            "ref": ref,
            "repository": {
                "clone_url": clone_url,
                "html_url": "https://github.com/owner/awesome-thing",
                "ssh_url": "git@github.com:owner/awesome-thing.git",
                "default_branch": "main",
            },
        }
    ).encode()


def signed(body: bytes, secret: str = SECRET, prefix: str = "sha256=") -> str:
    return prefix + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_headers(body: bytes, event: str = "push", delivery: str | None = None) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": signed(body),
        "Content-Type": "application/json",
    }


class HookServer:
    """The real aiohttp server on a loopback port in its own thread, with a receiver whose
    syncs are recorded."""

    def __init__(
        self,
        tmp_path: Path,
        secret: str | None = SECRET,
        serve: dict[str, Any] | None = None,
        **webhooks: object,
    ) -> None:
        self.triggered: list[str] = []
        self.accepting = True
        lists = [
            {"name": "awesome", "repo": REPO, "branch": "main"},
            {"name": "other", "repo": "git@gitlab.com:group/other-list.git"},
            {"name": "gitea", "repo": "https://codeberg.org/o/list"},
        ]
        self.config = parse_config({"lists": lists, "webhooks": {"secret": secret, **webhooks}})
        self.storage = Storage(tmp_path / "db.sqlite3")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        receiver = None
        if secret:
            receiver = Receiver(secret, self.config.sources(), self._trigger)
        self.server = asyncio.run_coroutine_threadsafe(
            web.start(
                Site(self.storage, Config()), "127.0.0.1", 0, receiver=receiver,
                max_hook_body=self.config.webhooks.max_body_size, **(serve or {}),
            ),
            self.loop,
        ).result(10)  # fmt: skip

    def _trigger(self, name: str) -> bool:
        if self.accepting:
            self.triggered.append(name)
        return self.accepting

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, json.loads(data) if data.startswith(b"{") else {}

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.storage.close()


@pytest.fixture
def hooks(tmp_path: Path) -> Iterator[HookServer]:
    server = HookServer(tmp_path)
    yield server
    server.close()


def test_a_signed_github_push_starts_a_sync_and_a_forged_one_nothing(hooks: HookServer) -> None:
    body = github_push()
    assert hooks.post("/hooks/github", body, github_headers(body)) == (
        202,
        {"status": "sync of awesome queued"},
    )
    assert hooks.triggered == ["awesome"]
    wrong = {**github_headers(body), "X-Hub-Signature-256": signed(body, "not-the-secret-at-all")}
    assert hooks.post("/hooks/github", body, wrong)[0] == 403
    missing = github_headers(body)
    del missing["X-Hub-Signature-256"]
    assert hooks.post("/hooks/github", body, missing)[0] == 401
    # The signature covers the body: the same header on another body is refused.
    other = github_push(ref="refs/heads/evil")
    assert hooks.post("/hooks/github", other, github_headers(body))[0] == 403
    assert hooks.triggered == ["awesome"]


def test_a_replayed_delivery_is_ignored_ping_answered_other_events_ignored(
    hooks: HookServer,
) -> None:
    body = github_push()
    headers = github_headers(body, delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert hooks.post("/hooks/github", body, headers)[0] == 202
    assert hooks.post("/hooks/github", body, headers) == (
        200,
        {"status": "delivery seen before; ignored"},
    )
    ping = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    assert hooks.post("/hooks/github", ping, github_headers(ping, "ping")) == (
        200,
        {"status": "pong"},
    )
    star = b'{"action": "created"}'
    assert hooks.post("/hooks/github", star, github_headers(star, "star"))[0] == 202
    assert hooks.triggered == ["awesome"]


def test_list_by_url_spellings_by_name_and_the_branch_filter(hooks: HookServer) -> None:
    for url in (REPO, REPO.lower() + ".git/", "git@github.com:OWNER/awesome-thing.git"):
        body = github_push(clone_url=url)
        assert hooks.post("/hooks/github", body, github_headers(body))[0] == 202
    assert hooks.triggered == ["awesome"] * 3
    elsewhere = json.dumps(
        {"ref": "refs/heads/main", "repository": {"clone_url": "https://github.com/x/y.git"}}
    ).encode()
    status, answer = hooks.post("/hooks/github", elsewhere, github_headers(elsewhere))
    assert status == 404 and "?list=NAME" in answer["error"]
    # A mirror's hook names its list.
    assert hooks.post("/hooks/github?list=gitea", elsewhere, github_headers(elsewhere))[0] == 202
    assert hooks.post("/hooks/github?list=nosuch", elsewhere, github_headers(elsewhere))[0] == 404
    dev = github_push(ref="refs/heads/dev")
    status, answer = hooks.post("/hooks/github", dev, github_headers(dev))
    assert status == 202 and "not the branch awesome follows" in answer["status"]
    assert hooks.triggered == ["awesome"] * 3 + ["gitea"]


def test_gitlab_token_and_gitea_signature(hooks: HookServer) -> None:
    body = json.dumps(
        {
            "object_kind": "push",
            "ref": "refs/heads/main",
            "project": {
                "git_http_url": "https://gitlab.com/group/other-list.git",
                "git_ssh_url": "git@gitlab.com:group/other-list.git",
                "default_branch": "main",
            },
        }
    ).encode()
    gitlab = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET}
    assert hooks.post("/hooks/gitlab", body, gitlab)[0] == 202
    assert hooks.post("/hooks/gitlab", body, {**gitlab, "X-Gitlab-Token": "guess"})[0] == 403
    assert hooks.post("/hooks/gitlab", body, {"X-Gitlab-Event": "Push Hook"})[0] == 401
    gitea_body = json.dumps(
        {
            "ref": "refs/heads/main",
            "repository": {"clone_url": "https://codeberg.org/o/list.git"},
        }
    ).encode()
    gitea = {"X-Gitea-Event": "push", "X-Gitea-Signature": signed(gitea_body, prefix="")}
    assert hooks.post("/hooks/gitea", gitea_body, gitea)[0] == 202
    assert hooks.post("/hooks/gitea", gitea_body, {**gitea, "X-Gitea-Signature": "00"})[0] == 403
    assert hooks.triggered == ["other", "gitea"]


def test_hostile_deliveries_are_refused_and_lose_nothing(hooks: HookServer) -> None:
    cases: list[tuple[bytes, int]] = [
        (b"not json at all", 400),
        (b"[1, 2, 3]", 400),
        (json.dumps({"ref": 7, "repository": "\x00\u202e"}).encode(), 404),
        (json.dumps({"ref": "refs/heads/main", "repository": {"clone_url": ["x"]}}).encode(), 404),
        (b'{"ref": "' + b"a" * 900_000 + b'"}', 404),
    ]
    for body, status in cases:
        assert hooks.post("/hooks/github", body, github_headers(body))[0] == status, body[:40]
    # Declared over the limit: answered 413 and closed before the body is read (a client still
    # sending may see the connection close under it: the answer is read from a raw socket).
    with socket.create_connection(("127.0.0.1", hooks.server.port), timeout=10) as sock:
        sock.sendall(b"POST /hooks/github HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 1000001\r\n\r\n" + b"x" * 1000)  # fmt: skip
        assert sock.recv(100).startswith(b"HTTP/1.1 413 ")
    assert hooks.post("/hooks/nosuchforge", b"{}", {})[0] == 404
    assert hooks.triggered == []
    # Still serving, and a good delivery still works.
    body = github_push()
    assert hooks.post("/hooks/github", body, github_headers(body))[0] == 202


def test_without_a_secret_the_endpoints_do_not_exist(tmp_path: Path) -> None:
    server = HookServer(tmp_path, secret=None)
    try:
        body = github_push()
        assert server.post("/hooks/github", body, github_headers(body))[0] == 404
    finally:
        server.close()


def test_a_push_while_stopping_is_refused_for_a_redelivery(hooks: HookServer) -> None:
    hooks.accepting = False
    body = github_push()
    headers = github_headers(body)
    assert hooks.post("/hooks/github", body, headers)[0] == 503
    hooks.accepting = True  # the forge redelivers once the service is back
    assert hooks.post("/hooks/github", body, headers)[0] == 202
    assert hooks.triggered == ["awesome"]


def test_repo_key_spellings() -> None:
    assert repo_key("https://user:pw@GitHub.com:443/O/R.git/") == "github.com/o/r"
    assert repo_key("ssh://git@github.com/o/r") == "github.com/o/r"
    assert repo_key("git@github.com:o/r.git") == "github.com/o/r"
    assert repo_key("/srv/git/list") == ""


# --- `dltbot run`: a signed push syncs at once; a burst coalesces ----------------------------


def post_push(running: Running, body: bytes) -> int:
    host, port = running.base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", "/hooks/github?list=l", body=body, headers=github_headers(body))
    status = conn.getresponse().status
    conn.close()
    return status


def syncs(running: Running) -> int:
    return sum(1 for line in running.lines if "list l synced:" in line)


def wait_until(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_run_syncs_on_a_signed_push_and_coalesces_a_burst(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": "# L\n\n- [One](https://one.org) first\n"}, "one")
    lists = f"  - name: l\n    repo: {repo.path}\n    interval: 1h\n"
    config = write_config(
        tmp_path / "c.yaml", tmp_path / "db.sqlite3", lists, f"webhooks:\n  secret: {SECRET}\n"
    )
    running = Running(config)
    try:
        running.wait_log("list l synced: 1 new commits")
        repo.commit(
            {"README.md": "# L\n\n- [One](https://one.org) first\n- [Two](https://two.org)\n"},
            "two",
        )
        started = time.monotonic()
        assert post_push(running, github_push()) == 202
        running.wait_log("list l synced: 1 new commits, events: 1 added")
        assert time.monotonic() - started < 10  # not the 1 h interval
        before = syncs(running)
        repo.commit({"README.md": "# L\n\n- [Three](https://three.org)\n"}, "three")
        assert [post_push(running, github_push()) for _ in range(10)] == [202] * 10
        wait_until(lambda: syncs(running) > before)
        time.sleep(1.5)  # any queued sync has run by now
        assert 1 <= syncs(running) - before <= 2
        with Storage(tmp_path / "db.sqlite3") as storage:  # recorded once, not per push
            three = [
                (e.kind, e.entry.title) for e in storage.events() if e.commit.summary == "three"
            ]
        assert sorted(three) == [("added", "Three"), ("removed", "One"), ("removed", "Two")]
        # A push arriving while the service stops: refused or not connected, never synced.
        before = syncs(running)
        running.process.send_signal(signal.SIGTERM)
        try:
            status = post_push(running, github_push())
        except OSError:
            status = 0
        assert status in (0, 503)
        running.stop()
        assert syncs(running) == before
    finally:
        if running.process.poll() is None:
            running.stop()


# --- Telegram's webhook: updates pushed to `dltbot run`, and back to polling ----------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_telegram_webhook_mode_end_to_end_and_back_to_polling(
    repo: GitRepo, tmp_path: Path
) -> None:
    fake = FakeTelegram().start()
    try:
        repo.commit({"README.md": "# L\n\n- [One](https://one.org) first\n"}, "one")
        port = free_port()
        lists = f"  - name: l\n    repo: {repo.path}\n    interval: 1h\n"
        telegram = f"telegram:\n  token: '{TOKEN}'\n  api_base_url: {fake.base_url}\n"
        hooked = telegram + f"  webhook_url: http://127.0.0.1:{port}\n"
        config = write_config(
            tmp_path / "c.yaml", tmp_path / "db.sqlite3", lists,
            hooked + f"web:\n  listen: 127.0.0.1:{port}\n",
        )  # fmt: skip
        config.write_text(config.read_text().replace("web:\n  listen: 127.0.0.1:0\n", ""))
        running = Running(config)
        try:
            running.wait_log("bot started (webhook)")
            assert fake.webhook is not None
            secret = webhook_secret(TOKEN)
            assert fake.webhook["url"] == f"http://127.0.0.1:{port}/telegram/{secret}"
            assert fake.webhook["secret_token"] == secret
            assert {"message", "callback_query", "inline_query"} <= set(
                json.loads(fake.webhook["allowed_updates"])
            )
            fake.message("/help")
            reply = fake.wait_for(lambda: [s for s in fake.sent if s.chat_id == 1001])
            assert "/search" in reply[0].text and fake.webhook_answers == [200]
            # Forged pushes: the wrong header, or a path without the secret.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            body = json.dumps({"update_id": 99, "message": {"text": "/help"}})
            for path, header, status in (
                (f"/telegram/{secret}", "guess", 403),
                ("/telegram/guess", secret, 404),
            ):
                conn.request("POST", path, body=body,
                             headers={"X-Telegram-Bot-Api-Secret-Token": header})  # fmt: skip
                answer = conn.getresponse()
                answer.read()
                assert answer.status == status
            conn.close()
            assert fake.calls_of("getUpdates") == []  # no polling meanwhile
        finally:
            running.stop()
        # The key removed: the webhook is deleted on start and updates are polled again.
        config.write_text(
            config.read_text().replace(f"  webhook_url: http://127.0.0.1:{port}\n", "")
        )
        running = Running(config)
        try:
            running.wait_log("bot started (polling)")
            assert fake.webhook is None and fake.calls_of("deleteWebhook")
            sent = len(fake.sent)
            fake.message("/help")
            fake.wait_for(lambda: len(fake.sent) > sent)
        finally:
            running.stop()
    finally:
        fake.stop()


def test_admin_sync_goes_through_the_service_jobs(repo: GitRepo, tmp_path: Path) -> None:
    """/sync in `dltbot run` asks the service's own jobs (the ones polls and webhooks use),
    and answers with what each list brought."""
    fake = FakeTelegram().start()
    try:
        repo.commit({"README.md": "# L\n\n- [One](https://one.org) first\n"}, "one")
        lists = f"  - name: l\n    repo: {repo.path}\n    interval: 1h\n"
        telegram = (
            f"telegram:\n  token: '{TOKEN}'\n  api_base_url: {fake.base_url}\n  admins: [1001]\n"
        )
        running = Running(
            write_config(tmp_path / "c.yaml", tmp_path / "db.sqlite3", lists, telegram)
        )
        try:
            running.wait_log("list l synced: 1 new commits")
            running.wait_log("bot started")
            repo.commit(
                {"README.md": "# L\n\n- [One](https://one.org) first\n- [Two](https://two.org)\n"},
                "2",
            )
            fake.message("/sync")
            done = fake.wait_for(lambda: [s for s in fake.sent if s.text.startswith("Sync done")])
            assert done[0].text == "Sync done: l: 1 commits, 1 added"
            assert syncs(running) == 2  # the service's job logged it, as any other sync
        finally:
            running.stop()
    finally:
        fake.stop()


def test_unsigned_headers_are_cleaned_before_logs_and_answers(hooks: HookServer) -> None:
    star = b'{"action": "created"}'
    # Raw controls never get past aiohttp (400); a byte that is not UTF-8 and a soft hyphen do.
    headers = {**github_headers(star), "X-GitHub-Event": "st\xadar\xff" + "x" * 500}
    status, answer = hooks.post("/hooks/github", star, headers)
    assert status == 202 and answer["status"].isprintable() and "star" in answer["status"]
    assert len(answer["status"]) < 100
