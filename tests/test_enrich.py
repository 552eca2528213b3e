"""Paper cards and link health against fakes of arXiv, GitHub, Crossref and web pages on
loopback: batching and spacing, ETag re-use, every link status, the private-address guard,
and the cards in the feed, the page, search and JSON."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo, validate_atom
from fakeweb import FakeWeb, MapResolver, Page, repo_json
from test_web import Server

from dltbot.config import EnrichConfig
from dltbot.enrich import Enricher, EnrichReport
from dltbot.enrich.arxiv import arxiv_id
from dltbot.enrich.doi import doi_of
from dltbot.enrich.github import repo_of
from dltbot.models import CardState, ListSource
from dltbot.storage import Storage
from dltbot.sync import sync_list

DAY = 86400.0
T0 = 1_790_000_000.0  # 2026-09-21

KAN = {
    "title": "KAN: Kolmogorov-Arnold Networks",
    "authors": ["Ziming Liu", "Yixuan Wang", "Sachin Vaidya", "Fabian Ruehle", "James Halverson",
                "Marin Soljačić", "Thomas Y. Hou", "Max Tegmark"],
    "abstract": "Inspired by the Kolmogorov-Arnold representation theorem, we propose "
    "Kolmogorov-Arnold Networks (KANs) as promising alternatives to Multi-Layer Perceptrons. "
    "While MLPs have fixed activation functions on nodes, KANs have learnable activation "
    "functions on edges. A third sentence that a push leaves out.",
    "category": "cs.LG",
}  # fmt: skip
OLD_STYLE = {"title": "An old-style id", "authors": ["G. Perelman"], "abstract": "Ricci flow."}

PAPER_PAGE = """<html><head><title>Springer page</title>
<meta name="citation_title" content="Deep learning: a statistical viewpoint">
<meta name="citation_author" content="Peter L. Bartlett">
<meta name="citation_author" content="Andrea Montanari">
<meta name="citation_author" content="Alexander Rakhlin">
<meta name="citation_publication_date" content="2021/03/04">
<meta name="citation_journal_title" content="Acta Numerica">
<meta name="citation_pdf_url" content="/pdf/dl-statistical.pdf">
<meta name="description" content="The remarkable practical success of deep learning.">
</head><body>…</body></html>"""
BLOG_PAGE = """<html><head><title>ignored when og:title is there</title>
<meta property="og:title" content="深度学习理论：泛化之谜">
<meta property="og:description" content="一篇关于泛化的知乎文章。">
<meta property="og:site_name" content="知乎专栏">
<script type="application/ld+json">{"@context":"https://schema.org","@type":"Article",
"author":{"@type":"Person","name":"张三"},"datePublished":"2023-05-06T08:00:00+08:00"}</script>
</head><body></body></html>"""


@pytest.fixture
def web() -> Iterator[FakeWeb]:
    server = FakeWeb().start()
    yield server
    server.stop()


def seed(web: FakeWeb) -> str:
    """A small list of every kind of link, with the fakes' answers for each."""
    web.papers = {"2404.19756": KAN, "math/0211159": OLD_STYLE}
    web.repos = {
        "KindXiaoming/pykan": repo_json("KindXiaoming/pykan"),
        "new/name": repo_json("new/name", archived=True, stargazers_count=7),
    }
    web.renamed = {"old/name": "new/name"}
    web.works = {
        "10.1007/s10208-021-09522-x": {
            "title": ["The Modern Mathematics of Deep Learning"],
            "author": [{"given": "Julius", "family": "Berner"}, {"given": "Philipp",
                                                                 "family": "Grohs"}],
            "container-title": ["Foundations of Computational Mathematics"],
            "published": {"date-parts": [[2021, 7, 1]]},
            "abstract": "<jats:p>We describe the new field of mathematical analysis.</jats:p>",
        }
    }  # fmt: skip
    web.pages = {
        "paper": Page(body=PAPER_PAGE),
        "blog": Page(body=BLOG_PAGE),
        "dead": Page(404, "no such page"),
        "gone": Page(410, "gone"),
        "forbidden": Page(403, "go away"),
        "busy": Page(429, "slow down", {"Retry-After": "7200"}),
        "challenge": Page(503, "<title>Just a moment...</title>", {"cf-mitigated": "challenge"}),
        "down": Page(502, "bad gateway"),
        "moved": Page(301, "", {"Location": "/p/paper"}),
        "pdf": Page(body=b"%PDF-1.4 ...", content_type="application/pdf"),
    }
    # The 429 page on its own host name: its Retry-After holds back that host only.
    pages = "".join(
        f"- [{name} page]({web.url(name, 'localhost' if name == 'busy' else None)})\n"
        for name in web.pages
    )
    return (
        "# Reading list\n\n## Papers\n\n"
        "1. [KAN: Kolmogorov-Arnold Networks](https://arxiv.org/abs/2404.19756) ICLR 2025\n"
        "2. [Old style](https://arxiv.org/pdf/math/0211159v1.pdf)\n"
        "3. [Not on arXiv](https://arxiv.org/abs/2501.00001)\n"
        "4. [Mathematics of DL](https://doi.org/10.1007/s10208-021-09522-x)\n\n"
        "## Code\n\n"
        "- [pykan](https://github.com/KindXiaoming/pykan)\n"
        "- [A deleted repo](https://github.com/nobody/gone)\n"
        "- [A renamed repo](https://github.com/old/name)\n\n"
        "## Pages\n\n" + pages
    )


def synced(repo: GitRepo, tmp_path: Path, text: str) -> Path:
    repo.commit({"README.md": text}, "the list")
    db = tmp_path / "db.sqlite3"
    with Storage(db) as storage:
        report = sync_list(storage, ListSource("papers", str(repo.path)), tmp_path / "clones")
        assert report.error is None, report.error
    return db


def enrich(
    db: Path, settings: dict[str, Any], now: float = T0, every: bool = False, **http: Any
) -> EnrichReport:
    # No DNS server is ever asked: names are the fakes' (localhost) unless a test maps more.
    http.setdefault("resolver", MapResolver({"localhost": "127.0.0.1"}))
    enricher = Enricher(EnrichConfig(**settings), db, "https://feeds.example.org",
                        clock=lambda: now, **http)  # fmt: skip
    identities = None
    if every:
        with Storage(db) as storage:
            identities = [state.identity for state in storage.card_states()]
    return asyncio.run(enricher.run(identities=identities))


def states(db: Path) -> dict[str, CardState]:
    with Storage(db) as storage:
        return {state.url: state for state in storage.card_states()}


def test_urls_are_read_as_their_sources() -> None:
    assert arxiv_id("https://arxiv.org/abs/2404.19756") == "2404.19756"
    assert arxiv_id("https://arxiv.org/abs/2404.19756v3") == "2404.19756"
    assert arxiv_id("http://arxiv.org/pdf/2404.19756v2.pdf") == "2404.19756"
    assert arxiv_id("https://export.arxiv.org/abs/1706.03762/") == "1706.03762"
    assert arxiv_id("https://arxiv.org/pdf/math/0211159v1.pdf") == "math/0211159"
    assert arxiv_id("https://arxiv.org/abs/hep-th/9901001") == "hep-th/9901001"
    assert arxiv_id("https://arxiv.org/list/cs.LG/recent") is None
    assert arxiv_id("https://evil.org/abs/2404.19756") is None
    assert repo_of("https://github.com/KindXiaoming/pykan") == "KindXiaoming/pykan"
    assert repo_of("https://github.com/KindXiaoming/pykan.git") == "KindXiaoming/pykan"
    assert repo_of("https://github.com/KindXiaoming/pykan/tree/master/docs") is None
    assert repo_of("https://github.com/topics/deep-learning") is None
    assert repo_of("https://github.com/a/..") is None
    assert repo_of("https://github.com/../user") is None
    assert doi_of("https://doi.org/10.1007/s10208-021-09522-x") == "10.1007/s10208-021-09522-x"
    assert doi_of("https://dx.doi.org/10.1145%2F3446776") == "10.1145/3446776"
    assert doi_of("https://doi.org/not-a-doi") is None


def test_one_pass_gives_cards_and_every_link_status(
    web: FakeWeb, repo: GitRepo, tmp_path: Path
) -> None:
    db = synced(repo, tmp_path, seed(web))
    report = enrich(db, web.config())
    assert report.checked == 17 and not report.offline
    # arXiv: every id of the list in one request, as arXiv asks.
    (query,) = web.requests("/arxiv/")
    assert sorted(query.query["id_list"].split(",")) == ["2404.19756", "2501.00001",
                                                         "math/0211159"]  # fmt: skip
    found = states(db)
    kan = found["https://arxiv.org/abs/2404.19756"]
    assert kan.card is not None and kan.link is not None
    assert kan.card.authors[:2] == ("Ziming Liu", "Yixuan Wang") and len(kan.card.authors) == 8
    assert kan.card.abstract.startswith("Inspired by the Kolmogorov-Arnold")
    assert (kan.card.published, kan.card.venue) == ("2024-04-30", "cs.LG")
    assert kan.card.pdf == "http://arxiv.org/pdf/2404.19756v2"
    assert (kan.link.status, kan.link.http_status) == ("ok", 200)
    assert found["https://arxiv.org/pdf/math/0211159v1.pdf"].card.title == "An old-style id"  # type: ignore[union-attr]
    missing = found["https://arxiv.org/abs/2501.00001"]
    assert missing.card is None and missing.link and missing.link.status == "error"
    assert "1 of 2" in missing.link.reason  # not broken on one answer
    # GitHub: the API's answer is the link's health (no request to the page).
    pykan = found["https://github.com/KindXiaoming/pykan"]
    assert pykan.card and (pykan.card.stars, pykan.card.venue) == (1234, "Python")
    assert pykan.card.published == "2026-10-01" and pykan.link and pykan.link.status == "ok"
    renamed = found["https://github.com/old/name"]
    assert renamed.link and renamed.link.status == "redirected"
    assert renamed.link.target == "https://github.com/new/name"
    assert renamed.card and renamed.card.archived
    assert found["https://github.com/nobody/gone"].hard_count == 1
    # Crossref, with the JATS abstract read as text.
    work = found["https://doi.org/10.1007/s10208-021-09522-x"].card
    assert work and work.authors == ("Julius Berner", "Philipp Grohs")
    assert (work.published, work.venue) == (
        "2021-07-01",
        "Foundations of Computational Mathematics",
    )
    assert work.abstract == "We describe the new field of mathematical analysis."
    # Pages: citation_* tags, then JSON-LD and OpenGraph.
    paper = found[web.url("paper")]
    assert paper.card and paper.card.title == "Deep learning: a statistical viewpoint"
    assert paper.card.authors == ("Peter L. Bartlett", "Andrea Montanari", "Alexander Rakhlin")
    assert (paper.card.published, paper.card.venue) == ("2021-03-04", "Acta Numerica")
    assert paper.card.pdf == f"{web.base}/pdf/dl-statistical.pdf"
    blog = found[web.url("blog")].card
    assert blog and (blog.title, blog.authors, blog.venue) == (
        "深度学习理论：泛化之谜",
        ("张三",),
        "知乎专栏",
    )
    assert blog.published == "2023-05-06" and blog.abstract == "一篇关于泛化的知乎文章。"
    statuses = {url.rsplit("/", 1)[-1]: s.link.status for url, s in found.items() if s.link}
    assert {name: statuses[name] for name in web.pages} == {
        "paper": "ok", "blog": "ok", "dead": "error", "gone": "error", "forbidden": "blocked",
        "busy": "blocked", "challenge": "blocked", "down": "error", "moved": "redirected",
        "pdf": "ok",
    }  # fmt: skip
    moved = found[web.url("moved")]
    assert moved.link and moved.link.target == web.url("paper") and moved.link.http_status == 200
    assert found[web.url("pdf")].card is None
    # Retry-After is honoured: the busy host is not asked again for two hours.
    assert found[web.url("busy", "localhost")].next_check >= T0 + 7200
    # Each request names dltbot, its version and this instance.
    agents = {seen.headers["User-Agent"] for seen in web.seen}
    assert agents == {"dltbot/0.1.0 (+https://feeds.example.org)"}


def test_broken_takes_two_hard_answers_a_day_apart(
    web: FakeWeb, repo: GitRepo, tmp_path: Path
) -> None:
    db = synced(repo, tmp_path, seed(web))
    enrich(db, web.config())
    dead = web.url("dead")
    assert states(db)[dead].next_check == T0 + DAY  # a hard answer is checked again in a day
    enrich(db, web.config(), now=T0 + 3600, every=True)  # an hour later: still one
    assert states(db)[dead].link.status == "error"  # type: ignore[union-attr]
    enrich(db, web.config(), now=T0 + DAY + 3600)  # due again a day after the last check
    after = states(db)
    link = after[dead].link
    assert link and (link.status, link.http_status, link.since) == (
        "broken",
        404,
        "2026-09-22T15:13:20+00:00",
    )
    assert after["https://github.com/nobody/gone"].link.status == "broken"  # type: ignore[union-attr]
    assert after[web.url("forbidden")].link.status == "blocked"  # type: ignore[union-attr]
    # The page comes back: ok again, and the count starts over.
    web.pages["dead"] = Page(body="<title>back</title>")
    enrich(db, web.config(), now=T0 + 9 * DAY, every=True)
    back = states(db)[dead]
    assert back.link and back.link.status == "ok" and back.hard_count == 0
    assert back.link.since == "2026-09-30T14:13:20+00:00"


def test_broken_after_one_marks_at_the_first_hard_answer(
    web: FakeWeb, repo: GitRepo, tmp_path: Path
) -> None:
    db = synced(repo, tmp_path, seed(web))
    enrich(db, web.config(broken_after=1))
    found = states(db)
    assert found[web.url("gone")].link.status == "broken"  # type: ignore[union-attr]
    assert found[web.url("down")].link.status == "error"  # type: ignore[union-attr]
    assert found[web.url("busy", "localhost")].link.status == "blocked"  # type: ignore[union-attr]


def test_github_rechecks_reuse_the_etag(web: FakeWeb, repo: GitRepo, tmp_path: Path) -> None:
    db = synced(repo, tmp_path, seed(web))
    enrich(db, web.config())
    first = [seen for seen in web.requests("/github/repos/KindXiaoming")]
    assert len(first) == 1 and "If-None-Match" not in first[0].headers
    enrich(db, web.config(), now=T0 + 8 * DAY, every=True)
    second = web.requests("/github/repos/KindXiaoming")[1]
    assert second.headers["If-None-Match"].startswith('"')
    pykan = states(db)["https://github.com/KindXiaoming/pykan"]
    assert pykan.card and pykan.card.stars == 1234  # kept from the first answer (304)
    assert pykan.link and pykan.link.status == "ok" and pykan.link.checked.startswith("2026-09-29")


def test_github_rate_limit_is_an_error_not_a_broken_repo(
    web: FakeWeb, repo: GitRepo, tmp_path: Path
) -> None:
    db = synced(repo, tmp_path, seed(web))
    web.rate_limited = True
    enrich(db, web.config(broken_after=1))
    found = states(db)
    for url in ("https://github.com/KindXiaoming/pykan", "https://github.com/nobody/gone"):
        assert found[url].link.status == "error"  # type: ignore[union-attr]
        assert found[url].next_check >= T0 + 590  # after the limit's reset
    # The first 403 pauses GitHub for the rest of the pass: one request, not three.
    assert len(web.requests("/github/")) <= 2


def test_arxiv_is_asked_in_batches_of_100_spaced_as_asked(
    web: FakeWeb, repo: GitRepo, tmp_path: Path
) -> None:
    web.papers = {f"2401.{i:05d}": {**KAN, "title": f"Paper {i}"} for i in range(150)}
    text = "# L\n\n" + "".join(
        f"- [P{i}](https://arxiv.org/abs/2401.{i:05d})\n" for i in range(150)
    )
    db = synced(repo, tmp_path, text)
    enrich(db, web.config(arxiv_spacing=1.0))
    asked = web.requests("/arxiv/")
    assert [len(seen.query["id_list"].split(",")) for seen in asked] == [100, 50]
    assert asked[1].at - asked[0].at >= 0.8  # 1 s apart, less slack for the answers
    assert sum(1 for s in states(db).values() if s.card) == 150


def test_private_addresses_are_never_fetched(web: FakeWeb, repo: GitRepo, tmp_path: Path) -> None:
    """The guard: address literals, names resolving to loopback, and redirect hops."""
    public = FakeWeb(host="127.0.0.2").start()  # stands for a public host
    try:
        web.pages = {"secret": Page(body="<title>internal admin</title>")}
        public.pages = {
            "hop": Page(302, "", {"Location": web.url("secret")}),
            "named-hop": Page(301, "", {"Location": web.url("secret", "intranet.test")}),
            "fine": Page(body="<title>A public page</title>"),
        }
        text = (
            "# L\n\n"
            f"- [literal]({web.url('secret')})\n"
            f"- [by name]({web.url('secret', 'localhost')})\n"
            f"- [redirect]({public.url('hop', 'public.test')})\n"
            f"- [named redirect]({public.url('named-hop', 'public.test')})\n"
            f"- [fine]({public.url('fine', 'public.test')})\n"
        )
        db = synced(repo, tmp_path, text)
        names = {"localhost": "127.0.0.1", "intranet.test": "127.0.0.1",
                 "public.test": "127.0.0.2"}  # fmt: skip
        settings = {**web.config(), "allow_private": False}
        enrich(db, settings, resolver=MapResolver(names), public=lambda ip: ip == "127.0.0.2")
        assert web.requests("/p/secret") == []  # nothing reached the private server
        found = states(db)
        for name in ("literal", "by name", "redirect", "named redirect"):
            url = next(u for u in found if found[u].identity and name in _title(db, u))
            link = found[url].link
            assert link and link.status == "error" and "not fetched" in link.reason, name
        assert [s.path for s in public.seen] == ["/p/hop", "/p/named-hop", "/p/fine"] or sorted(
            s.path for s in public.seen
        ) == ["/p/fine", "/p/hop", "/p/named-hop"]
        fine = found[public.url("fine", "public.test")]
        assert fine.card and fine.card.title == "A public page"
        # allow_private lifts it (tests, intranets).
        enrich(db, {**web.config(), "allow_private": True}, every=True,
               resolver=MapResolver(names))  # fmt: skip
        assert len(web.requests("/p/secret")) == 4
    finally:
        public.stop()


def _title(db: Path, url: str) -> str:
    with Storage(db) as storage:
        return next(e.entry.title for e in storage.entries("papers") if e.entry.url == url)


def test_no_network_marks_nothing_broken(web: FakeWeb, repo: GitRepo, tmp_path: Path) -> None:
    text = "# L\n\n" + "".join(
        f"- [{host}](http://{host}.example/paper)\n" for host in ("a", "b", "c")
    )
    db = synced(repo, tmp_path, text)
    no_dns = MapResolver({})  # every name unknown: what a machine without network sees
    report = enrich(db, web.config(broken_after=1), resolver=no_dns)
    assert report.offline
    assert {s.link.status for s in states(db).values() if s.link} == {"error"}
    assert {s.hard_count for s in states(db).values()} == {0}
    # One unknown host among hosts that answer is a hard answer.
    web.pages = {"ok": Page(body="<title>ok</title>")}
    text2 = text + f"- [ok]({web.url('ok', 'real.example')})\n"
    db2 = synced(GitRepo(tmp_path / "r2"), tmp_path / "two", text2)
    report = enrich(db2, web.config(broken_after=1), resolver=MapResolver({"real.example":
                                                                           "127.0.0.1"}))  # fmt: skip
    assert not report.offline
    assert states(db2)["http://a.example/paper"].link.status == "broken"  # type: ignore[union-attr]


def test_hostile_pages_and_apis_are_cleaned_bounded_and_survived(
    web: FakeWeb, repo: GitRepo, tmp_path: Path
) -> None:
    # What XML can carry: C1 controls, bidi overrides, zero-width characters.
    web.papers = {"2404.19756": {**KAN, "title": "Evil\u0085title\u202e", "authors":
                                 ["A\u200bB", "x" * 5000]}}  # fmt: skip
    web.repos = {"a/b": {"full_name": "a/b", "description": ["not", "a", "string"],
                         "stargazers_count": "many", "html_url": "javascript:alert(1)"}}  # fmt: skip
    web.works = {"10.1/x": {"title": "not a list", "author": "nobody"}}
    huge = "<html><head><title>Huge</title></head><body>" + "x" * 3_000_000 + "</body></html>"
    web.pages = {
        "huge": Page(body=huge),
        "controls": Page(
            body='<title>Ti\x07tle\u200b</title><meta name="citation_author" '
            'content="Eve\x1b]8;;evil\x1b\\"><meta name="citation_pdf_url" '
            'content="javascript:alert(1)">'
        ),
        "badjson": Page(
            body='<script type="application/ld+json">{"@type": [1, {"x": '
            + "[" * 5000
            + "</script><title>t</title>"
        ),
        "charset": Page(
            body="<title>中文标题</title>".encode("gbk"), content_type="text/html; charset=gbk"
        ),
        "badcharset": Page(body="<title>t</title>", content_type="text/html; charset=nope"),
        # A codec that fails whatever errors= says: read as UTF-8 with replacement.
        "idna": Page(
            body="<title>t\xe9</title>".encode("latin-1"), content_type="text/html; charset=idna"
        ),
        "metaidna": Page(body=b'<meta charset="idna"><title>m\xe9</title>'),
        "slow": Page(body="<title>late</title>", delay=3),
        "loop": Page(302, "", {"Location": "/p/loop"}),
        "scheme": Page(302, "", {"Location": "file:///etc/passwd"}),
    }
    text = ("# L\n\n- [a](https://arxiv.org/abs/2404.19756)\n- [b](https://github.com/a/b)\n"
            "- [c](https://doi.org/10.1/x)\n"
            + "".join(f"- [{n}]({web.url(n)})\n" for n in web.pages))  # fmt: skip
    db = synced(repo, tmp_path, text)
    enrich(db, web.config(timeout=1, max_page_size="1MB"))
    found = states(db)
    paper = found["https://arxiv.org/abs/2404.19756"].card
    assert paper and paper.title == "Evil title" and paper.authors[0] == "AB"
    assert len(paper.authors[1]) <= 200
    repo_card = found["https://github.com/a/b"].card
    assert repo_card and repo_card.code is None and repo_card.stars is None
    assert found[web.url("huge")].card.title == "Huge"  # type: ignore[union-attr]
    controls = found[web.url("controls")].card
    assert controls and controls.title == "Ti tle" and controls.pdf is None
    assert all(ch.isprintable() for ch in controls.authors[0])
    assert found[web.url("charset")].card.title == "中文标题"  # type: ignore[union-attr]
    assert found[web.url("badcharset")].card.title == "t"  # type: ignore[union-attr]
    assert found[web.url("idna")].card.title == "t\ufffd"  # type: ignore[union-attr]
    assert found[web.url("metaidna")].card.title == "m\ufffd"  # type: ignore[union-attr]
    assert found[web.url("idna")].link.status == "ok"  # type: ignore[union-attr]
    slow = found[web.url("slow")].link
    assert slow and slow.status == "error" and "timed out" in slow.reason
    assert "redirects" in found[web.url("loop")].link.reason  # type: ignore[union-attr]
    assert "not an http(s) URL" in found[web.url("scheme")].link.reason  # type: ignore[union-attr]
    assert found[web.url("badjson")].card.title == "t"  # type: ignore[union-attr]


def test_cards_show_in_feed_page_search_and_json(
    web: FakeWeb, repo: GitRepo, tmp_path: Path
) -> None:
    text = seed(web).replace(
        "## Code", f"## Notes\n\n- [Ziming's notes]({web.url('notes')})\n\n## Code"
    )
    web.pages["notes"] = Page(body="<title>Notes</title>")
    repo.commit({"README.md": "# Reading list\n\n## Papers\n\n- [x](https://x.org)\n"}, "start")
    db = synced(repo, tmp_path, text)  # the seed's entries are additions after the first sync
    enrich(db, web.config(broken_after=1))
    server = Server(db)
    try:
        status, _, feed = server.get("/feed.atom")
        assert status == 200
        validate_atom(feed, tmp_path)
        text_feed = feed.decode()
        assert (
            "Ziming Liu, Yixuan Wang, Sachin Vaidya, Fabian Ruehle, James Halverson, "
            "Marin Soljačić et al." in text_feed
        )
        assert "Inspired by the Kolmogorov" in text_feed and "2404.19756v2" in text_feed
        status, _, page = server.get("/")
        html = page.decode()
        assert 'class="authors">Peter L. Bartlett, Andrea Montanari' in html
        assert "broken link since 2026-09-21" in html  # the dead page
        status, _, found = server.get("/api/search?q=ziming")
        results = json.loads(found)["results"]
        # The title hit first, then the paper whose author matches.
        assert [r["title"] for r in results] == ["Ziming's notes",
                                                 "KAN: Kolmogorov-Arnold Networks"]  # fmt: skip
        assert results[1]["meta"]["source"] == "arxiv"
        assert results[1]["meta"]["authors"][0] == "Ziming Liu"
        assert results[1]["link"]["status"] == "ok"
    finally:
        server.stop()
    # The CLI: search by an abstract's words, links --status broken exits 1 for CI.
    cli = [sys.executable, "-m", "dltbot.cli"]
    out = subprocess.run([*cli, "search", "learnable", "activation", "--json", "--db", str(db)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert json.loads(out.splitlines()[0])["title"] == "KAN: Kolmogorov-Arnold Networks"
    broken = subprocess.run([*cli, "links", "--status", "broken", "--json", "--db", str(db)],
                            capture_output=True, text=True)  # fmt: skip
    assert broken.returncode == 1
    rows = [json.loads(line) for line in broken.stdout.splitlines()]
    assert {row["url"].rsplit("/", 1)[-1] for row in rows} == {"dead", "gone", "2501.00001"}  # fmt: skip
    assert all(row["status"] == "broken" and row["since"] for row in rows)
    events = subprocess.run([*cli, "events", "--json", "--db", str(db)], capture_output=True,
                            text=True, check=True).stdout.splitlines()  # fmt: skip
    kan = next(json.loads(e) for e in events if "2404.19756" in e)
    assert kan["meta"]["venue"] == "cs.LG" and kan["link"]["http_status"] == 200


def test_enrich_command_runs_one_pass(web: FakeWeb, repo: GitRepo, tmp_path: Path) -> None:
    db = synced(repo, tmp_path, seed(web))
    config = tmp_path / "config.yaml"
    settings = web.config()
    config.write_text(json.dumps({"storage": {"path": str(db)}, "enrich": settings}))
    cli = [sys.executable, "-m", "dltbot.cli"]
    done = subprocess.run([*cli, "enrich", "--config", str(config)], capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("checked 17 links (arxiv 3, doi 1, github 3, page 10)")
    again = subprocess.run([*cli, "enrich", "--config", str(config)], capture_output=True,
                           text=True, check=True)  # fmt: skip
    assert again.stdout.startswith("checked 0 links (none due)")  # nothing is due yet
    listed = subprocess.run([*cli, "links", "--config", str(config)], capture_output=True,
                            text=True)  # fmt: skip
    assert listed.returncode == 0  # nothing broken after one pass (broken_after: 2)
    assert f"blocked    {web.url('forbidden')} since " in listed.stdout
    off = tmp_path / "off.yaml"
    off.write_text(json.dumps({"storage": {"path": str(db)}, "enrich": {"enabled": False}}))
    refused = subprocess.run([*cli, "enrich", "--config", str(off)], capture_output=True,
                             text=True)  # fmt: skip
    assert refused.returncode == 1 and "enrich.enabled is false" in refused.stderr


def test_the_bot_finds_papers_by_author_and_shows_them(
    web: FakeWeb, repo: GitRepo, tmp_path: Path
) -> None:
    """Through the fake Bot API: /search by an author's name, the authors in the result, and
    inline mode showing them in the result's description."""
    from fakebot import FAST, FakeTelegram
    from test_bot import last_to, make_config, run_app

    db = synced(repo, tmp_path, seed(web))
    enrich(db, web.config())
    fake = FakeTelegram(pace=FAST).start()
    try:

        def scenario() -> None:
            fake.message("/search tegmark")
            found = fake.wait_for(last_to(fake, 1001, 1))
            assert found.text.startswith("Results for “tegmark” (1–1 of 1):")
            assert "• KAN: Kolmogorov-Arnold Networks" in found.text
            assert "👤 Ziming Liu, Yixuan Wang" in found.text and "et al." in found.text
            fake.inline("bartlett")
            answer = fake.wait_for(lambda: fake.calls_of("answerInlineQuery"))[0]
            results = json.loads(answer.params["results"])
            assert {r["title"] for r in results} == {"paper page", "moved page"}
            assert all("Peter L. Bartlett" in r["description"] for r in results)

        run_app(make_config(fake, db), db, scenario)
    finally:
        fake.stop()


def test_a_publisher_page_naming_its_doi_gets_crossrefs_record(
    web: FakeWeb, repo: GitRepo, tmp_path: Path
) -> None:
    web.works = {"10.1145/3446776": {
        "DOI": "10.1145/3446776", "title": ["Understanding deep learning (still) requires "
        "rethinking generalization"], "author": [{"given": "Chiyuan", "family": "Zhang"}],
        "container-title": ["Communications of the ACM"],
        "published": {"date-parts": [[2021, 3]]},
    }}  # fmt: skip
    web.pages = {
        "acm": Page(
            body='<title>ACM</title><meta name="citation_doi" content="doi:10.1145/3446776">'
        ),
        "bad": Page(body='<title>x</title><meta name="citation_doi" content="10.1234/../../x">'),
    }
    db = synced(repo, tmp_path, f"# L\n\n- [ACM]({web.url('acm')})\n- [Bad]({web.url('bad')})\n")
    enrich(db, web.config())
    card = states(db)[web.url("acm")].card
    assert card and card.source == "doi" and card.authors == ("Chiyuan Zhang",)
    assert (card.venue, card.published, card.doi) == ("Communications of the ACM", "2021-03",
                                                      "10.1145/3446776")  # fmt: skip
    assert states(db)[web.url("bad")].card.title == "x"  # type: ignore[union-attr]
    # A forged DOI stays one path segment of the API: no request leaves /crossref/works/.
    asked = sorted(s.path for s in web.seen if not s.path.startswith("/p/"))
    assert asked == ["/crossref/works/10.1145/3446776", "/crossref/works/10.1234/../../x"]
