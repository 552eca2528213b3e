"""Atom documents from a real database: valid, stable, escaped, and read back by feedparser."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import feedparser
import pytest
from conftest import GitRepo, fixture_bundle, validate_atom

from dltbot.config import parse_config
from dltbot.models import ListSource
from dltbot.site import BadRequestError, NotFoundError, Site
from dltbot.storage import Storage
from dltbot.sync import sync_list

BASE = "https://feeds.example.org"
V1 = "# Awesome\n\n## 泛化 Theory\n\n- [One & Only](https://one.org) first <b>bold</b>\n"
V2 = V1 + "- [Two](https://two.org) second\n\n## Tools\n\n- [Three](https://three.org) third\n"
HOSTILE = (
    V2
    + '- [`<script>alert(1)</script>"><img src=x onerror=alert(1)>`](javascript:alert(1)) `javascript:void(0) onload=x`\n'
)


def make_site(tmp_path: Path, repo: GitRepo, **feed: object) -> tuple[Site, Storage]:
    storage = Storage(tmp_path / "db.sqlite3")
    sync_list(storage, ListSource("dlt", str(repo.path)), tmp_path / "clones")
    config = parse_config(
        {"feed": {"base_url": BASE, **feed}, "lists": [{"name": "dlt", "repo": "x"}]}
    )
    return Site(storage, config), storage


def parsed(data: bytes) -> list[tuple[str, str, str, str]]:
    doc = feedparser.parse(data)
    assert not doc.bozo, doc.bozo_exception
    return [(e.id, e.title, e.get("link", ""), e.published) for e in doc.entries]


def test_list_feed_is_valid_and_reads_back_whole(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": V1}, "first")
    repo.commit({"README.md": V2}, "second & more")
    site, storage = make_site(tmp_path, repo)
    data = site.feed("dlt").body
    assert validate_atom(data, tmp_path).startswith("VALID")
    assert parsed(data) == [
        (
            "tag:dltbot,2026:dlt:added:three.org",
            "Three",
            "https://three.org",
            "2024-01-01T02:00:00+08:00",
        ),
        (
            "tag:dltbot,2026:dlt:added:two.org",
            "Two",
            "https://two.org",
            "2024-01-01T02:00:00+08:00",
        ),
        (
            "tag:dltbot,2026:dlt:added:one.org",
            "One & Only",
            "https://one.org",
            "2024-01-01T01:00:00+08:00",
        ),
    ]
    doc = feedparser.parse(data)
    assert doc.feed.title == "dlt: new entries"
    assert [link.href for link in doc.feed.links] == [
        f"{BASE}/lists/dlt/feed.atom",
        f"{BASE}/",
        f"{BASE}/lists/dlt/feed.rss",
        f"{BASE}/lists/dlt/feed.json",
    ]
    assert doc.feed.updated == "2024-01-01T02:00:00+08:00" or doc.feed.updated_parsed[:4] == (
        2023,
        12,
        31,
        18,
    )
    one = doc.entries[2]
    assert one.content[0].value == (
        "<p>first bold</p><p>泛化 Theory</p><p>Added in first by Ada Author</p>"
    )
    assert [t.term for t in one.tags] == ["泛化 Theory"]
    storage.close()


def test_same_state_renders_the_same_bytes_even_after_a_rebuild(
    repo: GitRepo, tmp_path: Path
) -> None:
    repo.commit({"README.md": V1}, "first")
    repo.commit({"README.md": V2}, "second")
    site, storage = make_site(tmp_path, repo)
    first = site.feed("dlt").body
    site._cache.clear()
    assert site.feed("dlt").body == first
    storage.close()
    rebuilt = tmp_path / "rebuilt"
    rebuilt.mkdir()
    site2, storage2 = make_site(rebuilt, repo)
    assert site2.feed("dlt").body == first
    storage2.close()


def test_ids_survive_reordering_and_updated_moves_only_on_text_edits(
    repo: GitRepo, tmp_path: Path
) -> None:
    repo.commit({"README.md": V2}, "first")
    site, storage = make_site(tmp_path, repo)
    before = {e.id: e.updated for e in feedparser.parse(site.feed("dlt").body).entries}
    reordered = "# Awesome\n\n## Tools\n\n- [Three](https://three.org) third\n\n## 泛化 Theory\n\n- [Two](https://two.org) second\n- [One & Only](https://one.org) first <b>bold</b>\n"
    repo.commit({"README.md": reordered}, "reorder")
    repo.commit({"README.md": reordered.replace("second", "second, edited")}, "edit two")
    sync_list(storage, ListSource("dlt", str(repo.path)), tmp_path / "clones")
    after = {e.id: e.updated for e in feedparser.parse(site.feed("dlt").body).entries}
    assert set(after) == set(before)
    two = "tag:dltbot,2026:dlt:added:two.org"
    assert {k: v for k, v in after.items() if k != two} == {
        k: v for k, v in before.items() if k != two
    }
    assert after[two] == "2024-01-01T03:00:00+08:00"
    storage.close()


def test_hostile_text_is_escaped_and_javascript_links_dropped(
    repo: GitRepo, tmp_path: Path
) -> None:
    repo.commit({"README.md": HOSTILE}, "hostile")
    site, storage = make_site(tmp_path, repo)
    data = site.feed("dlt").body
    assert validate_atom(data, tmp_path).startswith("VALID")
    entry = feedparser.parse(data).entries[0]
    assert entry.title == '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    assert entry.get("links", []) == []
    assert b"<script>" not in data and b"javascript:" not in data
    page = site.index().body.decode()
    assert "<script>" not in page and "<img" not in page and 'href="javascript' not in page
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    )
    storage.close()


def test_section_and_query_feeds(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": V2}, "first")
    site, storage = make_site(tmp_path, repo)
    section = site.feed("dlt", section="泛化")
    assert [e[1] for e in parsed(section.body)] == ["Two", "One & Only"]
    assert section.self_url == f"{BASE}/lists/dlt/feed.atom?section=%E6%B3%9B%E5%8C%96"
    query = site.feed(None, q="third")
    assert [e[1] for e in parsed(query.body)] == ["Three"]
    for document in (section, query):
        assert validate_atom(document.body, tmp_path).startswith("VALID")
    with pytest.raises(BadRequestError, match="q: must not be empty"):
        site.feed(None, q="  ")
    with pytest.raises(NotFoundError):
        site.feed("nope")
    storage.close()


def test_archives_page_back_to_the_first_addition(repo: GitRepo, tmp_path: Path) -> None:
    lines = "".join(f"- [E{i}](https://e.org/{i})\n" for i in range(7))
    repo.commit({"README.md": "## A\n" + lines}, "seven")
    site, storage = make_site(tmp_path, repo, entries=3)
    live = feedparser.parse(site.feed("dlt").body)
    assert [e.title for e in live.entries] == ["E6", "E5", "E4"]
    assert {link.rel: link.href for link in live.feed.links}[
        "prev-archive"
    ] == f"{BASE}/lists/dlt/archive/1.atom"
    seen = [e.title for e in live.entries]
    number: int | None = 1
    while number is not None:
        document = site.archive("dlt", number)
        assert validate_atom(document.body, tmp_path).startswith("VALID")
        assert b"<fh:archive/>" in document.body
        doc = feedparser.parse(document.body)
        links = {link.rel: link.href for link in doc.feed.links}
        assert links["current"] == f"{BASE}/lists/dlt/feed.atom"
        seen += [e.title for e in doc.entries]
        prev = links.get("prev-archive")
        number = int(prev.rsplit("/", 1)[1].split(".")[0]) if prev else None
    assert sorted(set(seen), key=lambda t: int(t[1:])) == [f"E{i}" for i in range(7)]
    with pytest.raises(NotFoundError):
        site.archive("dlt", 2)
    storage.close()


def test_digests_and_opml(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": V1}, "first")
    repo.tick = 30  # next commit on the next day
    repo.commit({"README.md": V2}, "second")
    site, storage = make_site(tmp_path, repo)
    daily = site.digest("dlt", "daily").body
    assert validate_atom(daily, tmp_path).startswith("VALID")
    assert [(e.id, e.title) for e in feedparser.parse(daily).entries] == [
        ("tag:dltbot,2026:dlt:daily:2024-01-01", "dlt: 2 new entries on 2024-01-01"),
        ("tag:dltbot,2026:dlt:daily:2023-12-31", "dlt: 1 new entry on 2023-12-31"),
    ]
    weekly = site.digest("dlt", "weekly").body
    assert [e.title for e in feedparser.parse(weekly).entries] == [
        "dlt: 2 new entries in week 2024-W01",
        "dlt: 1 new entry in week 2023-W52",
    ]
    opml = site.opml().body.decode()
    assert re.findall(r'xmlUrl="([^"]+)"', opml) == [f"{BASE}/lists/dlt/feed.atom"]
    storage.close()


def test_fixture_feed_has_the_newest_additions_with_their_dates(tmp_path: Path) -> None:
    bundle = fixture_bundle("deeplearningtheory")
    clone = tmp_path / "clone"
    shutil.copy(bundle, tmp_path / "dlt.bundle")
    storage = Storage(tmp_path / "db.sqlite3")
    sync_list(storage, ListSource("dlt", str(tmp_path / "dlt.bundle")), clone)
    config = parse_config({"feed": {"base_url": BASE}, "lists": [{"name": "dlt", "repo": "x"}]})
    site = Site(storage, config)
    data = site.feed("dlt").body
    assert validate_atom(data, tmp_path).startswith("VALID")
    newest = [
        (e.entry.title, e.commit.date)
        for e in storage.events("dlt", ["added"], limit=50, newest_first=True)
    ]
    assert [(e.title, e.published) for e in feedparser.parse(data).entries] == newest
    assert newest[0] == ("math-inc", "2026-03-14T11:37:10+08:00")
    storage.close()


def test_links_inside_descriptions_stay_links(repo: GitRepo, tmp_path: Path) -> None:
    """The feed, the page and Telegram link the description's links; a javascript: link or
    hostile link text stays text."""
    from dltbot.present.data import entry_json
    from dltbot.present.view import entry_html
    from dltbot.untrusted import shorten

    text = (
        "# L\n\n## S\n\n- [Paper](https://p.org) code [on GitHub](https://github.com/o/r), "
        "see [1 < 2](javascript:alert(1)) too\n"
    )
    repo.commit({"README.md": text}, "start")
    site, storage = make_site(tmp_path, repo)
    data = site.feed("dlt").body
    assert validate_atom(data, tmp_path).startswith("VALID")
    content = feedparser.parse(data).entries[0].content[0].value
    assert (
        '<a href="https://github.com/o/r" rel="noopener">on GitHub</a>, see 1 &lt; 2 too' in content
    )
    assert "javascript" not in content
    page = site.index().body.decode()
    assert '<a href="https://github.com/o/r" rel="noopener">on GitHub</a>' in page
    (stored,) = storage.entries("dlt")
    assert stored.entry.description == "code on GitHub, see 1 < 2 too"
    assert entry_json(stored.entry)["description_links"] == [  # JSON: http(s) links only
        {"start": 5, "end": 14, "url": "https://github.com/o/r"}
    ]
    html, plain = entry_html(stored.entry)
    assert html.endswith('\ncode <a href="https://github.com/o/r">on GitHub</a>, see 1 &lt; 2 too')
    assert plain.endswith("\ncode on GitHub, see 1 < 2 too")
    # Cut inside the link, at a word: what is left of it is still the link.
    html, plain = entry_html(stored.entry, description_limit=10)
    assert html.endswith('\ncode <a href="https://github.com/o/r">on</a>…')
    assert plain.endswith("\ncode on…")
    # No space near the end (Chinese): cut where the limit falls.
    assert shorten("深度学习的泛化之谜与优化", 6) == "深度学习的…"
    assert shorten("one two three four five", 16) == "one two three…"
    storage.close()
