"""Arbitrary Unicode (every plane, controls, noncharacters, bidi overrides, lone surrogates)
through parse → store → every feed and page: the documents stay well-formed and clean."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree, html

from dltbot.config import Config
from dltbot.gitsource import parse_commit
from dltbot.listparse import ListParser
from dltbot.site import Site
from dltbot.storage import Storage
from dltbot.sync import WarmList, _Walker
from dltbot.untrusted import xml_safe

# Every code point, surrogates included, with the troublemakers drawn often.
NASTY = "\x00\x01\x08\x0b\x1b\x7f\x85\x9b\u061c\u200b\u200d\u202e\u2066\ufeff\ufdd0\ufffe\uffff"
anything = st.text(
    alphabet=st.one_of(
        st.characters(codec=None, categories=None),
        st.sampled_from(NASTY + "\U0001fffe\U0010ffff\ud800<>&\"'[]()*_`#"),
    ),
    max_size=40,
)


def _commit(sha: str, author: bytes, message: bytes) -> bytes:
    return (
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
        + b"author " + author + b" <e@x.org> 1700000000 +0000\n"
        + b"committer " + author + b" <e@x.org> 1700000000 +9959\n\n"
        + message
    )  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    heading=anything,
    title=anything,
    description=anything,
    path=anything,
    author=st.binary(max_size=30),
    message=st.binary(max_size=60),
)
def test_any_text_leaves_every_document_well_formed(
    heading: str, title: str, description: str, path: str, author: bytes, message: bytes
) -> None:
    markdown = (
        f"# List\n\n## {heading}\n\n- [{title}x](https://x.example.org/{path}) {description}\n"
        f"- [Second {title}](https://y.example.org/) {description}\n"
    )
    data = markdown.encode("utf-8", "surrogatepass")
    with tempfile.TemporaryDirectory() as folder, Storage(Path(folder) / "db.sqlite3") as storage:
        state = storage.ensure_list("l", "https://github.com/o/r")
        walker = _Walker(storage, state.id, WarmList(ListParser()), None)
        author = author.replace(b"\n", b" ").replace(b"<", b"")
        walker.process(parse_commit("a" * 40, _commit("a" * 40, author, message)), data)
        site = Site(storage, Config())
        for document in (
            site.feed(None),
            site.feed("l"),
            site.digest("l", "daily"),
            site.digest("l", "weekly"),
        ):
            etree.fromstring(document.body)  # strict XML: raises on any bad character
        for page in (site.index(), site.search_page("second")):
            text = page.body.decode("utf-8")
            assert xml_safe(text) == text
            tree = html.fromstring(page.body)
            assert not tree.xpath("//script")
            for href in tree.xpath("//a/@href"):
                assert href.startswith(("http://", "https://", "/", "mailto:")), href
        stored = storage.events()
        for event in stored:
            for value in (event.entry.title, event.entry.description, event.entry.url,
                          event.commit.author, event.commit.summary):  # fmt: skip
                assert xml_safe(value) == value, repr(value)
