"""Measure the feed server: cached requests per second (200 and 304) and render times.

    python benchmarks/bench_web.py [--seconds 5] [--concurrency 32]

Builds a list with 600 entries in a temporary git repository, syncs it, starts `dltbot serve`
on 127.0.0.1 (port 0) in its own process, and drives it from this process with a concurrent
aiohttp client: the server has one core, the client the other. Then times the uncached render
of a 50-entry and a 500-entry feed in this process. Run by hand; nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from dltbot.config import parse_config
from dltbot.models import ListSource
from dltbot.site import Site
from dltbot.storage import Storage
from dltbot.sync import sync_list

ENTRIES = 600


def build_database(work: Path) -> Path:
    repo = work / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.org",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.org"}  # fmt: skip
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    for part in range(6):  # six commits, so additions have several dates
        lines = ["# Bench\n"]
        for section in range(part + 1):
            lines.append(f"\n## Section {section} 泛化\n\n")
            lines += [
                f"- [Entry {section}-{i} & co](https://example.org/{section}/{i}) "
                f"描述 description of entry {i}, a line of ordinary length.\n"
                for i in range(ENTRIES // 6)
            ]
        (repo / "README.md").write_text("".join(lines), encoding="utf-8")
        subprocess.run(["git", "add", "."], cwd=repo, check=True, env=env)
        subprocess.run(["git", "commit", "-qm", f"part {part}"], cwd=repo, check=True, env=env)
    db = work / "db.sqlite3"
    with Storage(db) as storage:
        report = sync_list(storage, ListSource("bench", str(repo)), work / "clones")
        assert report.error is None, report.error
    return db


async def hammer(
    url: str, headers: dict[str, str], seconds: float, concurrency: int
) -> tuple[int, float, set[int]]:
    """Send requests from `concurrency` workers for `seconds`; return count, time, statuses."""
    done = 0
    statuses: set[int] = set()
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    statuses.add(response.status)
                    done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done, time.perf_counter() - started, statuses


def render_ms(db: Path, entries: int) -> float:
    config = parse_config({"feed": {"base_url": "https://bench.example.org", "entries": entries}})
    with Storage(db) as storage:
        site = Site(storage, config)
        timings = []
        for _ in range(20):
            site._cache.clear()
            started = time.perf_counter()
            site.feed("bench")
            timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-web-"))
    db = build_database(work)
    server = subprocess.Popen(
        [sys.executable, "-m", "dltbot.cli", "serve", "--db", str(db), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        base = re.search(r"(http://127\.0\.0\.1:\d+)/", server.stdout.readline())
        assert base, "server did not start"
        url = base[1] + "/lists/bench/feed.atom"

        async def run() -> None:
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                etag = response.headers["ETag"]
                size = len(await response.read())
            for label, headers in (
                ("200, full 50-entry body", {}),
                ("200, gzip 50-entry body", {"Accept-Encoding": "gzip"}),
                ("304, If-None-Match", {"If-None-Match": etag}),
            ):
                count, elapsed, statuses = await hammer(
                    url, headers, args.seconds, args.concurrency
                )
                print(f"{label:<26} {count / elapsed:8.0f} req/s  ({count} requests, "
                      f"statuses {sorted(statuses)}, body {size} bytes uncompressed)")  # fmt: skip

        asyncio.run(run())
    finally:
        server.terminate()
        server.communicate(timeout=10)
    for entries in (50, 500):
        print(
            f"render {entries:>3}-entry feed       {render_ms(db, entries):8.1f} ms  "
            "(median of 20, uncached)"
        )


if __name__ == "__main__":
    main()
