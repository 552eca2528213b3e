"""Papers, not links: one key for every spelling of a paper's link, one record across lists,
`dltbot papers`, and BibTeX that reads back."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from conftest import GitRepo, fixture_bundle

from dltbot.bib import bibtex, citation_key, parse
from dltbot.config import Config
from dltbot.models import Card, CardState, Entry, ListSource, StoredEntry
from dltbot.papers import group, paper_link
from dltbot.site import Site
from dltbot.storage import Storage
from dltbot.sync import sync_list


@pytest.mark.parametrize(
    ("url", "key", "version"),
    [
        ("https://arxiv.org/abs/2404.19756", "arxiv:2404.19756", ""),
        ("https://arxiv.org/abs/2404.19756v3", "arxiv:2404.19756", "v3"),
        ("http://arxiv.org/pdf/2404.19756v2.pdf", "arxiv:2404.19756", "v2"),
        ("https://arxiv.org/pdf/2404.19756", "arxiv:2404.19756", ""),
        ("https://arxiv.org/html/2404.19756v1", "arxiv:2404.19756", "v1"),
        ("https://export.arxiv.org/abs/2404.19756", "arxiv:2404.19756", ""),
        ("https://ar5iv.labs.arxiv.org/html/2404.19756", "arxiv:2404.19756", ""),
        ("https://ar5iv.org/abs/2404.19756", "arxiv:2404.19756", ""),
        ("https://www.alphaxiv.org/abs/2404.19756", "arxiv:2404.19756", ""),
        ("https://huggingface.co/papers/2404.19756", "arxiv:2404.19756", ""),
        ("https://doi.org/10.48550/arXiv.2404.19756", "arxiv:2404.19756", ""),
        ("https://arxiv.org/abs/math/0211159v1", "arxiv:math/0211159", "v1"),
        ("https://arxiv.org/pdf/hep-th/9711200.pdf", "arxiv:hep-th/9711200", ""),
        ("https://doi.org/10.1007/S10208-021-09522-X", "doi:10.1007/s10208-021-09522-x", ""),
        ("http://dx.doi.org/10.1145/3446776", "doi:10.1145/3446776", ""),
        ("https://openreview.net/forum?id=rJl-b3RcF7", "openreview:rJl-b3RcF7", ""),
        ("https://openreview.net/pdf?id=rJl-b3RcF7", "openreview:rJl-b3RcF7", ""),
        ("https://aclanthology.org/P19-1001/", "acl:P19-1001", ""),
        ("https://aclanthology.org/2020.acl-main.1.pdf", "acl:2020.acl-main.1", ""),
        ("https://www.aclweb.org/anthology/P19-1001.pdf", "acl:P19-1001", ""),
    ],
)
def test_every_spelling_of_a_paper_has_its_key(url: str, key: str, version: str) -> None:
    link = paper_link(url)
    assert link is not None and (link.key, link.version) == (key, version)


@pytest.mark.parametrize(
    "url",
    ["https://github.com/o/r", "https://arxiv.org/list/cs.LG/recent", "https://doi.org/nope",
     "https://openreview.net/forum?id=", "javascript:alert(1)", "http://[::1", ""],
)  # fmt: skip
def test_what_is_not_a_paper_has_no_key(url: str) -> None:
    assert paper_link(url) is None


def test_the_seed_lists_arxiv_entries_are_papers(tmp_path: Path) -> None:
    bundle = fixture_bundle("deeplearningtheory")
    with Storage(tmp_path / "db.sqlite3") as storage:
        sync_list(storage, ListSource("dlt", str(bundle)), tmp_path / "clones")
        entries = storage.entries("dlt")
    arxiv = [e for e in entries if "arxiv.org/" in e.entry.url]
    papers = group(entries)
    assert len(arxiv) >= 40 and all(paper_link(e.entry.url) for e in arxiv)
    keys = [p.key for p in papers]
    assert len(keys) == len(set(keys)) and sum(k.startswith("arxiv:") for k in keys) >= 40


def stored(
    list_name: str, url: str, title: str, section: str, card: Card | None = None
) -> StoredEntry:
    entry = Entry(url, url, title, "", (section,))
    return StoredEntry(list_name, entry, 0, "abc", "2026-01-02T00:00:00+00:00", card)


KAN = Card(source="arxiv", title="KAN: Kolmogorov-Arnold Networks",
           authors=("Ziming Liu", "Max Tegmark"), published="2024-04-30", venue="cs.LG",
           doi="10.1000/kan.2025")  # fmt: skip


def test_one_paper_across_lists_and_spellings() -> None:
    entries = [
        stored("a", "https://arxiv.org/abs/2404.19756v2", "KAN", "Networks", KAN),
        stored("b", "https://arxiv.org/pdf/2404.19756.pdf", "KAN paper", "New"),
        # Its published version's DOI, named by the arXiv record: the same paper.
        stored("c", "https://doi.org/10.1000/KAN.2025", "KAN (ICLR)", "Venues"),
        stored("c", "https://github.com/KindXiaoming/pykan", "pykan", "Code"),
    ]
    papers = group(entries)
    assert len(papers) == 1
    paper = papers[0].to_json()
    assert paper["key"] == "arxiv:2404.19756" and paper["doi"] == "10.1000/kan.2025"
    assert paper["in"] == [{"list": "a", "section": "Networks"}, {"list": "b", "section": "New"},
                           {"list": "c", "section": "Venues"}]  # fmt: skip
    assert paper["versions"] == ["v2"] and paper["authors"] == ["Ziming Liu", "Max Tegmark"]


def test_bibtex_reads_back_with_stable_unique_keys_and_hostile_text() -> None:
    hostile = Card(source="page", title="A } broken { title % with \\ and _ & # $ ~ ^",
                   authors=("Émile Borel",), published="2021-03-04",
                   venue="Proceedings of the 38th ICML")  # fmt: skip
    entries = [
        stored("a", "https://arxiv.org/abs/2404.19756", "KAN", "Networks", KAN),
        stored("a", "https://arxiv.org/abs/2404.19756v2", "KAN again", "Networks", KAN),
        stored("a", "https://example.org/paper.html", "Hostile", "Papers", hostile),
        stored("a", "https://example.org/other.html", "Hostile twin", "Papers", hostile),
        stored("a", "https://github.com/o/r", "A repository {x}", "Code"),
        stored("a", "https://arxiv.org/abs/2501.00001", "No card yet", "Papers"),
    ]
    text = bibtex(entries)
    back = parse(text)
    assert [e["ID"] for e in back] == [
        "liu2024kan", "borel2021broken", "borel2021brokena", "repository2026", "no2026",
    ]  # fmt: skip
    kan = back[0]
    assert (kan["ENTRYTYPE"], kan["eprint"], kan["archivePrefix"], kan["primaryClass"]) == (
        "article",
        "2404.19756",
        "arXiv",
        "cs.LG",
    )
    assert kan["doi"] == "10.1000/kan.2025" and kan["author"] == "Ziming Liu and Max Tegmark"
    assert back[1]["ENTRYTYPE"] == "inproceedings" and "ICML" in back[1]["booktitle"]
    assert (
        back[1]["title"]
        == r"{A \} broken \{ title \% with \textbackslash{} and \_ \& \# \$ \textasciitilde{} \textasciicircum{}}"
    )
    assert (
        back[3]["ENTRYTYPE"] == "misc"
        and back[3]["howpublished"] == r"\url{https://github.com/o/r}"
    )
    assert (
        citation_key(("Vaswani, Ashish",), "2017", "Attention Is All You Need")
        == "vaswani2017attention"
    )
    assert citation_key(("张三",), "2023", "深度学习") == "entry2023"


def test_papers_command_and_the_bib_documents(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": "# L\n\n## Papers\n\n- [KAN](https://arxiv.org/abs/2404.19756)\n"
                 "- [Adam](https://arxiv.org/abs/1412.6980v9) the optimizer\n"
                 "- [Blog](https://example.org/blog) not a paper\n"}, "one")  # fmt: skip
    other = GitRepo(tmp_path / "other")
    other.commit(
        {"README.md": "# M\n\n## New\n\n- [KAN v2](https://arxiv.org/pdf/2404.19756v2)\n"}, "m"
    )
    db = tmp_path / "db.sqlite3"
    with Storage(db) as storage:
        sync_list(storage, ListSource("l", str(repo.path)), tmp_path / "clones")
        sync_list(storage, ListSource("m", str(other.path)), tmp_path / "clones")
        identity = next(e.entry.identity for e in storage.entries("l") if e.entry.title == "KAN")
        storage.save_card_states(
            [CardState(identity, "https://arxiv.org/abs/2404.19756", KAN)], 0.0
        )
        site = Site(storage, Config())
        document = site.bib("l", section="papers")
        assert document.content_type.startswith("application/x-bibtex")
        assert [e["ID"] for e in parse(document.body.decode())] == [
            "liu2024kan",
            "adam2024",
            "blog2024",
        ]
        assert [e["ID"] for e in parse(site.bib("l", q="optimizer").body.decode())] == ["adam2024"]
    cli = [sys.executable, "-m", "dltbot.cli"]
    result = subprocess.run(
        [*cli, "papers", "--db", str(db), "--json"], capture_output=True, text=True
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["key"] for row in rows] == ["arxiv:2404.19756", "arxiv:1412.6980"]
    assert rows[0]["in"] == [{"list": "l", "section": "Papers"}, {"list": "m", "section": "New"}]
    assert rows[0]["title"] == "KAN: Kolmogorov-Arnold Networks"
    only_m = subprocess.run(
        [*cli, "papers", "--db", str(db), "--list", "m"], capture_output=True, text=True
    )
    assert only_m.stdout.splitlines()[0].startswith("arxiv:2404.19756  KAN")
    search = subprocess.run(
        [*cli, "search", "optimizer", "--db", str(db), "--json"], capture_output=True, text=True
    )
    assert json.loads(search.stdout)["paper"] == {"key": "arxiv:1412.6980", "arxiv": "1412.6980",
                                                  "doi": "10.48550/arXiv.1412.6980", "version": "v9"}  # fmt: skip
    out = tmp_path / "papers.bib"
    written = subprocess.run([*cli, "bib", "--db", str(db), "--list", "l", "--out", str(out)],
                             capture_output=True, text=True)  # fmt: skip
    assert written.returncode == 0 and len(parse(out.read_text(encoding="utf-8"))) == 3
    if shutil.which("biber"):  # biblatex's own reader, its data model checked: no warning
        checked = subprocess.run(
            ["biber", "--tool", "--validate-datamodel", f"--output-file={tmp_path / 'out.bib'}",
             str(out)], capture_output=True, text=True, cwd=tmp_path,
        )  # fmt: skip
        assert checked.returncode == 0 and "WARN" not in checked.stdout, checked.stdout


def test_feeds_carry_a_papers_record_for_reference_managers(repo: GitRepo, tmp_path: Path) -> None:
    """Zotero's feed reader maps <author>, <summary>, dc:identifier, prism:publicationName
    and prism:publicationDate; RSS carries dc:creator per author, JSON Feed `authors`."""
    import feedparser
    from conftest import validate_atom

    repo.commit({"README.md": "# L\n\n## Papers\n\n- [Start](https://start.org)\n"}, "one")
    db = tmp_path / "db.sqlite3"
    source = ListSource("l", str(repo.path))
    published = Card(source="page", title="Deep learning: a statistical viewpoint",
                     authors=("Peter L. Bartlett", "Andrea Montanari"), abstract="The remarkable success.",
                     published="2021-03-04", venue="Acta Numerica", doi="10.1017/S0962492921000027")  # fmt: skip
    with Storage(db) as storage:
        sync_list(storage, source, tmp_path / "clones")
        repo.commit({"README.md": "# L\n\n## Papers\n\n- [Start](https://start.org)\n"
                     "- [KAN](https://arxiv.org/abs/2404.19756) networks\n"
                     "- [DL](https://www.cambridge.org/dl) a viewpoint\n"}, "two")  # fmt: skip
        sync_list(storage, source, tmp_path / "clones")
        by_title = {e.entry.title: e.entry for e in storage.entries("l")}
        storage.save_card_states([
            CardState(by_title["KAN"].identity, by_title["KAN"].url, KAN),
            CardState(by_title["DL"].identity, by_title["DL"].url, published),
        ], 0.0)  # fmt: skip
        site = Site(storage, Config())
        atom = site.feed("l").body
        rss = site.feed("l", fmt="rss").body
        feed_json = json.loads(site.feed("l", fmt="json").body)
        page = site.index().body.decode()
    # The page: one COinS span per paper with a record, for a browser connector to save.
    spans = re.findall(r'<span class="Z3988" title="([^"]+)"></span>', page)
    assert len(spans) == 2
    pairs = [pair for span in spans for pair in parse_qsl(html.unescape(span))]
    assert ("ctx_ver", "Z39.88-2004") in pairs and ("rft.jtitle", "Acta Numerica") in pairs
    assert ("rft_id", "info:doi/10.1017/s0962492921000027") in pairs
    assert ("rft.au", "Max Tegmark") in pairs and ("rft.date", "2021-03-04") in pairs
    assert validate_atom(atom, tmp_path).startswith("VALID")
    entries = {e.title: e for e in feedparser.parse(atom).entries}
    kan, dl, start = entries["KAN"], entries["DL"], entries["Start"]
    assert [a["name"] for a in kan.authors] == ["Ziming Liu", "Max Tegmark"]
    assert kan.contributors[0]["name"] == "Ada Author"  # the committer
    assert kan.dc_identifier == "doi:10.1000/kan.2025"
    assert [a["name"] for a in dl.authors] == ["Peter L. Bartlett", "Andrea Montanari"]
    assert dl.summary == "The remarkable success."
    assert (dl.prism_publicationname, dl.prism_publicationdate) == ("Acta Numerica", "2021-03-04")
    assert dl.dc_identifier == "doi:10.1017/s0962492921000027"
    assert [a["name"] for a in start.authors] == ["Ada Author"]  # not a paper: the committer
    rss_text = rss.decode()
    assert (
        rss_text.count("<dc:creator>") == 4 and "<prism:publicationName>Acta Numerica<" in rss_text
    )
    assert feedparser.parse(rss).bozo == 0
    items = {item["title"]: item for item in feed_json["items"]}
    assert items["DL"]["authors"] == [{"name": "Peter L. Bartlett"}, {"name": "Andrea Montanari"}]
    assert items["DL"]["_paper"]["venue"] == "Acta Numerica" and items["DL"]["summary"]
    assert items["Start"]["authors"] == [{"name": "Ada Author"}]


def test_a_paper_comes_once_to_a_chat_to_the_all_lists_feed_and_to_search(
    repo: GitRepo, tmp_path: Path
) -> None:
    from dltbot.bot.compose import compose_push

    other = GitRepo(tmp_path / "other")
    repo.commit({"README.md": "# L\n\n## Start\n\n- [S](https://s.org)\n"}, "l0")
    other.commit({"README.md": "# M\n\n## Start\n\n- [T](https://t.org)\n"}, "m0")
    db = tmp_path / "db.sqlite3"
    lists = [ListSource("l", str(repo.path)), ListSource("m", str(other.path))]
    with Storage(db) as storage:
        for source in lists:
            sync_list(storage, source, tmp_path / "clones")  # backfills: nothing to push
        storage.subscribe(1, 0, "l", "")
        storage.subscribe(1, 0, "m", "")
        storage.subscribe(2, 0, "m", "")
        repo.commit({"README.md": "# L\n\n## Start\n\n- [S](https://s.org)\n\n## Networks\n\n"
                     "- [KAN](https://arxiv.org/abs/2404.19756) networks\n"}, "l1")  # fmt: skip
        other.commit({"README.md": "# M\n\n## Start\n\n- [T](https://t.org)\n\n## New\n\n"
                      "- [KAN v2](https://arxiv.org/pdf/2404.19756v2) again\n"
                      "- [Adam](https://arxiv.org/abs/1412.6980) the optimizer\n"}, "m1")  # fmt: skip
        for source in lists:
            sync_list(storage, source, tmp_path / "clones")
        storage.fan_out()
        storage.fan_out()  # again: nothing more
        rows = storage.pending_deliveries(now=1e12)
        site = Site(storage, Config())
        all_lists = json.loads(site.feed(None, fmt="json").body)["items"]
        per_list = {name: json.loads(site.feed(name, fmt="json").body)["items"] for name in "lm"}
        found = json.loads(site.search_json("kan").body)["results"]
        page = site.search_page("kan").body.decode()
    to_one = [(r.list, r.entry.title) for r in rows if r.chat_id == 1]
    to_two = [(r.list, r.entry.title) for r in rows if r.chat_id == 2]
    assert to_one == [("l", "KAN"), ("m", "Adam")]  # once, from the list that had it first
    assert to_two == [("m", "KAN v2"), ("m", "Adam")]  # chat 2 follows m alone
    kan = next(r for r in rows if r.chat_id == 1 and r.entry.title == "KAN")
    assert kan.also == (("m", ("New",)),)
    push = compose_push([kan], "en", "2026-12-06", None)
    assert "also in m › New" in push.html
    assert [i["title"] for i in all_lists].count("KAN") + [i["title"] for i in all_lists].count(
        "KAN v2"
    ) == 1
    assert "KAN" in [i["title"] for i in per_list["l"]] and "KAN v2" in [
        i["title"] for i in per_list["m"]
    ]
    assert [r["title"] for r in found] == [
        "KAN"
    ]  # both entries match: the paper once, with its places
    assert found[0]["also"] == [
        {"list": "m", "section": "New", "url": "https://arxiv.org/pdf/2404.19756v2"}
    ]
    assert "Also in m › New" in page


def test_news_when_a_paper_is_revised_published_or_gets_code(repo: GitRepo, tmp_path: Path) -> None:
    from conftest import validate_atom
    from fakeweb import FakeWeb
    from test_enrich import enrich, synced

    web = FakeWeb().start()
    try:
        paper = {"title": "KAN: Kolmogorov-Arnold Networks", "authors": ["Ziming Liu"],
                 "abstract": "We propose KANs.", "version": "v3"}  # fmt: skip
        web.papers = {"2404.19756": paper}
        db = synced(repo, tmp_path, "# L\n\n## P\n\n- [KAN](https://arxiv.org/abs/2404.19756)\n")
        settings = web.config()
        enrich(db, settings, every=True)  # first seen at v3: that is no news
        with Storage(db) as storage:
            assert storage.follow_up_events("papers") == []
        web.papers = {"2404.19756": {**paper, "version": "v4", "updated": "2024-06-01T00:00:00Z",
                                     "comment": "ICLR 2025. Code: https://github.com/KindXiaoming/pykan",
                                     "doi": "10.1000/kan.2025", "journal": "ICLR 2025"}}  # fmt: skip
        enrich(db, settings, every=True)
        enrich(db, settings, every=True)  # the same answer again: nothing new
        with Storage(db) as storage:
            news = storage.follow_up_events("papers")
            site = Site(storage, Config())
            atom = site.updates("papers").body
            rss = site.updates("papers", "rss").body
            page = site.index().body.decode()
    finally:
        web.stop()
    assert sorted((n.kind, n.value) for n in news) == [
        ("code", "https://github.com/KindXiaoming/pykan"),
        ("published", "10.1000/kan.2025"),
        ("revised", "v4"),
    ]
    revised = next(n for n in news if n.kind == "revised")
    assert revised.detail["date"] == "2024-06-01" and "ICLR 2025" in revised.detail["comment"]
    # Beside the paper on the page, too.
    assert (
        "new version v4 (2024-06-01)" in page and 'href="https://doi.org/10.1000/kan.2025"' in page
    )
    assert validate_atom(atom, tmp_path).startswith("VALID")
    assert atom.count(b"<entry>") == 3 and b"New version: KAN" in atom and b"<item>" in rss
    cli = [sys.executable, "-m", "dltbot.cli", "events", "--db", str(db)]
    lines = subprocess.run([*cli, "--kind", "revised"], capture_output=True, text=True).stdout
    assert lines.strip().endswith("revised   papers: KAN (v4)")
    both = subprocess.run(
        [*cli, "--kind", "added", "--kind", "code"], capture_output=True, text=True
    )
    assert both.returncode == 1 and "go without others" in both.stderr


def test_crossref_relations_join_a_published_doi_to_its_arxiv_preprint(
    repo: GitRepo, tmp_path: Path
) -> None:
    from fakeweb import FakeWeb
    from test_enrich import enrich

    web = FakeWeb().start()
    try:
        web.papers = {"2404.19756": {"title": "KAN", "authors": ["Ziming Liu"], "abstract": "x"}}
        web.works = {"10.1000/kan.iclr": {
            "title": ["KAN: Kolmogorov-Arnold Networks"], "author": [{"given": "Ziming", "family": "Liu"}],
            "container-title": ["ICLR"], "DOI": "10.1000/kan.iclr",
            "relation": {"has-preprint": [{"id-type": "doi", "id": "10.48550/arXiv.2404.19756"},
                                          {"id-type": "uri", "id": "javascript:alert(1)"}],
                         "is-preprint-of": "not a list"},
        }}  # fmt: skip
        other = GitRepo(tmp_path / "other")
        repo.commit(
            {"README.md": "# L\n\n## P\n\n- [KAN](https://arxiv.org/abs/2404.19756)\n"}, "l"
        )
        other.commit(
            {
                "README.md": "# M\n\n## Venues\n\n- [KAN at ICLR](https://doi.org/10.1000/kan.iclr)\n"
            },
            "m",
        )
        db = tmp_path / "db.sqlite3"
        with Storage(db) as storage:
            sync_list(storage, ListSource("l", str(repo.path)), tmp_path / "clones")
            sync_list(storage, ListSource("m", str(other.path)), tmp_path / "clones")
        enrich(db, web.config(), every=True)
        with Storage(db) as storage:
            everything = storage.entries("l") + storage.entries("m")
            # Their events now share the paper's key: a chat gets it once.
            keys = {row[0] for row in storage.db.execute("SELECT paper_key FROM events")}
    finally:
        web.stop()
    assert keys == {"arxiv:2404.19756"}
    papers = group(everything)
    assert len(papers) == 1
    paper = papers[0].to_json()
    assert paper["key"] == "arxiv:2404.19756" and paper["doi"] == "10.1000/kan.iclr"
    assert [place["list"] for place in paper["in"]] == ["l", "m"]


def test_code_named_in_hostile_text_is_a_plain_https_link_or_nothing() -> None:
    from dltbot.enrich.arxiv import code_link

    assert code_link("Code at http://github.com/o/r.git.") == "https://github.com/o/r"
    assert code_link("see https://github.com/o/r\u202e/evil and javascript:alert(1)") == (
        "https://github.com/o/r"
    )
    assert code_link("javascript://github.com/o/r https://evil.org/github.com/o/r") is None
    assert code_link("x" * 100_000) is None
