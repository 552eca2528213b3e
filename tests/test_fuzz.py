"""Fuzzed Markdown: the parser never raises, and chunked parsing equals a whole parse."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dltbot.listparse import ListParser, parse_entries, split_chunks, split_like

# Pieces real lists are made of, and pieces that break naive parsers.
FRAGMENTS = [
    "# ", "## ", "### ", "####### ", " ## ", "#", "- ", "* ", "+ ", "1. ", "2+. ", "    + ",
    "  - ", "> ", "```", "~~~", "````", "<!--", "-->", "<pre>", "</pre>", "<div>", "</div>",
    "<font color=red>", "[", "]", "(", ")", "[t](http://a.org)", "[t]((http://b.org))",
    "[u](#anchor)", "![i](x.png)", "[![b](y.svg)](http://badge.org)", "[r][ref]",
    "[ref]: http://ref.org", "`code`", "| a | b |", "|---|---|", "| [c](http://c.org) | d |",
    "泛化", "🔥", ":tada:", "\\", "*", "_", "---", "===", "http://bare.org", "\t", " ", "\n",
    "\n\n", "\r\n", "\x00", "\ufffd", "x", "word",
    # HTML blocks of every CommonMark type (1-7), each also at a line's start before a heading.
    "<script>", "</script>", "<style>", "</style>", "<textarea>", "</textarea>", "<?php",
    "?>", "<!DOCTYPE html>", "<![CDATA[", "]]>", "<table>", "</table>", "<details>",
    '<a name="x" />', '<a name="x"></a>', "<span>", "</span>", "\n<div>\n## H\n",
    '\n<a name="s" />\n## S\n', "\n   <p>\n# P\n", "\n<!-- c -->\n## C\n",
    # Reference definitions, setext headings, fenced code around headings.
    "[ref]: <http://r2.org> 'title'\n", "\n[r]: http://r.org\n", "Title\n===\n",
    "Sub\n---\n", "\n```\n## not\n```\n", "\n~~~ py\n# no\n~~~\n", "\n## S\n- [s](http://s.org)\n",
]  # fmt: skip

markdown = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=5)), max_size=80).map(
    "".join
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdown)
def test_chunked_parse_equals_whole_parse(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    assert b"".join(split_chunks(data)) == data
    assert ListParser().parse(data).entries() == parse_entries(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(markdown, min_size=2, max_size=4))
def test_a_parser_reused_across_versions_equals_a_fresh_one(versions: list[str]) -> None:
    parser = ListParser()
    for text in versions:
        data = text.encode("utf-8", "surrogatepass")
        assert parser.parse(data).entries() == ListParser().parse(data).entries()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    parser = ListParser()
    parser.parse(data)
    parse_entries(data)


@settings(max_examples=400, deadline=None)
@given(markdown, st.lists(st.tuples(st.integers(0, 200), markdown), max_size=3))
def test_split_like_equals_a_fresh_split(text: str, edits: list[tuple[int, str]]) -> None:
    before = text.encode("utf-8", "surrogatepass")
    after = before
    for at, insert in edits:
        after = (
            after[:at] + insert.encode("utf-8", "surrogatepass") + after[at + len(insert) // 2 :]
        )
    assert split_like(after, split_chunks(before), {}) == split_chunks(after)


# Versions of a list made of items from a small pool: items leave and come back, sections
# reorder, items are edited; with FRAGMENTS glued in to stress the cuts between items.
ITEMS = [f"- [i{n}](http://i{n}.org) d{n}\n" for n in range(8)] + [
    "- [i1](http://i1.org) edited\n", "* [i2](http://i2.org)\n", "+ [i9](http://i9.org)\n",
    "  - [n](http://n.org)\n", "- - -\n", "1. [o](http://o.org)\n", "<div>\n", "```\n",
]  # fmt: skip
version = st.lists(
    st.one_of(st.sampled_from(ITEMS), st.sampled_from(["## A\n", "## B\n", "\n"]),
              st.sampled_from(FRAGMENTS)),
    max_size=30,
).map("".join)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(version, min_size=2, max_size=6))
def test_what_the_parser_calls_fresh_misses_no_event(versions: list[str]) -> None:
    """The diff looks only at the identities the parser says may differ (`fresh`): the
    events must be those of a diff that looks at every entry."""
    from dltbot.diff import diff_entries

    parser = ListParser()
    old: dict[str, object] = {}
    seen: set[str] = set()
    for text in versions:
        parsed = parser.parse(text.encode("utf-8", "surrogatepass"))
        new = parsed.by_identity
        assert parsed.entries() == parse_entries(text)
        quick = diff_entries(old, new, seen, parsed.fresh)  # type: ignore[arg-type]
        full = diff_entries(old, new, seen)  # type: ignore[arg-type]
        assert sorted(map(repr, quick)) == sorted(map(repr, full))
        seen.update(new)
        old = new  # type: ignore[assignment]
