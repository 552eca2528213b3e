"""WebSub publishing against a fake hub on 127.0.0.1: the feeds name the hub, a change pings
it for each changed feed, a failing hub is retried, and `dltbot run` pings after a push."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import feedparser
import pytest
from conftest import GitRepo, validate_atom
from fakehub import FakeHub
from test_hooks import SECRET, github_push, post_push, wait_until
from test_service import Running, write_config

from dltbot import websub
from dltbot.config import parse_config
from dltbot.enrich.client import Http
from dltbot.models import ListSource
from dltbot.present.links import Links
from dltbot.retry import Retry
from dltbot.site import Site
from dltbot.storage import Storage
from dltbot.sync import sync_list


@pytest.fixture
def hub() -> Any:
    server = FakeHub(failures=2).start()
    yield server
    server.stop()


def run_pinger(hub: str, db: Path, until: Callable[[Storage], bool]) -> int:
    """Run a HubPinger on the database until until(storage) holds (10 s at most)."""

    async def scenario() -> int:
        http = Http("dltbot-test", host_spacing=0.0)
        with Storage(db) as storage:
            pinger = websub.HubPinger(hub, http, storage)
            if not until(storage):
                task = asyncio.create_task(pinger.run())
                deadline = time.monotonic() + 10
                while not until(storage) and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                task.cancel()
        await http.close()
        return pinger.sent

    return asyncio.run(scenario())


def waiting(storage: Storage) -> int:
    return storage.ping_counts().get("pending", 0)


def test_pings_are_coalesced_and_retried_until_the_hub_takes_them(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(websub, "RETRY", Retry(first=0.05, cap=1.0, park_after=8))
    urls = websub.changed_feeds(Links("https://feeds.example.org"), "dlt")
    assert len(urls) == 12 and "https://feeds.example.org/lists/dlt/weekly.json" in urls
    db = tmp_path / "db.sqlite3"
    with Storage(db) as storage:
        pinger = websub.HubPinger(hub.url, Http("unused"), storage)
        pinger.publish(urls)
        pinger.publish(urls[:3])  # still waiting: not queued twice
        assert storage.ping_counts() == {"pending": 12}
    assert run_pinger(hub.url, db, lambda s: waiting(s) == 0) == 12
    assert sorted(hub.published()) == sorted(urls)  # two 500s, then each once
    assert len(hub.pings) == 12
    with Storage(db) as storage:
        assert storage.ping_counts() == {}  # taken pings are not kept


def test_pings_survive_a_restart_and_a_hub_that_keeps_refusing_parks_them(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(websub, "RETRY", Retry(first=0.05, cap=0.1, park_after=3))
    db = tmp_path / "db.sqlite3"
    urls = ["https://f.example.org/feed.atom", "https://f.example.org/feed.rss"]
    hub.failures = 1_000
    with Storage(db) as storage:
        websub.HubPinger(hub.url, Http("unused"), storage).publish(urls)
    # The service stops while the hub refuses: the pings wait in the database ...
    tried = lambda s: all(n >= 1 for _, _, n in s.due_pings(hub.url, float("inf")))  # noqa: E731
    assert run_pinger(hub.url, db, tried) == 0
    with Storage(db) as storage:
        assert storage.ping_counts() == {"pending": 2}
    hub.failures = 0
    # ... and the next start sends them (after their backoff), each once.
    assert run_pinger(hub.url, db, lambda s: waiting(s) == 0) == 2
    assert sorted(p["hub.url"] for p in hub.pings) == sorted(urls)
    # A hub that keeps refusing: parked after RETRY.park_after attempts, with its answer.
    hub.failures = 1_000
    with Storage(db) as storage:
        websub.HubPinger(hub.url, Http("unused"), storage).publish(urls[:1])
    assert run_pinger(hub.url, db, lambda s: "parked" in s.ping_counts()) == 0
    with Storage(db) as storage:
        assert storage.ping_counts() == {"parked": 1}
        row = storage.db.execute("SELECT attempts, error FROM hub_pings").fetchone()
        assert tuple(row) == (3, "HTTP 500")
        # Parked pings are not sent again, and a new change queues a fresh one.
        websub.HubPinger(hub.url, Http("unused"), storage).publish(urls[:1])
        assert storage.ping_counts() == {"parked": 1, "pending": 1}


def test_feeds_name_the_hub(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": "# L\n\n- [One](https://one.org) first\n"}, "one")
    storage = Storage(tmp_path / "db.sqlite3")
    assert sync_list(storage, ListSource("dlt", str(repo.path)), tmp_path / "c").error is None
    hub = "https://hub.example.org/"
    config = parse_config(
        {"feed": {"base_url": "https://f.example.org", "websub_hub": hub},
         "lists": [{"name": "dlt", "repo": "x"}]}
    )  # fmt: skip
    site = Site(storage, config)
    atom = site.feed("dlt")
    assert validate_atom(atom.body, tmp_path).startswith("VALID")
    links = {link["rel"]: link["href"] for link in feedparser.parse(atom.body).feed.links}
    assert links["hub"] == hub and links["self"] == "https://f.example.org/lists/dlt/feed.atom"
    assert atom.hub == hub  # the HTTP Link header names it too (test_run_… below)
    rss = site.feed("dlt", fmt="rss").body
    assert f'<atom:link href="{hub}" rel="hub"/>' in rss.decode()
    assert feedparser.parse(rss).feed.link == "https://f.example.org/"  # the page, not the feed
    assert json.loads(site.feed("dlt", fmt="json").body)["hubs"] == [{"type": "WebSub", "url": hub}]
    storage.close()


def test_run_pings_the_hub_for_each_changed_feed_after_a_push(
    repo: GitRepo, tmp_path: Path, hub: FakeHub
) -> None:
    hub.failures = 0
    repo.commit({"README.md": "# L\n\n- [One](https://one.org) first\n"}, "one")
    lists = f"  - name: l\n    repo: {repo.path}\n    interval: 1h\n"
    extra = f"webhooks:\n  secret: {SECRET}\nfeed:\n  websub_hub: {hub.url}\n"
    running = Running(write_config(tmp_path / "c.yaml", tmp_path / "db.sqlite3", lists, extra))
    try:
        running.wait_log("list l synced: 1 new commits")
        hub.pings.clear()  # the first backfill may ping too
        repo.commit(
            {"README.md": "# L\n\n- [One](https://one.org)\n- [Two](https://two.org)\n"}, "2"
        )
        assert post_push(running, github_push()) == 202
        wait_until(lambda: len(hub.published()) >= 12)
        base = running.base
        assert hub.published() >= {
            f"{base}/feed.atom", f"{base}/feed.rss", f"{base}/lists/l/feed.atom",
            f"{base}/lists/l/daily.atom", f"{base}/lists/l/weekly.json",
        }  # fmt: skip
        # The Link header names the hub; a filtered feed names none, and junk filtered GETs
        # (anyone can make them up) never multiply the pings of a change.
        with urllib.request.urlopen(base + "/lists/l/feed.atom", timeout=10) as reply:
            assert f'<{hub.url}>; rel="hub"' in reply.headers["Link"]
        with urllib.request.urlopen(base + "/lists/l/feed.atom?q=two", timeout=10) as reply:
            assert "hub" not in reply.headers["Link"] and b'rel="hub"' not in reply.read()
        for number in range(200):
            with urllib.request.urlopen(f"{base}/feed.atom?q=junk{number}", timeout=10) as reply:
                reply.read()
        hub.pings.clear()
        repo.commit(
            {"README.md": "# L\n\n- [Two](https://two.org)\n- [Three](https://three.org)\n"}, "3"
        )
        assert post_push(running, github_push()) == 202
        wait_until(lambda: len(hub.published()) >= 12)
        time.sleep(0.5)  # a thirteenth ping would come in the same breath
        assert len(hub.pings) == 12 and not any("?" in url for url in hub.published())
    finally:
        running.stop()
