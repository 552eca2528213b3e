"""Measure what hostile input costs: peak memory of a huge list file, /healthz under a flood of
heavy searches.

    python benchmarks/bench_hostile.py [../shared/fixtures/awesome-go.bundle]

1. Peak memory (max RSS) of a fresh `dltbot sync` process on a repository whose README is
   4.9 MB of "a\\n" lines (the worst shape: millions of parser events, just under the 5 MB
   default limit), and on one of 10 MB (over the limit: refused without being read).
2. `dltbot serve` on the awesome-go bundle's database (or a generated 3,000-entry list when no
   bundle is given): 20 clients send /api/search with 12 one-letter words (the most a query may
   hold) back to back, while one client times /healthz. Run by hand; nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.org",
       "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.org"}  # fmt: skip


def repo_with(work: Path, name: str, text: bytes) -> Path:
    repo = work / name
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "README.md").write_bytes(text)
    subprocess.run(["git", "add", "."], cwd=repo, check=True, env=ENV)
    subprocess.run(["git", "commit", "-qm", "big"], cwd=repo, check=True, env=ENV)
    return repo


# Runs one command and prints its own children's peak RSS: a fresh figure for each command
# (this process's RUSAGE_CHILDREN keeps the largest child so far).
_MEASURE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)"
)


def sync_peak(repo: Path, db: Path) -> tuple[float, int, str]:
    """Run `dltbot sync` in a child; return seconds, its max RSS in MB and its last line."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "dltbot.cli", "sync",
         "--repo", str(repo), "--db", str(db)],
        capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    peak = int(result.stdout.strip().splitlines()[-1])
    lines = result.stderr.strip().splitlines()
    return seconds, peak, lines[-1] if lines else ""


async def flood(base: str, seconds: float) -> tuple[list[float], int]:
    words = "+".join("etaoinsrhlcd")  # twelve one-letter words
    searches = 0
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession() as session:

        async def searcher() -> None:
            nonlocal searches
            while time.perf_counter() < deadline:
                async with session.get(f"{base}/api/search?q={words}") as response:
                    await response.read()
                    assert response.status == 200, response.status
                    searches += 1

        async def prober() -> None:
            await asyncio.sleep(0.5)
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.get(f"{base}/healthz") as response:
                    await response.read()
                latencies.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.1)

        await asyncio.gather(prober(), *(searcher() for _ in range(20)))
    return latencies, searches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", help="a list bundle to search (awesome-go)")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-hostile-"))

    for label, size in (("4.9 MB of a\\n", 4_900_000), ("10 MB of a\\n", 10_000_000)):
        repo = repo_with(work, f"r{size}", b"a\n" * (size // 2))
        seconds, peak, last = sync_peak(repo, work / f"{size}.sqlite3")
        print(f"sync {label}: {seconds:.1f} s, peak RSS {peak} MB; {last}")

    db = work / "search.sqlite3"
    if args.bundle:
        repo = Path(args.bundle).resolve()
    else:
        lines = ["# L\n\n## Section\n\n"] + [
            f"- [Entry {i} tool](https://e.org/{i}) a library for data and other things {i}\n"
            for i in range(3000)
        ]
        repo = repo_with(work, "generated", "".join(lines).encode())
    seconds, _, last = sync_peak(repo, db)
    print(f"synced the search list in {seconds:.1f} s: {last}")
    server = subprocess.Popen(
        [sys.executable, "-m", "dltbot.cli", "serve", "--db", str(db), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    base = server.stdout.readline().split("serving ", 1)[1].split("/ ", 1)[0]
    try:
        latencies, searches = asyncio.run(flood(base, args.seconds))
    finally:
        server.terminate()
        server.wait(10)
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(
        f"/healthz under 20 concurrent 12-word searches ({searches / args.seconds:.0f} "
        f"searches/s served): median {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, "
        f"max {latencies[-1]:.1f} ms over {len(latencies)} probes"
    )


if __name__ == "__main__":
    main()
