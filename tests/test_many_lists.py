"""700 (tiny) lists in one database: every reader's door stays within its budget, and every
list is reachable from the front page, /lists, OPML and search."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from xml.etree import ElementTree

import pytest
from fakebot import parse_html

from dltbot.bot.handlers import lists_page, lists_summary
from dltbot.config import parse_config
from dltbot.models import Commit, Entry, Event
from dltbot.present.catalogue import MESSAGE_LIMIT, visible_length
from dltbot.present.links import Links
from dltbot.site import LISTS_PER_PAGE, Site
from dltbot.storage import Storage
from dltbot.sync import now_iso

LISTS = 700
BASE = "https://feeds.example.org"


def make_lists(storage: Storage, count: int) -> None:
    """`count` lists of two entries each, 1 in 7 failing, 10 that left a list of lists."""

    def name_of(number: int) -> str:
        return f"owner{number:03d}--awesome-{'x' * (number % 30)}"

    def repo_of(number: int) -> str:
        return f"https://github.com/owner{number:03d}/awesome"

    # The first ten came from a list of lists.
    storage.set_members("meta", [(name_of(n), repo_of(n)) for n in range(10)], 10, now_iso())
    for number in range(count):
        state = storage.ensure_list(name_of(number), repo_of(number))
        commit = Commit(f"{number:040x}", f"2026-11-{1 + number % 28:02d}T10:00:00+00:00",
                        "Ada", "add")  # fmt: skip
        entries = [
            Entry(f"https://e{number}-{k}.org", f"https://e{number}-{k}.org",
                  f"Paper {k} of list {number} 泛化", "a description", ("Papers",))
            for k in range(2)
        ]  # fmt: skip
        with storage.atomic():
            storage.record_commit(
                state.id, commit, [Event("added", e) for e in entries], list(enumerate(entries)),
                [], None,
            )  # fmt: skip
        storage.mark_synced(state.id, commit.sha, now_iso(), backfilled=True)
        if number % 7 == 3:
            storage.mark_failing(state.id, "unreachable " + "y" * 300, "2020-01-01T00:00:00+00:00")
    storage.set_members("meta", [], 0, now_iso())  # … and left it


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    db = tmp_path_factory.mktemp("many") / "db.sqlite3"
    with Storage(db) as storage:
        make_lists(storage, LISTS)
        config = parse_config({"feed": {"base_url": BASE}})
        site = Site(storage, config)
        yield site
        site.close()


def test_the_front_page_stays_small_and_reaches_every_list(many: Site) -> None:
    pages = -(-LISTS // LISTS_PER_PAGE)
    assert many.index_pages() == pages
    seen: list[str] = []
    for number in range(1, pages + 1):
        body = many.index(number=number).body
        assert len(body) < 200_000, (number, len(body))
        text = body.decode()
        index = text[text.index('id="lists"') :]  # the additions above link their lists too
        seen += re.findall(r'href="https://feeds\.example\.org/lists/([^/"]+)/"', index)
        if number < pages:
            assert f"?page={number + 1}" in text
    assert len(seen) == LISTS and len(set(seen)) == LISTS
    first = many.index().body.decode()
    assert "Latest additions in all lists" in first and "The lists (700)" in first
    assert first.count("<li>") < 200  # 50 additions and 100 lists, not 1,400 entries
    assert "sync failing" in first and "no longer in meta" in first
    # Each list keeps its own page.
    own = many.list_page("owner005--awesome-xxxxx").body.decode()
    assert "Paper 0 of list 5 泛化" in own and "Paper 1 of list 5" in own


def test_health_opml_and_search_with_700_lists(many: Site) -> None:
    health = many.health()
    assert len(health.body) < 10_000 and health.status == 503
    body = json.loads(health.body)
    assert body["count"] == {"lists": 690, "ok": 591, "degraded": 0, "failing": 99, "left": 10}
    assert len(body["failing"]) == 50  # names, at most 50; all of them on request
    details = json.loads(many.health(details=True).body)
    assert len(details["lists"]) == 690 and len(details["left"]) == 10
    opml = ElementTree.fromstring(many.opml().body)
    assert len(opml.findall(".//outline")) == LISTS
    found = json.loads(many.search_json("泛化 paper").body)["results"]
    assert len(found) == 50  # the first page of 1,400 matches


def test_telegram_start_and_lists_fit_with_700_lists(many: Site) -> None:
    storage = many.storage
    assert storage.enrich_backlog(0.0) == (1400, 1400)  # /status: how far behind cards are
    summary = lists_summary(storage, "en", Links(BASE))
    assert "700 lists" in summary and visible_length(parse_html(summary)) <= MESSAGE_LIMIT
    seen: list[str] = []
    for number in range(70):
        text, keyboard = lists_page(storage, number, "en", Links(BASE))
        assert visible_length(parse_html(text)) <= MESSAGE_LIMIT and keyboard is not None
        seen += re.findall(r"📚 (owner\d{3}--awesome-x*)", parse_html(text))
    assert len(set(seen)) == LISTS


def test_search_past_the_ranking_bound_keeps_the_rule_and_title_hits_first(
    many: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A word in more entries than are ranked (reading.RANKED_MATCHES): the candidates are
    the newest title hits, then the newest others; the one matching rule still decides."""
    from dltbot.storage import reading

    storage = many.storage
    ranked = [r.entry.identity for r in storage.search("paper list", limit=20)]
    monkeypatch.setattr(reading, "RANKED_MATCHES", 10)
    monkeypatch.setattr(reading, "CANDIDATES", 30)
    found = storage.search("paper list", limit=20)
    assert len(found) == 20 and len(ranked) == 20
    assert all("paper" in r.entry.title.casefold() for r in found)  # title hits first
    # The candidates are the newest 80 matches (4 × the 20 asked): the last 40 lists'.
    numbers = [int(re.findall(r"e(\d+)-", r.entry.identity)[0]) for r in found]
    assert min(numbers) >= LISTS - 40
    assert storage.search("of list 5 泛化 zzz") == []  # every word must match
    one = storage.search("list 123 泛化", limit=5)  # a short uncased word: matched in C
    assert one and all(" of list 123 " in r.entry.title + " " for r in one)


def test_the_index_of_lists_is_searchable(many: Site) -> None:
    from dltbot.site import BadRequestError

    text = many.index(find="owner12 awesome").body.decode()
    index = text[text.index('id="lists"') :]
    names = re.findall(r'href="https://feeds\.example\.org/lists/([^/"]+)/"', index)
    assert names == [f"owner12{n}--awesome-{'x' * ((120 + n) % 30)}" for n in range(10)]
    assert "10 list(s) named with “owner12 awesome”" in index
    assert 'value="owner12 awesome"' in index  # the form shows what was asked
    nothing = many.index(find="zzz").body.decode()
    assert "0 list(s) named with" in nothing
    with pytest.raises(BadRequestError, match="lists: control"):
        many.index(find="a\x00b")
