"""From a push to the reader: how long after a signed webhook the entry is out.

    python benchmarks/bench_latency.py [--runs 20]

A local bare repository is the remote; `dltbot run` follows it with a 1 h interval (so only
the webhook can be the trigger), with Telegram pointed at the project's fake Bot API and one
chat subscribed. Each run pushes a commit adding one entry, POSTs a signed GitHub push
delivery, and times until (a) `/feed.atom` holds the entry, (b) a fake WebSub hub got the
publish ping for `/feed.atom`, and (c) the fake Bot API got the push message for it. Run by
hand; nothing here is a test.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakebot import TOKEN, FakeTelegram
from fakehub import FakeHub

from dltbot.storage import Storage

SECRET = "bench-secret-bench-secret"
CHAT = 4242


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.org", *args],
        cwd=cwd, check=True, capture_output=True,
    )  # fmt: skip


def post_push(port: int) -> int:
    body = json.dumps({"ref": "refs/heads/main", "repository": {}}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/hooks/github?list=bench", body=body, headers={
        "X-GitHub-Event": "push", "X-Hub-Signature-256": signature,
    })  # fmt: skip
    status = conn.getresponse().status
    conn.close()
    return status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    remote, clone = work / "remote.git", work / "clone"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True,
                   capture_output=True)  # fmt: skip
    readme = clone / "README.md"
    lines = ["# Bench\n\n## New\n\n", "- [Start](https://example.org/start) first\n"]
    readme.write_text("".join(lines), encoding="utf-8")
    git(clone, "add", ".")
    git(clone, "commit", "-qm", "start")
    git(clone, "push", "-q", "origin", "HEAD:main")

    fake = FakeTelegram().start()
    hub = FakeHub().start()
    db = work / "db.sqlite3"
    config = work / "config.yaml"
    config.write_text(
        f"storage:\n  path: {db}\nweb:\n  listen: 127.0.0.1:0\n"
        f"lists:\n  - name: bench\n    repo: {remote}\n    interval: 1h\n"
        f"webhooks:\n  secret: {SECRET}\nenrich:\n  enabled: false\n"
        f"feed:\n  websub_hub: {hub.url}\n"
        f"telegram:\n  token: '{TOKEN}'\n  api_base_url: {fake.base_url}\n",
        encoding="utf-8",
    )
    service = subprocess.Popen(
        [sys.executable, "-m", "dltbot.cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    log: list[str] = []
    assert service.stderr is not None
    stderr = service.stderr
    threading.Thread(target=lambda: log.extend(stderr), daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while not any("list bench synced" in line for line in log):
            assert time.monotonic() < deadline and service.poll() is None, "".join(log)
            time.sleep(0.05)
        port = int(next(line for line in log if "serving http://" in line)
                   .split("127.0.0.1:", 1)[1].split("/", 1)[0])  # fmt: skip
        with Storage(db) as storage:
            storage.subscribe(CHAT, 0, "bench", "")
        feed_times: list[float] = []
        hub_times: list[float] = []
        push_times: list[float] = []
        for number in range(args.runs):
            title = f"Latency entry {number}"
            lines.append(f"- [{title}](https://example.org/{number}) added\n")
            readme.write_text("".join(lines), encoding="utf-8")
            git(clone, "commit", "-qam", f"add {number}")
            git(clone, "push", "-q", "origin", "HEAD:main")
            pings = len(hub.pings)
            started = time.monotonic()
            assert post_push(port) == 202
            feed_at = pushed_at = hub_at = None
            while feed_at is None or pushed_at is None or hub_at is None:
                now = time.monotonic()
                assert now - started < 30, f"run {number}: not out after 30 s"
                if feed_at is None:
                    url = f"http://127.0.0.1:{port}/feed.atom"
                    with urllib.request.urlopen(url, timeout=5) as response:
                        if title.encode() in response.read():
                            feed_at = time.monotonic() - started
                if pushed_at is None and any(title in s.text for s in list(fake.sent)):
                    pushed_at = time.monotonic() - started
                topic = f"http://127.0.0.1:{port}/feed.atom"
                if hub_at is None and any(
                    p["hub.url"] == topic for p in hub.pings[pings:]
                ):  # fmt: skip
                    hub_at = time.monotonic() - started
                time.sleep(0.01)
            feed_times.append(feed_at)
            hub_times.append(hub_at)
            push_times.append(pushed_at)
            time.sleep(1.1)  # Telegram allows one message a second to a chat: runs apart
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=30)
        fake.stop()
        hub.stop()

    def summary(times: list[float]) -> str:
        return (f"median {statistics.median(times) * 1000:.0f} ms, "
                f"worst {max(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms")  # fmt: skip

    print(f"runs:                         {args.runs} (push + signed webhook each)")
    print(
        f"(a) entry in /feed.atom:      {summary(feed_times)}  (target < 1 s median, < 3 s worst)"
    )
    print(f"(b) hub got the publish ping: {summary(hub_times)}")
    print(f"(c) push message to the chat: {summary(push_times)}")
    for label, times in (("(b)", hub_times), ("(c)", push_times)):
        lag = [later - feed for later, feed in zip(times, feed_times, strict=True)]
        print(f"    {label} after (a):            median {statistics.median(lag) * 1000:.0f} ms, "
              f"worst {max(lag) * 1000:.0f} ms  (target within 1 s)")  # fmt: skip


if __name__ == "__main__":
    main()
