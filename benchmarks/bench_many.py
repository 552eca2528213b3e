"""Many lists behind slow remotes: how long one poll of all of them takes in `dltbot run`.

    python benchmarks/bench_many.py [--lists 60] [--delay 0.3] [--concurrency 4]

The lists are copies of the seed list under different names; a `git` wrapper first on PATH
adds `--delay` seconds to every fetch (a remote far away). After a first `dltbot sync` of all
of them, `dltbot run` starts and syncs every list at once (nothing new to walk: fetch, compare,
done); the time from its start of serving to the last list synced is compared with
lists × delay / concurrency + 2 s. Run by hand; nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BUNDLE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "deeplearningtheory.bundle"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lists", type=int, default=60)
    parser.add_argument("--delay", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-many-"))
    remote = work / "remote"
    subprocess.run(["git", "clone", "-q", "--bare", str(BUNDLE), str(remote)], check=True)
    wrapper = work / "bin"
    wrapper.mkdir()
    real_git = shutil.which("git")
    (wrapper / "git").write_text(
        f'#!/bin/sh\nfor a in "$@"; do [ "$a" = fetch ] && sleep {args.delay} && break; done\n'
        f'exec {real_git} "$@"\n',
        encoding="utf-8",
    )
    (wrapper / "git").chmod(0o755)
    lists = "".join(
        f"  - name: list{n:02d}\n    repo: {remote}\n    interval: 1h\n" for n in range(args.lists)
    )
    config = work / "config.yaml"
    config.write_text(
        f"storage:\n  path: {work / 'db.sqlite3'}\nweb:\n  listen: 127.0.0.1:0\n"
        f"sync:\n  concurrency: {args.concurrency}\nenrich:\n  enabled: false\nlists:\n{lists}",
        encoding="utf-8",
    )
    cli = [sys.executable, "-m", "dltbot.cli"]
    subprocess.run([*cli, "sync", "--config", str(config)], check=True, capture_output=True)

    env = {**os.environ, "PATH": f"{wrapper}{os.pathsep}{os.environ['PATH']}"}
    service = subprocess.Popen(
        [*cli, "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert service.stderr is not None
    stderr = service.stderr
    log: list[tuple[float, str]] = []
    threading.Thread(
        target=lambda: log.extend((time.monotonic(), line) for line in stderr), daemon=True
    ).start()
    try:
        deadline = time.monotonic() + 300
        while sum(" synced: " in line for _, line in log) < args.lists:
            assert time.monotonic() < deadline and service.poll() is None, log[-5:]
            time.sleep(0.05)
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=30)
    started = next(at for at, line in log if "serving http://" in line)
    finished = max(at for at, line in log if " synced: " in line)
    bound = args.lists * args.delay / args.concurrency + 2
    print(f"lists:                {args.lists} (each fetch delayed {args.delay} s)")
    print(f"sync.concurrency:     {args.concurrency}")
    print(f"one poll of all:      {finished - started:.1f} s  (bound {bound:.1f} s)")
    print(f"serially it would be: ≥ {args.lists * args.delay:.1f} s of fetching alone")


if __name__ == "__main__":
    main()
