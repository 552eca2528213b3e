"""What two hostile doors cost the server: pages nested to stall the HTML parser, and slow
webhook bodies.

    python benchmarks/bench_doors.py [--pages 6] [--clients 100]

1. One process, as in `dltbot run`: the web server and an enrichment pass in one event loop;
   the list links `--pages` pages of 300 KB of nested `<div>` (60,000 deep) on the loopback
   fake. A client asks /healthz every 20 ms through the pass; its latencies are printed, with
   the pass's time and how many parser workers were killed at the deadline.
2. `dltbot serve` with a webhook secret: `--clients` connections each declare 1,000,000 bytes
   to /hooks/github and send 999,999 of them, a byte at a time at the end; the server's RSS
   (from /proc) is printed before, at the peak, and after the body deadline, with how each
   connection was answered. Run by hand; nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakeweb import FakeWeb, MapResolver, Page

from dltbot import web
from dltbot.config import Config, EnrichConfig
from dltbot.enrich import Enricher
from dltbot.models import ListSource
from dltbot.site import Site
from dltbot.storage import Storage
from dltbot.sync import sync_list

DEEP = "<html><head><title>Deep</title></head><body>" + "<div>" * 60_000 + "</body></html>"
ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.org",
       "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.org"}  # fmt: skip


def list_repo(work: Path, text: str) -> Path:
    repo = work / "repo"
    repo.mkdir(parents=True)
    (repo / "README.md").write_text(text, encoding="utf-8")
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "list"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env={**ENV, "PATH": "/usr/bin"})
    return repo


def deep_pages(work: Path, pages: int) -> None:
    fake = FakeWeb().start()
    try:
        fake.pages = {f"deep{n}": Page(body=DEEP) for n in range(pages)}
        text = "# L\n\n" + "".join(f"- [{name}]({fake.url(name)})\n" for name in fake.pages)
        db = work / "deep.sqlite3"
        with Storage(db) as storage:
            sync_list(storage, ListSource("l", str(list_repo(work, text))), work / "clones")
        settings = {**fake.config(), "timeout": 30}
        enricher = Enricher(EnrichConfig(**settings), db, "https://feeds.example.org",
                            resolver=MapResolver({"localhost": "127.0.0.1"}))  # fmt: skip
        latencies: list[float] = []

        async def main() -> float:
            storage = Storage(db)
            server = await web.start(Site(storage, Config()), "127.0.0.1", 0)
            started = time.perf_counter()
            passing = asyncio.ensure_future(enricher.run())

            def probe() -> None:
                while not passing.done():
                    began = time.perf_counter()
                    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
                    conn.request("GET", "/healthz")
                    conn.getresponse().read()
                    conn.close()
                    latencies.append((time.perf_counter() - began) * 1000)
                    time.sleep(0.02)

            prober = threading.Thread(target=probe)
            prober.start()
            await passing
            seconds = time.perf_counter() - started
            await asyncio.to_thread(prober.join)
            await server.cleanup()
            storage.close()
            return seconds

        seconds = asyncio.run(main())
        latencies.sort()
        p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
        print(
            f"{pages} pages of 60,000 nested <div> (300 KB each): pass {seconds:.1f} s, "
            f"{enricher.pages.killed} parses cut at {enricher.config.parse_timeout:g} s; "
            f"/healthz meanwhile: median {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, "
            f"max {latencies[-1]:.1f} ms over {len(latencies)} probes"
        )
    finally:
        fake.stop()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def slow_bodies(work: Path, clients: int) -> None:
    repo = list_repo(work / "hooks", "# L\n\n- [One](https://one.org)\n")
    config = work / "c.yaml"
    config.write_text(
        f"storage: {{path: {work / 'hooks.sqlite3'}}}\nweb: {{listen: '127.0.0.1:0'}}\n"
        f"lists: [{{name: l, repo: {repo}, interval: 1d}}]\nenrich: {{enabled: false}}\n"
        "webhooks: {secret: bench-secret-0123456789}\n",
        encoding="utf-8",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "dltbot.cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stderr is not None
    while "serving http://" not in (line := server.stderr.readline()):
        assert line, "dltbot run stopped"
    port = int(line.split("127.0.0.1:", 1)[1].split("/", 1)[0])
    threading.Thread(target=server.stderr.read, daemon=True).start()  # drain the log
    try:
        before = rss_mb(server.pid)
        head = b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
        socks = []
        for _ in range(clients):
            sock = socket.create_connection(("127.0.0.1", port), timeout=60)
            sock.sendall(head)
            socks.append(sock)
        peak = before
        for sock in socks:  # 999,999 of the 1,000,000 bytes, then nothing
            with contextlib.suppress(OSError):  # already answered (503) and closed
                sock.sendall(b"x" * 999_999)
            peak = max(peak, rss_mb(server.pid))
        started = time.monotonic()
        answers: dict[str, int] = {}
        for sock in socks:
            try:
                status = sock.recv(64).split(b" ", 2)[1].decode() or "closed"
            except (OSError, IndexError):
                status = "closed"
            answers[status] = answers.get(status, 0) + 1
            peak = max(peak, rss_mb(server.pid))
            sock.close()
        waited = time.monotonic() - started
        time.sleep(1)
        print(
            f"{clients} slow bodies of 999,999/1,000,000 bytes to /hooks/github: server RSS "
            f"{before:.0f} MB before, {peak:.0f} MB at most, {rss_mb(server.pid):.0f} MB after; "
            f"answers {dict(sorted(answers.items()))}, all within {waited:.1f} s"
        )
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=6)
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-doors-"))
    deep_pages(work, args.pages)
    slow_bodies(work, args.clients)


if __name__ == "__main__":
    main()
