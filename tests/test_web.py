"""The real HTTP server (`dltbot serve` on 127.0.0.1, port 0) against a real database."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import GitRepo, validate_atom

V1 = '# Awesome\n\n## Papers\n\n- [One](https://one.org) first\n- [`<script>x</script>"><img onerror=alert(1)>`](https://evil.org) hostile\n'
V2 = V1 + "- [Two](https://two.org) second\n"


class Server:
    def __init__(self, db: Path) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dltbot.cli",
                "serve",
                "--db",
                str(db),
                "--listen",
                "127.0.0.1:0",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line + (self.process.stderr.read() if self.process.stderr else "")
        self.port = int(match[1])
        self.base = f"http://127.0.0.1:{self.port}"

    def get(
        self, path: str, method: str = "GET", **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response.status, dict(response.getheaders()), body

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=10)  # waits, and closes the pipes


def sync(repo: GitRepo, db: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dltbot.cli", "sync", "--repo", str(repo.path), "--db", str(db), "--name", "dlt"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.fixture
def served(repo: GitRepo, tmp_path: Path) -> Iterator[tuple[Server, GitRepo, Path]]:
    repo.commit({"README.md": V1}, "first")
    db = tmp_path / "db.sqlite3"
    sync(repo, db)
    server = Server(db)
    yield server, repo, db
    server.stop()


def test_every_route_answers(served: tuple[Server, GitRepo, Path], tmp_path: Path) -> None:
    server, _, _ = served
    atom = "application/atom+xml; charset=utf-8"
    for path, status, content_type in [
        ("/", 200, "text/html; charset=utf-8"),
        ("/feed.atom", 200, atom),
        ("/lists/dlt/feed.atom", 200, atom),
        ("/lists/dlt/feed.atom?section=papers", 200, atom),
        ("/feed.atom?q=first", 200, atom),
        ("/lists/dlt/daily.atom", 200, atom),
        ("/lists/dlt/weekly.atom", 200, atom),
        ("/feeds.opml", 200, "text/x-opml; charset=utf-8"),
        ("/search?q=one", 200, "text/html; charset=utf-8"),
        ("/search?q=", 200, "text/html; charset=utf-8"),
        ("/search", 200, "text/html; charset=utf-8"),
        ("/api/search?q=one", 200, "application/json; charset=utf-8"),
        ("/healthz", 200, "application/json; charset=utf-8"),
        ("/lists/nope/feed.atom", 404, "text/plain; charset=utf-8"),
        ("/lists/dlt/monthly.atom", 404, "text/plain; charset=utf-8"),
        ("/archive/0.atom", 404, "text/plain; charset=utf-8"),
        ("/archive/x1.atom", 400, "text/plain; charset=utf-8"),
        ("/feed.atom?q=", 400, "text/plain; charset=utf-8"),
        ("/api/search", 400, "text/plain; charset=utf-8"),
    ]:
        got, headers, body = server.get(path)
        assert (path, got, headers["Content-Type"]) == (path, status, content_type)
        if content_type == atom:
            assert validate_atom(body, tmp_path).startswith("VALID")
    assert server.get("/lists/nope/feed.atom")[2] == b"not found: no list named 'nope'\n"
    assert server.get("/feed.atom?q=")[2] == b"bad request: q: must not be empty\n"
    assert b'type="search" name="q"' in server.get("/search?q=+")[2]  # the form, and a hint
    assert b"Type one or more words" in server.get("/search?q=")[2]
    results = json.loads(server.get("/api/search?q=first")[2])
    assert [(r["title"], r["list"]) for r in results["results"]] == [("One", "dlt")]


def test_conditional_requests_gzip_head_and_self_link(served: tuple[Server, GitRepo, Path]) -> None:
    server, repo, db = served
    status, headers, body = server.get("/lists/dlt/feed.atom")
    assert status == 200
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert server.get("/lists/dlt/feed.atom")[1]["ETag"] == etag
    assert headers["Link"] == f'<{server.base}/lists/dlt/feed.atom>; rel="self"'
    assert headers["Cache-Control"] == "public, max-age=60"
    assert server.get("/lists/dlt/feed.atom", If_None_Match=etag)[:3:2] == (304, b"")
    assert server.get("/lists/dlt/feed.atom", If_Modified_Since=modified)[:3:2] == (304, b"")
    zipped = server.get("/lists/dlt/feed.atom", Accept_Encoding="gzip")
    assert zipped[1]["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped[2]) == body
    assert (
        server.get("/lists/dlt/feed.atom", Accept_Encoding="gzip", If_None_Match=zipped[1]["ETag"])[
            0
        ]
        == 304
    )
    head = server.get("/lists/dlt/feed.atom", method="HEAD")
    assert (head[0], head[1]["ETag"], head[2]) == (200, etag, b"")

    repo.commit({"README.md": V2}, "add two")
    sync(repo, db)
    status, headers, body = server.get("/lists/dlt/feed.atom", If_None_Match=etag)
    assert status == 200 and headers["ETag"] != etag
    assert b"<title>Two</title>" in body


def test_page_escapes_and_discovers_feeds(served: tuple[Server, GitRepo, Path]) -> None:
    server, _, _ = served
    page = server.get("/")[2].decode()
    assert '<link rel="alternate" type="application/atom+xml" title="dlt" href="' in page
    assert '<meta name="viewport"' in page
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;x&lt;/script&gt;&quot;&gt;&lt;img onerror=alert(1)&gt;" in page
    search = server.get("/search?q=%3Cscript%3E")[2].decode()
    assert "<script>" not in search and "&lt;script&gt;" in search


def test_healthz_turns_503_when_a_list_fails_too_long(served: tuple[Server, GitRepo, Path]) -> None:
    server, _, db = served
    body = json.loads(server.get("/healthz?details=1")[2])
    assert body["status"] == "ok"
    assert [(e["list"], e["status"], e["entries"], e["healthy"]) for e in body["lists"]] == [
        ("dlt", "ok", 2, True)
    ]
    assert body["failing"] == []
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE lists SET status = 'failing', last_error = 'remote unreachable', "
            "failing_since = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')"
        )
    status, _, raw = server.get("/healthz?details=1")
    assert status == 200  # failing, but not for long yet: one word for the list and the whole
    body = json.loads(raw)
    assert (body["status"], body["failing"], body["degraded"]) == ("degraded", [], ["dlt"])
    assert (body["lists"][0]["status"], body["lists"][0]["healthy"]) == ("degraded", True)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE lists SET failing_since = '2020-01-01T00:00:00+00:00'")
    status, _, raw = server.get("/healthz?details=1")
    assert status == 503
    body = json.loads(raw)
    assert (body["status"], body["failing"], body["degraded"]) == ("failing", ["dlt"], [])
    assert (body["lists"][0]["status"], body["lists"][0]["healthy"]) == ("failing", False)
    assert body["lists"][0]["last_error"] == "remote unreachable"


def test_export_writes_the_same_documents(
    served: tuple[Server, GitRepo, Path], tmp_path: Path
) -> None:
    _, _, db = served
    out = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "dltbot.cli", "export", "--db", str(db), "--out", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == [
        "feed.atom",
        "feed.json",
        "feed.rss",
        "feeds.opml",
        "index.html",
        "lists/dlt/daily.atom",
        "lists/dlt/daily.json",
        "lists/dlt/daily.rss",
        "lists/dlt/feed.atom",
        "lists/dlt/feed.json",
        "lists/dlt/feed.rss",
        "lists/dlt/index.html",
        "lists/dlt/papers.bib",
        "lists/dlt/updates.atom",
        "lists/dlt/updates.json",
        "lists/dlt/updates.rss",
        "lists/dlt/weekly.atom",
        "lists/dlt/weekly.json",
        "lists/dlt/weekly.rss",
        "search-index.json",
        "search.html",
        "search.js",
    ]
    assert result.stdout == f"dltbot: wrote 22 files to {out} (0 unchanged)\n"


def test_export_with_a_base_url_writes_only_what_changed(
    served: tuple[Server, GitRepo, Path], tmp_path: Path
) -> None:
    _, repo, db = served
    out = tmp_path / "site"
    command = [sys.executable, "-m", "dltbot.cli", "export", "--db", str(db), "--out", str(out),
               "--base-url", "https://lists.example.org/feeds/"]  # fmt: skip
    first = subprocess.run(command, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    for path in out.rglob("*"):
        if path.is_file():
            assert b"127.0.0.1" not in path.read_bytes(), path
    assert (
        b"https://lists.example.org/feeds/lists/dlt/feed.atom" in (out / "feeds.opml").read_bytes()
    )
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.stdout == f"dltbot: wrote 0 files to {out} (22 unchanged)\n"
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamps
    repo.commit({"README.md": V2}, "add two")
    sync(repo, db)
    third = subprocess.run(command, capture_output=True, text=True)
    assert "(0 unchanged)" not in third.stdout and "wrote 0 files" not in third.stdout
    assert not [p for p in out.rglob(".*") if p.is_file()]  # no temporary file left behind
    bad = subprocess.run([*command[:-1], "ftp://x"], capture_output=True, text=True)
    assert bad.returncode == 1 and "--base-url 'ftp://x'" in bad.stderr


def test_the_exported_page_searches_without_a_server(
    served: tuple[Server, GitRepo, Path], tmp_path: Path
) -> None:
    _, _, db = served
    out = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "dltbot.cli", "export", "--db", str(db), "--out",
                    str(out), "--base-url", "https://s.example.org"], check=True)  # fmt: skip
    index = (out / "index.html").read_text(encoding="utf-8")
    # Not the server's /search, and relative: the export works wherever it is served.
    assert 'action="./search.html"' in index
    page = (out / "search.html").read_text(encoding="utf-8")
    assert 'src="search.js"' in page and "s.example.org" not in page
    entries = json.loads((out / "search-index.json").read_bytes())["entries"]
    assert {e[1] for e in entries} >= {"One"}
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the script's search is not run")
    script = (
        "const {search} = require(process.argv[1]);"
        "const index = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));"
        "for (const q of ['one', 'FIRST', 'script', '泛化', 'nothing here'])"
        "  console.log(q + ':' + search(index, q).map((h) => h.title).join('|'));"
    )
    result = subprocess.run(["node", "-e", script, str(out / "search.js"),
                             str(out / "search-index.json")], capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    # "one" is also inside the hostile title's "onerror": the exact title ranks first.
    assert lines["one"].split("|")[0] == "One" and lines["FIRST"] == "One"
    assert lines["script"].startswith("<script>")  # the hostile title, as text
    assert lines["nothing here"] == ""


def test_healthz_stays_small_with_hundreds_of_lists(tmp_path: Path) -> None:
    """700 lists, 300 of them failing for long: counts and at most 50 names each by default
    (under 10 KB); every list only with ?details=1."""
    from dltbot.config import Config
    from dltbot.site import Site
    from dltbot.storage import Storage

    with Storage(tmp_path / "db.sqlite3") as storage:
        for number in range(700):
            storage.ensure_list(
                f"awesome-list-number-{number:03d}", f"https://github.com/o/r{number}"
            )
        storage.db.execute(
            "UPDATE lists SET status = 'failing', failing_since = '2020-01-01T00:00:00+00:00', "
            "last_error = 'remote unreachable' WHERE id % 7 < 3"
        )
        site = Site(storage, Config())
        small = site.health()
        full = site.health(details=True)
    body = json.loads(small.body)
    assert len(small.body) < 10_000 and small.status == 503
    assert body["count"] == {"lists": 700, "ok": 400, "degraded": 0, "failing": 300}
    assert len(body["failing"]) == 50 and "lists" not in body
    assert len(json.loads(full.body)["lists"]) == 700
