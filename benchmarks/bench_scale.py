"""Follow N generated lists through a list of lists on one instance, and measure it.

    python benchmarks/bench_scale.py 100 [--commits 50:1000] [--seed 1]

Generates N distinct lists of realistic shape (sections, nested items, descriptions in
English and Chinese; each with a random number of commits in --commits that add, edit, move
and remove entries, written with `git fast-import`), and a list of lists linking all of them
as https://github.com/ownerK/listK. Git's own configuration (`url.<dir>.insteadOf`) serves
those URLs from the local repositories, as a mirror would. Then measures, each in a fresh
`dltbot` process:

- the backfill of everything by one `dltbot run` (the list of lists, then every list it
  brings, sync.concurrency at once) until each has synced, against the floor: the sum of
  each list's `git log --first-parent -p` (warm); the service's peak memory (VmHWM);
- the front page (size and time: first render, cached, page 2), /healthz, OPML, and search
  p95 over one- and two-word queries, from that `dltbot run`;
- a poll of all lists with nothing new (`dltbot sync`: one ls-remote each), its peak
  memory; the database's size.

Run by hand; nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

WORDS = [
    "deep", "learning", "theory", "generalization", "optimization", "kernel", "neural",
    "tangent", "implicit", "bias", "overparameterization", "benchmark", "dataset", "library",
    "framework", "tool", "tutorial", "course", "awesome", "graph", "vision", "language",
    "robust", "fast", "simple", "curated", "survey",
]  # fmt: skip
ZH = ["泛化", "优化", "深度学习", "理论", "神经网络", "核方法", "表示", "鲁棒", "数据集", "教程"]
QUERIES = ["learning", "kernel", "泛化", "graph vision", "deep theory", "survey", "优化 理论",
           "robust fast", "dataset", "tool tutorial"]  # fmt: skip


def render(sections: list[tuple[str, list[list[str]]]]) -> str:
    """A README from sections of items; an item is [title, url, description, children…]."""
    out = ["# Awesome generated list\n\n> A curated list.\n"]
    for heading, items in sections:
        out.append(f"\n## {heading}\n\n")
        for title, url, description, *children in items:
            out.append(f"- [{title}]({url}) - {description}\n")
            out.extend(f"  + [{c}](https://example.org/{c}) {c}\n" for c in children)
    return "".join(out)


def generate(path: Path, number: int, commits: int, rng: random.Random) -> None:
    """A bare repository whose README changes `commits` times."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    sections: list[tuple[str, list[list[str]]]] = [
        (f"{rng.choice(WORDS).title()} {rng.choice(ZH)} {k}", []) for k in range(rng.randint(4, 12))
    ]
    serial = 0

    def new_item() -> list[str]:
        nonlocal serial
        serial += 1
        words = " ".join(rng.choices(WORDS, k=4))
        text = f"{' '.join(rng.choices(WORDS, k=8))} {rng.choice(ZH)}{rng.choice(ZH)}"
        item = [f"{words.title()} {serial}", f"https://site{number}.example/{serial}", text]
        if rng.random() < 0.1:
            item.append(f"child-{number}-{serial}")
        return item

    for heading_items in sections:
        heading_items[1].extend(new_item() for _ in range(rng.randint(2, 6)))
    stream = []
    when = 1_600_000_000
    for index in range(commits):
        roll = rng.random()
        _, items = rng.choice(sections)
        if roll < 0.6 or len(items) < 2:
            items.insert(rng.randint(0, len(items)), new_item())
        elif roll < 0.8:
            item = rng.choice(items)
            item[2] = " ".join(rng.choices(WORDS, k=8)) + " " + rng.choice(ZH)
        elif roll < 0.9:
            item = items.pop(rng.randrange(len(items)))
            rng.choice(sections)[1].append(item)
        else:
            items.pop(rng.randrange(len(items)))
        data = render(sections).encode()
        when += 3600
        message = f"change {index}".encode()
        stream.append(
            b"commit refs/heads/main\n"
            + f"committer Bench <b@example.org> {when} +0000\n".encode()
            + f"data {len(message)}\n".encode()
            + message
            + b"\n"
            + f"M 100644 inline README.md\ndata {len(data)}\n".encode()
            + data
            + b"\n"
        )
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(stream),
                   check=True)  # fmt: skip


# Runs dltbot's CLI and reports its own peak memory: VmHWM, not ru_maxrss, which Linux keeps
# across exec (a child would report this process's size).
_WRAPPED = (
    "import sys\n"
    "from dltbot.cli import main\n"
    "sys.argv = ['dltbot', *sys.argv[1:]]\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
    "print('MAXRSS', hwm, file=sys.stderr)\n"
)


def dltbot(*args: str, env: dict[str, str]) -> tuple[float, float, str]:
    """Run a dltbot command; return its seconds, peak memory (MB) and log."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPED, *args], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    peak = [line for line in done.stderr.splitlines() if line.startswith("MAXRSS ")]
    return seconds, int(peak[-1].split()[1]) / 1024 if peak else 0.0, done.stderr


def get(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        size = len(response.read())
    return (time.perf_counter() - started) * 1000, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("lists", type=int)
    parser.add_argument("--commits", default="50:1000")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    low, high = (int(x) for x in args.commits.split(":"))
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    mirror = work / "github"
    started = time.perf_counter()
    total_commits = 0
    for number in range(args.lists):
        commits = rng.randint(low, high)
        total_commits += commits
        generate(mirror / f"owner{number}" / f"list{number}", number, commits, rng)
    meta = work / "meta"
    subprocess.run(["git", "init", "-q", "-b", "main", str(meta)], check=True)
    links = "".join(f"- [List {n}](https://github.com/owner{n}/list{n}) - list {n}.\n"
                    for n in range(args.lists))  # fmt: skip
    (meta / "README.md").write_text(f"# Awesome lists\n\n## Lists\n\n{links}")
    subprocess.run(["git", "-C", str(meta), "add", "."], check=True)
    subprocess.run(["git", "-C", str(meta), "-c", "user.name=B", "-c", "user.email=b@e",
                    "commit", "-qm", "lists"], check=True)  # fmt: skip
    print(f"generated {args.lists} lists, {total_commits} commits in "
          f"{time.perf_counter() - started:.0f}s under {work}")  # fmt: skip

    floor = 0.0
    for number in range(args.lists):
        repo = mirror / f"owner{number}" / f"list{number}"
        subprocess.run(
            [
                "git",
                "--git-dir",
                str(repo),
                "log",
                "--first-parent",
                "-p",
                "main",
                "--",
                "README.md",
            ],
            stdout=subprocess.DEVNULL,
            check=True,
        )  # warm
        began = time.perf_counter()
        subprocess.run(["git", "--git-dir", str(repo), "log", "--first-parent", "-p", "main",
                        "--", "README.md"], stdout=subprocess.DEVNULL, check=True)  # fmt: skip
        floor += time.perf_counter() - began

    gitconfig = work / "gitconfig"
    gitconfig.write_text(f'[url "{mirror}/"]\n\tinsteadOf = https://github.com/\n')
    env = {**os.environ, "GIT_CONFIG_GLOBAL": str(gitconfig), "DLTBOT_DATA_DIR": str(work)}
    db = work / "db.sqlite3"
    config = work / "config.yaml"
    config.write_text(
        f"storage:\n  path: {db}\nweb:\n  listen: 127.0.0.1:0\nenrich:\n  enabled: false\n"
        f"lists_from:\n  - name: meta\n    repo: {meta}\n    max_lists: {args.lists}\n"
    )
    # The backfill: one `dltbot run` (sync.concurrency lists at once), until every list it
    # follows has synced once; its peak memory (VmHWM: the process, not its git children).
    started = time.perf_counter()
    run = subprocess.Popen(
        [sys.executable, "-m", "dltbot.cli", "run", "--config", str(config)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert run.stderr is not None
    base = ""
    while not base:
        line = run.stderr.readline()
        if not line:
            sys.exit("dltbot run stopped")
        if "serving http://" in line:
            base = line.split("serving ", 1)[1].split("/ ", 1)[0]
    drain = threading.Thread(target=lambda: run.stderr and run.stderr.read(), daemon=True)
    drain.start()
    failed = 0
    while True:
        time.sleep(0.5)
        body = json.loads(urllib.request.urlopen(base + "/healthz?details=1").read())
        lists = body["lists"]
        if len(lists) == args.lists + 1 and all(item["last_sync"] for item in lists):
            failed = sum(1 for item in lists if item["last_error"])
            break
    backfill = time.perf_counter() - started
    peak_mb = status_kb(run.pid, "VmHWM") / 1024
    first_ms, page_size = get(base + "/")
    cached = sorted(get(base + "/")[0] for _ in range(20))
    page2_ms, _ = get(base + "/?page=2")
    _, health_size = get(base + "/healthz")
    _, opml_size = get(base + "/feeds.opml")
    times = []
    for _ in range(5):
        for query in QUERIES:
            times.append(get(base + "/api/search?q=" + urllib.parse.quote(query))[0])
    rss_mb = status_kb(run.pid, "VmRSS") / 1024
    run.send_signal(signal.SIGTERM)
    run.wait()
    db_mb = sum(p.stat().st_size for p in work.glob("db.sqlite3*")) / 1e6
    # A poll of every list with nothing new: `dltbot sync` (one list after another; one
    # ls-remote each, nothing fetched).
    poll, poll_mb, _ = dltbot("sync", "--config", str(config), env=env)
    p95 = statistics.quantiles(times, n=20)[-1]
    print(
        "| lists | commits | backfill (`dltbot run`) | floor | ratio | poll (`dltbot sync`) "
        "| peak MB run / poll | RSS after | db MB | / KB | / first, cached, page 2 ms "
        "| /healthz KB | OPML KB | search p95 ms |"
    )
    print(
        f"| {args.lists} | {total_commits} | {backfill:.1f} s | {floor:.1f} s | "
        f"{backfill / floor:.1f}× | {poll:.1f} s | {peak_mb:.0f} / {poll_mb:.0f} | {rss_mb:.0f} | "
        f"{db_mb:.0f} | {page_size / 1000:.0f} | {first_ms:.0f}, "
        f"{statistics.median(cached):.1f}, {page2_ms:.0f} | {health_size / 1000:.1f} | "
        f"{opml_size / 1000:.0f} | {p95:.0f} |"
    )
    if failed:
        print(f"{failed} lists failed")


def status_kb(pid: int, field: str) -> int:
    """A field of /proc/PID/status, in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


if __name__ == "__main__":
    main()
