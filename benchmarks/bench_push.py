"""Measure delivery: 1,000 additions to 1,000 chats through the fake Bot API server.

    python benchmarks/bench_push.py [--chats 1000]

Each chat subscribes with a filter that matches one of the 1,000 new additions, so the push is
1,000 messages: Telegram's own limit (30 messages/s) makes 33 s the floor, and dltbot's
configured rate (25/s) makes 40 s the target. The bot runs as `dltbot bot` in its own process
(its peak memory is read from /proc), the fake server in this one. Run by hand.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakebot import TOKEN, FakeTelegram

from dltbot.models import ListSource
from dltbot.storage import Storage
from dltbot.sync import sync_list


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.org",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.org"}  # fmt: skip
    subprocess.run(["git", *args], cwd=repo, check=True, env=env, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=1000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-push-"))
    repo = work / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text(
        "## Old\n\n- [Old](https://old.example.org)\n", encoding="utf-8"
    )
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "history")
    db = work / "db.sqlite3"
    with Storage(db) as storage:
        assert sync_list(storage, ListSource("bench", str(repo)), work / "clones").error is None
        for number in range(args.chats):
            storage.subscribe(10_000 + number, 0, "bench", f"k{number:05d}q")
        lines = [f"- [Item k{n:05d}q](https://example.org/{n}) an addition\n" for n in range(1000)]
        (repo / "README.md").write_text("## New\n\n" + "".join(lines), encoding="utf-8")
        git(repo, "commit", "-qam", "1000 additions")
        assert sync_list(storage, ListSource("bench", str(repo)), work / "clones").error is None

    fake = FakeTelegram().start()
    config = work / "config.yaml"
    config.write_text(
        f"storage:\n  path: {db}\nlists:\n  - name: bench\n    repo: unused\n"
        f"telegram:\n  token: '{TOKEN}'\n  api_base_url: {fake.base_url}\n",
        encoding="utf-8",
    )
    bot = subprocess.Popen(
        [sys.executable, "-m", "dltbot.cli", "bot", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        fake.wait_for(lambda: fake.sent, timeout=60)
        started = min(s.at for s in fake.sent)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with Storage(db) as storage:
                if storage.outbox_counts().get("pending", 0) == 0:
                    break
            time.sleep(0.2)
        finished = max(s.at for s in fake.sent)
        peak_kb = next(
            int(line.split()[1])
            for line in Path(f"/proc/{bot.pid}/status").read_text().splitlines()
            if line.startswith("VmHWM:")
        )
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=30)
        fake.stop()
    messages = len(fake.sent)
    errors = sorted({c.status for c in fake.calls if c.status != 200})
    seconds = finished - started
    rate = (messages - 1) / seconds if seconds else 0.0
    print(f"messages delivered:    {messages} to {len({s.chat_id for s in fake.sent})} chats")
    print(f"time to deliver:       {seconds:.1f} s  (first to last accepted sendMessage)")
    print(f"send rate:             {rate:.1f} messages/s  (target 25/s within 10%; floor 30/s)")
    print(f"error statuses:        {errors or 'none'}")
    print(f"peak memory of the bot: {peak_kb / 1024:.0f} MB  (VmHWM of the dltbot bot process)")


if __name__ == "__main__":
    main()
