"""One matching rule, asserted from one table of cases against every place that matches: the
server's search, a Telegram subscription's fan-out, a `?q=` feed, and the static export's
search.js run under Node. And every file the export links exists in the export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from conftest import GitRepo

from dltbot.config import Config
from dltbot.models import Card, CardState, ListSource
from dltbot.site import Site
from dltbot.storage import Storage
from dltbot.sync import sync_list

LONG = "x" * 320 + " the needleword sits past the 300th character"
ENTRIES = {
    "深度学习的泛化理论": ("https://a.org/1", "中文描述", "理论"),
    "Paper with a card": ("https://arxiv.org/abs/2201.02177", "no such word here", "Papers"),
    "Long description": ("https://a.org/3", LONG, "Papers"),
    "ADAM Optimizer": ("https://a.org/4", "Adaptive moments", "Optimization"),
    "Deep learning theory notes": ("https://a.org/5", "lecture notes", "Courses"),
    "Straßenbahn models": ("https://a.org/6", "trams", "Other"),
    "ΟΔΥΣΣΕΥΣ": ("https://a.org/7", "a Greek title", "Other"),
}
# (query, the titles it finds): one rule — every word, case-folded, in title, description,
# headings or the card.
CASES = [
    ("泛化", {"深度学习的泛化理论"}),  # two CJK characters: a substring
    ("理论", {"深度学习的泛化理论"}),  # in the title and the heading
    ("grokking", {"Paper with a card"}),  # only in the card's abstract
    ("Power", {"Paper with a card"}),  # only in the card's author
    ("needleword", {"Long description"}),  # past the 300th character
    ("adam OPTIMIZER", {"ADAM Optimizer"}),  # mixed case, two words
    ("deep theory", {"Deep learning theory notes"}),  # several words, any order
    ("theory deep notes", {"Deep learning theory notes"}),
    ("optimization", {"ADAM Optimizer"}),  # the heading
    ("STRASSEN", {"Straßenbahn models"}),  # full case folding: ß is ss
    ("οδυσσευς", {"ΟΔΥΣΣΕΥΣ"}),  # final sigma folds to sigma
    ("deep grokking", set()),  # every word must match
    ("nothing-here", set()),
]
CARD = Card(
    source="arxiv",
    title="Grokking: Generalization Beyond Overfitting",
    authors=("Alethea Power", "Yuri Burda"),
    abstract="We study grokking on small algorithmic datasets.",
)


def version(titles: list[str]) -> str:
    sections: dict[str, list[str]] = {}
    for title in titles:
        url, description, section = ENTRIES[title]
        sections.setdefault(section, []).append(f"- [{title}]({url}) {description}\n")
    return "# List\n\n" + "".join(
        f"## {section}\n\n{''.join(lines)}\n" for section, lines in sections.items()
    )


@pytest.fixture
def db(repo: GitRepo, tmp_path: Path) -> Path:
    """A list whose first version is backfilled; the cases' entries come in a later commit,
    while a chat is subscribed to each query, and the card comes before the fan-out."""
    path = tmp_path / "db.sqlite3"
    source = ListSource("l", str(repo.path))
    repo.commit({"README.md": "# List\n\n## Other\n\n- [Old](https://old.org) old\n"}, "start")
    with Storage(path) as storage:
        sync_list(storage, source, tmp_path / "clones")
        for chat, (query, _) in enumerate(CASES, start=1):
            assert storage.subscribe(chat, 0, "l", query)
        repo.commit({"README.md": version(list(ENTRIES))}, "the cases")
        sync_list(storage, source, tmp_path / "clones")
        identity = next(
            e.entry.identity for e in storage.entries("l") if e.entry.title == CARD_TITLE
        )
        storage.save_card_states([CardState(identity, ENTRIES[CARD_TITLE][0], CARD)], 0.0)
        storage.fan_out()
    return path


CARD_TITLE = "Paper with a card"


def titles_of_outbox(path: Path, chat: int) -> set[str]:
    with Storage(path) as storage:
        rows = storage.db.execute(
            "SELECT ev.title FROM outbox o JOIN events ev ON ev.id = o.event_id "
            "WHERE o.chat_id = ?",
            (chat,),
        )
        return {row["title"] for row in rows}


def test_search_subscriptions_and_filtered_feeds_match_alike(db: Path) -> None:
    with Storage(db) as storage:
        site = Site(storage, Config())
        for chat, (query, expected) in enumerate(CASES, start=1):
            assert {r.entry.title for r in storage.search(query, limit=100)} == expected, query
            assert titles_of_outbox(db, chat) == expected, query  # the subscription's pushes
            feed = json.loads(site.feed(None, q=query, fmt="json").body)
            assert {item["title"] for item in feed["items"]} == expected, query


def test_the_static_search_matches_as_the_server_does(db: Path, tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: search.js is not run")
    out = tmp_path / "site"
    export = subprocess.run(
        [sys.executable, "-m", "dltbot.cli", "export", "--db", str(db), "--out", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert export.returncode == 0, export.stderr
    script = (
        "const {search} = require(process.argv[1]);"
        "const index = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));"
        "const queries = JSON.parse(process.argv[3]);"
        "console.log(JSON.stringify(queries.map((q) => search(index, q).map((h) => h.title))));"
    )
    queries = [query for query, _ in CASES]
    result = subprocess.run(
        ["node", "-e", script, str(out / "search.js"), str(out / "search-index.json"),
         json.dumps(queries)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for (query, expected), found in zip(CASES, json.loads(result.stdout), strict=True):
        assert set(found) == expected, query
    # Shown cut at a word, matched whole.
    row = next(r for r in json.loads((out / "search-index.json").read_bytes())["entries"]
               if r[1] == "Long description")  # fmt: skip
    assert row[4].endswith("…") and len(row[4]) <= 300 and "needleword" not in row[4]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src", "action") and value:
                self.found.append(value)


def linked(path: Path) -> list[str]:
    """Every URL a file of the export links to."""
    data = path.read_bytes()
    if path.suffix in (".js", ".bib"):
        return []  # search.js fetches search-index.json beside the page (checked below)
    if path.suffix == ".html":
        parser = _Links()
        parser.feed(data.decode())
        return parser.found
    if path.suffix == ".json":
        if path.name == "search-index.json":
            return []
        feed = json.loads(data)
        return [feed[key] for key in ("feed_url", "home_page_url", "next_url") if key in feed]
    root = ElementTree.fromstring(data)
    found = []
    for node in root.iter():
        found += [node.get(key) or "" for key in ("href", "xmlUrl", "htmlUrl") if node.get(key)]
        if node.tag == "link" and node.text:  # RSS <channel><link>
            found.append(node.text.strip())
    return found


def test_every_file_the_export_links_exists(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    base = "https://lists.example.org/feeds"
    subprocess.run([sys.executable, "-m", "dltbot.cli", "export", "--db", str(db), "--out",
                    str(out), "--base-url", base], check=True, capture_output=True)  # fmt: skip
    files = [p for p in out.rglob("*") if p.is_file()]
    checked = 0
    for path in files:
        here = "/" + str(path.relative_to(out).parent).strip(".") + "/"
        for url in linked(path):
            if url.startswith(base):
                target = urlsplit(url[len(base) :]).path
            elif not re.match(r"^[a-z]+:", url) and not url.startswith("//"):
                target = urlsplit(url).path  # relative to the file
                target = target if target.startswith("/") else here + target
            else:
                continue  # an entry's own link, elsewhere
            target = re.sub(r"/\./", "/", target.replace("//", "/"))
            relative = target.lstrip("/")
            local = out / relative
            if not relative or relative.endswith("/"):
                local = local / "index.html"
            assert local.is_file(), f"{path.relative_to(out)} links {url}: not written"
            checked += 1
    assert checked > 50  # the feeds' alternates, the page's feed links, OPML, search
    assert (out / "search-index.json").is_file() and (out / "search.js").is_file()
