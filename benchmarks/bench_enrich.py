"""Enrich the seed list against the fakes on loopback: requests made and wall time.

The seed list's head (deeplearningtheory.bundle) is synced; its arXiv ids, GitHub repositories
and DOIs go to the fake APIs as they are; every other page's URL is rewritten to the fake web
server under a host name of its own per original host (so per-host spacing applies as it
would), answering after 50 ms with a page carrying OpenGraph tags. The arXiv fake takes 0.5 s.
Spacing is the default (arXiv 3 s, other hosts 1 s). Then a re-check of every link (GitHub
answers 304 to the ETag), and a synthetic list of 1,000 arXiv papers for the batching.

    python benchmarks/bench_enrich.py [../shared/fixtures]
"""

from __future__ import annotations

import asyncio
import collections
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakeweb import FakeWeb, MapResolver, Page, repo_json

from dltbot.config import EnrichConfig
from dltbot.enrich import Enricher, EnrichReport
from dltbot.enrich.arxiv import arxiv_id
from dltbot.enrich.doi import doi_of
from dltbot.enrich.github import repo_of
from dltbot.listparse import parse_entries
from dltbot.models import ListSource
from dltbot.storage import Storage
from dltbot.sync import sync_list

PAGE = (
    "<html><head><title>{t}</title><meta property='og:title' content='{t}'>"
    "<meta property='og:description' content='A page about {t}.'>"
    "<meta property='og:site_name' content='Site'></head><body>" + "<p>text</p>" * 5000 + "</body>"
)


def commit(work: Path, text: str) -> Path:
    repo = work / "repo"
    repo.mkdir()
    (repo / "README.md").write_text(text, encoding="utf-8")
    for args in (["init", "-q"], ["add", "README.md"], ["commit", "-qm", "list"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True,
                       env={"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
                            "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b",
                            "HOME": str(work)})  # fmt: skip
    return repo


def run(db: Path, web: FakeWeb, names: dict[str, str], every: bool = False) -> EnrichReport:
    config = EnrichConfig(**{**web.config(), "arxiv_spacing": 3, "host_spacing": 1})
    enricher = Enricher(config, db, "https://bench.example", resolver=MapResolver(names))
    identities = None
    if every:
        with Storage(db) as storage:
            identities = [state.identity for state in storage.card_states()]
    return asyncio.run(enricher.run(identities=identities))


def report(label: str, web: FakeWeb, result: EnrichReport, since: int) -> None:
    kinds = collections.Counter(seen.path.split("/")[1] for seen in web.seen[since:])
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(result.statuses.items()))
    print(f"{label}: {result.checked} links in {result.seconds:.2f}s, {result.requests} requests "
          f"(arxiv {kinds['arxiv']}, github {kinds['github']}, crossref {kinds['crossref']}, "
          f"pages {kinds['p']}); {result.cards} cards; {statuses}")  # fmt: skip


def main() -> None:
    fixtures = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/fixtures").resolve()
    work = Path(tempfile.mkdtemp(prefix="bench-enrich-"))
    clone = work / "seed"
    subprocess.run(["git", "clone", "-q", str(fixtures / "deeplearningtheory.bundle"), str(clone)],
                   check=True)  # fmt: skip
    text = (clone / "README.md").read_text(encoding="utf-8")
    web = FakeWeb().start()
    names: dict[str, str] = {}
    rewrite: dict[str, str] = {}
    try:
        for index, entry in enumerate(parse_entries(text.encode())):
            url = entry.url
            if found := arxiv_id(url):
                web.papers[found] = {"title": entry.title, "authors": ["A. Author", "B. Author"],
                                     "abstract": "An abstract. Of two sentences."}  # fmt: skip
            elif found := repo_of(url):
                web.repos[found] = repo_json(found)
            elif found := doi_of(url):
                web.works[found] = {"title": [entry.title], "author": [{"family": "X"}]}
            else:
                original = urlsplit(url).hostname or "?"
                if original not in names:  # each original host gets a fake name of its own
                    names[original] = f"h{len(names)}.test"
                web.pages[str(index)] = Page(body=PAGE.format(t=entry.title), delay=0.05)
                rewrite[url] = web.url(str(index), names[original])
        for url, fake in rewrite.items():  # the whole URL only (one may be another's prefix)
            text = re.sub(re.escape(url) + r"(?=[)>\s])", lambda _, f=fake: f, text)
        web.arxiv_delay = 0.5
        resolve = {fake: "127.0.0.1" for fake in names.values()}
        db = work / "db.sqlite3"
        with Storage(db) as storage:
            done = sync_list(storage, ListSource("seed", str(commit(work, text))), work / "clones")
            assert done.error is None, done.error
        print(f"seed list: {len(web.papers)} arXiv papers, {len(web.repos)} repositories, "
              f"{len(web.works)} DOIs, {len(web.pages)} pages on {len(names)} hosts")  # fmt: skip
        result = run(db, web, resolve)
        report("first pass", web, result, 0)
        since = len(web.seen)
        result = run(db, web, resolve, every=True)
        report("re-check of every link", web, result, since)
        etags = sum(1 for s in web.seen[since:] if "If-None-Match" in s.headers)
        print(f"  GitHub requests with If-None-Match (answered 304): {etags}")
        # Batching: 1,000 arXiv papers.
        web.papers = {f"2401.{i:05d}": {"title": f"P{i}", "authors": ["A"], "abstract": "x"}
                      for i in range(1000)}  # fmt: skip
        big = work / "big"
        big.mkdir()
        lines = "".join(f"- [P{i}](https://arxiv.org/abs/2401.{i:05d})\n" for i in range(1000))
        db2 = big / "db.sqlite3"
        with Storage(db2) as storage:
            done = sync_list(storage, ListSource("big", str(commit(big, "# L\n\n" + lines))),
                             big / "clones")  # fmt: skip
            assert done.error is None
        since = len(web.seen)
        started = time.monotonic()
        result = run(db2, web, {})
        report("1,000 arXiv papers", web, result, since)
        print(f"  {time.monotonic() - started:.1f}s wall (nine 3 s gaps between ten requests)")
    finally:
        web.stop()


if __name__ == "__main__":
    main()
