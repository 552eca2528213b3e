"""Measure a full backfill and an incremental sync against the git floor.

    python benchmarks/bench_sync.py ../shared/fixtures/awesome-go.bundle [README.md]

Prints: versions of the list file, the git floor (`git log --first-parent -p` of the file,
best of three, warm), dltbot's full backfill (a `dltbot sync` process from a fresh database:
clone included, and the walk alone as the sync logs it), the ratio to the floor, the peak
memory of that process, and the time of an incremental sync that finds one new commit.
Run by hand; nothing here is a test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dltbot.models import ListSource
from dltbot.storage import Storage
from dltbot.sync import WarmList, sync_list


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def main() -> None:
    repo = Path(sys.argv[1]).resolve()
    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    upstream = work / "upstream"
    subprocess.run(["git", "clone", "-q", str(repo), str(upstream)], check=True)
    path = sys.argv[2] if len(sys.argv) > 2 else _find_readme(upstream)
    versions = len(git("log", "--first-parent", "--format=%H", "--", path, cwd=upstream).split())

    floors = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            ["git", "log", "--first-parent", "-p", "--", path],
            cwd=upstream, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        floors.append(time.perf_counter() - started)
    floor = min(floors)

    db = work / "db.sqlite3"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "dltbot.cli", "sync", "--repo", str(upstream), "--path", path,
         "--name", "bench", "--db", str(db)],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    log = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        sys.exit(f"sync failed:\n{log}")
    walked = re.search(r"synced: .*, ([0-9.]+)s$", log, re.M)
    peak_mb = usage.ru_maxrss / 1024

    # New commits upstream, then incremental syncs in this process: the first with a cold
    # parser (as a one-shot `dltbot sync` has), the next with the parser the first left warm
    # (as the long-running service has).
    warm: dict[str, WarmList] = {}
    timings = []
    for number in (1, 2):
        readme = upstream / path
        readme.write_text(
            readme.read_text(encoding="utf-8", errors="replace")
            + f"\n- [Benchmark entry {number}](https://example.org/bench{number}) by a benchmark\n",
            encoding="utf-8",
        )
        git("-c", "user.name=bench", "-c", "user.email=bench@example.org", "commit", "-qam",
            f"bench: entry {number}", cwd=upstream)  # fmt: skip
        with Storage(db) as storage:
            source = ListSource("bench", str(upstream), path)
            started = time.perf_counter()
            report = sync_list(storage, source, db.parent / "clones", warm=warm)
            timings.append(time.perf_counter() - started)
            assert report.error is None and report.events == {"added": 1}, report
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "dltbot.cli", "sync", "--repo", str(upstream), "--path", path,
         "--name", "bench", "--db", str(db)],
        check=True, capture_output=True,
    )  # fmt: skip
    noop_cli = time.perf_counter() - started
    # One new commit synced by a fresh `dltbot sync` process: the time it logs (after imports).
    readme = upstream / path
    readme.write_text(
        readme.read_text(encoding="utf-8", errors="replace")
        + "\n- [Benchmark entry 3](https://example.org/bench3) by a benchmark\n",
        encoding="utf-8",
    )
    git("-c", "user.name=bench", "-c", "user.email=bench@example.org", "commit", "-qam",
        "bench: entry 3", cwd=upstream)  # fmt: skip
    fresh = subprocess.run(
        [sys.executable, "-m", "dltbot.cli", "sync", "--repo", str(upstream), "--path", path,
         "--name", "bench", "--db", str(db)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    fresh_logged = re.search(r"synced: .*, ([0-9.]+)s$", fresh.stderr, re.M)

    print(f"repository:            {repo.name} ({path})")
    print(f"versions:              {versions}")
    print(f"git floor:             {floor:.2f} s  (git log --first-parent -p, best of 3)")
    print(f"full backfill:         {wall:.2f} s  (dltbot sync process, clone included)")
    if walked:
        print(f"  of which the walk:   {float(walked[1]):.2f} s  (as the sync logs it)")
    print(f"ratio to the floor:    {wall / floor:.1f}x")
    print(f"peak memory:           {peak_mb:.0f} MB  (max RSS of the sync process)")
    print(
        f"incremental sync:      {timings[0] * 1000:.0f} ms cold parser, "
        f"{timings[1] * 1000:.0f} ms warm parser  (1 new commit: fetch, parse, diff, store)"
    )
    print(
        f"no-op `dltbot sync`:   {noop_cli * 1000:.0f} ms  (whole process, with interpreter start)"
    )
    if fresh_logged:
        print(
            f"1 commit, fresh process: {float(fresh_logged[1]) * 1000:.0f} ms  "
            "(`dltbot sync` as it logs itself, after imports)"
        )


def _find_readme(repo: Path) -> str:
    for name in git("ls-files", cwd=repo).split():
        if name.lower() == "readme.md":
            return name
    sys.exit("no README.md; give the list file's path")


if __name__ == "__main__":
    main()
