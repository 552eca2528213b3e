"""Several lists in one database, as real feed readers see them (issue 8's reproduction)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from xml.etree import ElementTree

import feedparser
from conftest import GitRepo, fast_import
from test_web import Server, sync

NEW = "# New\n\n## Papers\n\n" + "".join(
    f"- [New {i}](https://new.example.org/{i}) recent\n" for i in range(3)
)
# An older list: 80 additions dated November 2023, more than a live feed holds (50).
OLD = ["# Old\n\n## Things\n\n" + "".join(
    f"- [Old {i}](https://old.example.org/{i}) older\n" for i in range(n)
) for n in range(1, 81)]  # fmt: skip


def add_offline_list(db: Path, tmp_path: Path) -> None:
    """Sync a list named offline whose repository cannot be read: it exists, failing."""
    failing = subprocess.run(
        [sys.executable, "-m", "dltbot.cli", "sync", "--repo", str(tmp_path / "nowhere"),
         "--name", "offline", "--db", str(db)], capture_output=True, text=True,
    )  # fmt: skip
    assert failing.returncode == 1


def test_a_second_list_changes_the_feed_for_every_validator(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": NEW}, "three new")  # dated January 2024
    db = tmp_path / "db.sqlite3"
    sync(repo, db)
    server = Server(db)
    try:
        status, headers, body = server.get("/feed.atom")
        assert status == 200
        modified, etag = headers["Last-Modified"], headers["ETag"]
        time.sleep(1.1)  # Last-Modified has one-second resolution
        old = tmp_path / "old"
        fast_import(old, OLD)
        result = subprocess.run(
            [sys.executable, "-m", "dltbot.cli", "sync", "--repo", str(old),
             "--db", str(db), "--name", "old"], capture_output=True, text=True,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        status, headers, changed = server.get("/feed.atom", If_Modified_Since=modified)
        assert status == 200 and changed != body  # not a 304: the document changed
        assert parsedate_to_datetime(headers["Last-Modified"]) > parsedate_to_datetime(modified)
        assert server.get("/feed.atom", If_None_Match=etag)[0] == 200
        again = server.get("/feed.atom", If_Modified_Since=headers["Last-Modified"])
        assert again[0] == 304
        # Newest addition first, whichever list it is in: the old list's backfill (80 entries
        # from 2023) does not push the three 2024 additions out of the 50-entry feed.
        titles = [entry.title for entry in feedparser.parse(changed).entries]
        assert titles[:3] == ["New 0", "New 1", "New 2"] or set(titles[:3]) == {
            "New 0",
            "New 1",
            "New 2",
        }
        assert len(titles) == 50 and titles[3].startswith("Old ")
        assert re.search(rb"<title>New 0</title>", changed)
    finally:
        server.stop()


def test_search_ranks_exact_title_then_prefix_then_word_then_the_rest(
    repo: GitRepo, tmp_path: Path
) -> None:
    repo.commit({"README.md": "## Tools\n\n"
        "- [Topik](https://a.org) topic modelling\n"
        "- [Tracing with Opik here](https://b.org) x\n"
        "- [Opik](https://c.org) LLM evaluation\n"
        "- [Opik Agent](https://d.org) y\n"
        "- [Other](https://e.org) works with opik\n"}, "tools")  # fmt: skip
    db = tmp_path / "db.sqlite3"
    sync(repo, db)
    result = subprocess.run(
        [sys.executable, "-m", "dltbot.cli", "search", "opik", "--db", str(db)],
        capture_output=True, text=True,
    )  # fmt: skip
    titles = [line.split(" <")[0] for line in result.stdout.splitlines() if "<" in line]
    assert titles == ["Opik", "Opik Agent", "Tracing with Opik here", "Topik", "Other"]


def test_the_opml_feeds_share_no_entry_and_none_is_empty(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": NEW}, "three new")
    db = tmp_path / "db.sqlite3"
    sync(repo, db)
    old = tmp_path / "old"
    fast_import(old, OLD[:5])
    subprocess.run([sys.executable, "-m", "dltbot.cli", "sync", "--repo", str(old), "--db",
                    str(db), "--name", "old"], check=True, capture_output=True)  # fmt: skip
    server = Server(db)
    try:
        opml = server.get("/feeds.opml")[2].decode()
        urls = re.findall(r'xmlUrl="([^"]+)"', opml)
        assert len(urls) == 2
        ids: list[str] = []
        for url in urls:
            feed = feedparser.parse(server.get(url.removeprefix(server.base))[2])
            assert feed.entries, url  # no feed empty in the reader
            ids += [entry.id for entry in feed.entries]
        assert len(ids) == len(set(ids)) == 8  # no item twice
        if shutil.which("newsboat"):  # the real reader, when installed (apt-get install newsboat)
            home = tmp_path / "newsboat"
            home.mkdir()
            (home / "f.opml").write_text(opml, encoding="utf-8")
            files = ["-u", str(home / "urls"), "-c", str(home / "cache.db")]
            env = {**os.environ, "HOME": str(home)}
            run = {"cwd": home, "env": env, "capture_output": True, "text": True, "timeout": 60}
            subprocess.run(["newsboat", *files, "-i", "f.opml"], check=True, **run)  # type: ignore[call-overload]
            shown = subprocess.run(["newsboat", *files, "-x", "reload", "print-unread"], **run)  # type: ignore[call-overload]
            assert shown.stdout.strip() == "8 unread articles", shown.stdout + shown.stderr
    finally:
        server.stop()


def test_every_live_feed_is_also_rss_and_json_feed_with_the_same_ids(
    repo: GitRepo, tmp_path: Path
) -> None:
    repo.commit({"README.md": NEW}, "three new")
    db = tmp_path / "db.sqlite3"
    sync(repo, db)
    server = Server(db)
    try:
        for path in ("/feed", "/lists/dlt/feed", "/lists/dlt/daily"):
            atom = server.get(f"{path}.atom")[2]
            status, headers, rss = server.get(f"{path}.rss")
            assert (status, headers["Content-Type"]) == (200, "application/rss+xml; charset=utf-8")
            parsed = feedparser.parse(rss)
            assert not parsed.bozo and parsed.version == "rss20"
            ids = [e.id for e in feedparser.parse(atom).entries]
            assert [e.id for e in parsed.entries] == ids and ids
            # The elements RSS 2.0 requires, checked without a schema.
            channel = ElementTree.fromstring(rss).find("channel")
            assert channel is not None
            for name in ("title", "link", "description"):
                assert (channel.findtext(name) or "").strip(), name
            for item in channel.findall("item"):
                assert item.find("guid").get("isPermaLink") == "false"  # type: ignore[union-attr]
                assert item.findtext("title") or item.findtext("description")
            status, headers, body = server.get(f"{path}.json")
            assert headers["Content-Type"] == "application/feed+json; charset=utf-8"
            feed = json.loads(body)
            assert feed["version"] == "https://jsonfeed.org/version/1.1"
            assert feed["feed_url"] == f"{server.base}{path}.json"
            assert [item["id"] for item in feed["items"]] == ids
        atom = server.get("/lists/dlt/feed.atom")[2].decode()
        assert f'href="{server.base}/lists/dlt/feed.rss" rel="alternate"' in atom
        page = server.get("/")[2].decode()
        assert (
            f'type="application/rss+xml" title="dlt (RSS)" href="{server.base}/lists/dlt/feed.rss"'
            in page
        )
        assert server.get("/feed.xml")[0] == 404
        assert server.get("/feed.rss?q=new")[0] == 200
    finally:
        server.stop()


def test_the_page_shows_whole_days_and_explains_a_list_never_synced(
    repo: GitRepo, tmp_path: Path
) -> None:
    first = "## S\n\n" + "".join(f"- [A{i}](https://a.org/{i})\n" for i in range(30))
    repo.commit({"README.md": first}, "day one")  # 2023-12-31 in UTC (the page's days)
    while repo.tick < 24:
        repo.commit({}, "nothing")
    second = first + "".join(f"- [B{i}](https://b.org/{i})\n" for i in range(30))
    repo.commit({"README.md": second}, "day two")  # 2024-01-01 in UTC
    db = tmp_path / "db.sqlite3"
    sync(repo, db)
    add_offline_list(db, tmp_path)
    server = Server(db)
    try:
        page = server.get("/")[2].decode()
    finally:
        server.stop()
    dlt = page.split('id="list-dlt"')[1].split("</section>")[0]
    assert "<h3>2024-01-01</h3>" in dlt and "2023-12-31" not in dlt  # the cut day left out
    assert dlt.count("<li>") == 30 and "Older additions" in dlt
    offline = page.split('id="list-offline"')[1].split("</section>")[0]
    assert "Not synced yet" in offline and "<code>dltbot sync --repo PATH</code>" in offline
    assert "0 entries" not in offline


def test_an_empty_feed_is_dated_when_its_list_was_first_followed(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    add_offline_list(db, tmp_path)
    server = Server(db)
    try:
        for path in ("/feed.atom", "/lists/offline/feed.atom", "/lists/offline/daily.atom"):
            body = server.get(path)[2]
            updated = feedparser.parse(body).feed.updated
            assert not updated.startswith("1970"), (path, updated)
            assert updated[:4] == time.strftime("%Y", time.gmtime())
    finally:
        server.stop()


def test_an_entry_in_several_sections_is_found_by_each(repo: GitRepo, tmp_path: Path) -> None:
    text = (
        "## Python\n\n- [ParaMonte](https://paramonte.org) Monte Carlo kit\n"
        "\n## Fortran\n\n- [ParaMonte](https://paramonte.org) Monte Carlo kit\n"
        "\n## C\n\n- [Other](https://other.org) x\n"
    )
    repo.commit({"README.md": text}, "twice")
    db = tmp_path / "db.sqlite3"
    sync(repo, db)
    found = subprocess.run(
        [sys.executable, "-m", "dltbot.cli", "search", "ParaMonte", "Fortran", "--db", str(db),
         "--json"], capture_output=True, text=True,
    )  # fmt: skip
    [hit] = [json.loads(line) for line in found.stdout.splitlines()]
    assert (hit["title"], hit["section"], hit["sections"]) == (
        "ParaMonte",
        ["Python"],
        [["Python"], ["Fortran"]],
    )
    server = Server(db)
    try:
        page = server.get("/search?q=paramonte+fortran")[2].decode()
        assert "Python | Fortran" in page
    finally:
        server.stop()


def test_the_page_speaks_the_readers_language(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": NEW}, "three new")
    db = tmp_path / "db.sqlite3"
    sync(repo, db)
    server = Server(db)
    try:
        zh = server.get("/", Accept_Language="zh-CN,zh;q=0.9,en;q=0.8")
        assert zh[1]["Vary"] == "Accept-Encoding, Accept-Language"
        page = zh[2].decode()
        assert '<html lang="zh-Hans">' in page and "列表有什么新内容" in page
        assert "3 个条目" in page and "每日摘要" in page
        en = server.get("/", Accept_Language="en-US,en;q=0.9,zh;q=0.5")[2].decode()
        assert '<html lang="en">' in en and "What is new in the lists" in en
        assert "列表有什么新内容" in server.get("/?lang=zh")[2].decode()
        assert "What is new" in server.get("/?lang=en", Accept_Language="zh")[2].decode()
        search = server.get("/search?q=new&lang=zh")[2].decode()
        assert "“new”的结果：3 条" in search and 'name="lang" value="zh"' in search
        assert "What is new" in server.get("/", Accept_Language="fr, de;q=0.5")[2].decode()
    finally:
        server.stop()
