"""Measure `dltbot run`: idle memory, and web latency while a big backfill runs.

    python benchmarks/bench_service.py [../shared/fixtures]

1. Runs the service with the deeplearningtheory list, waits for its backfill, lets it idle and
   reads its resident memory (VmRSS, and VmHWM the peak) from /proc.
2. Runs it again with awesome-go added and, while awesome-go's backfill runs in the service's
   worker thread, requests /feed.atom and /search from one client for the whole backfill,
   and reports the latency percentiles. Run by hand; nothing here is a test.
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def start(config: Path) -> tuple[subprocess.Popen[str], str, list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "dltbot.cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line.rstrip())

    threading.Thread(target=read, daemon=True).start()
    while not any("serving http://" in line for line in lines):
        if process.poll() is not None:
            sys.exit("\n".join(lines))
        time.sleep(0.05)
    base = (
        next(line for line in lines if "serving http://" in line)
        .split("serving ")[1]
        .split("/ ")[0]
    )
    return process, base, lines


def wait_for(lines: list[str], text: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in lines):
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {text!r}")
        time.sleep(0.05)


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def main() -> None:
    fixtures = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/fixtures").resolve()
    work = Path(tempfile.mkdtemp(prefix="bench-service-"))
    dlt = f"  - name: deeplearningtheory\n    repo: {fixtures / 'deeplearningtheory.bundle'}\n"
    config = work / "idle.yaml"
    config.write_text(
        f"storage:\n  path: {work / 'idle.sqlite3'}\nweb:\n  listen: 127.0.0.1:0\n"
        f"enrich:\n  enabled: false\nlists:\n{dlt}"
    )
    process, _, lines = start(config)
    wait_for(lines, "list deeplearningtheory synced")
    time.sleep(5)
    rss, peak = status_kb(process.pid, "VmRSS"), status_kb(process.pid, "VmHWM")
    stop(process)
    print(f"idle service, fixture list loaded: {rss / 1024:.0f} MB RSS (peak {peak / 1024:.0f} MB)")

    go = f"  - name: awesome-go\n    repo: {fixtures / 'awesome-go.bundle'}\n"
    config = work / "busy.yaml"
    config.write_text(
        f"storage:\n  path: {work / 'busy.sqlite3'}\nweb:\n  listen: 127.0.0.1:0\n"
        f"enrich:\n  enabled: false\nlists:\n{dlt}{go}"
    )
    process, base, lines = start(config)
    wait_for(lines, "list deeplearningtheory synced")
    timings: dict[str, list[float]] = {"/feed.atom": [], "/search?q=theory": []}
    started = time.monotonic()
    while not any("list awesome-go synced" in line for line in lines):
        for path, samples in timings.items():
            before = time.perf_counter()
            with urllib.request.urlopen(base + path, timeout=30) as response:
                response.read()
            samples.append((time.perf_counter() - before) * 1000)
        time.sleep(0.02)
    backfill = time.monotonic() - started
    peak = status_kb(process.pid, "VmHWM")
    stop(process)
    print(f"awesome-go backfill inside the service: {backfill:.1f} s, peak {peak / 1024:.0f} MB")
    for path, samples in timings.items():
        samples.sort()
        p95 = samples[int(len(samples) * 0.95) - 1]
        median = statistics.median(samples)
        print(f"  {path:<18} {len(samples)} requests during it: median {median:.1f} ms, "
              f"p95 {p95:.1f} ms, max {samples[-1]:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
