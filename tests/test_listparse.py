"""Each parser decision, from a line like the ones real lists hold."""

from __future__ import annotations

from dltbot.listparse import ListParser, parse_entries, split_chunks
from dltbot.models import Entry


def titles(text: str) -> list[tuple[str, str]]:
    return [(e.title, e.url) for e in parse_entries(text)]


def test_list_item_entry_with_heading_path_and_description() -> None:
    text = "# Awesome\n\n## Tools\n\n### Editors\n\n- [Vim](https://vim.org) - The editor.\n"
    assert parse_entries(text) == [
        Entry(
            identity="vim.org",
            url="https://vim.org",
            title="Vim",
            description="The editor.",
            section=("Tools", "Editors"),
        )
    ]


def test_headings_reset_deeper_levels() -> None:
    text = "## A\n### A1\n- [x](http://x.org)\n## B\n- [y](http://y.org)\n"
    assert [e.section for e in parse_entries(text)] == [("A", "A1"), ("B",)]


def test_several_level_one_headings_are_all_sections() -> None:
    text = "# Part one\n- [x](http://x.org)\n# Part two\n- [y](http://y.org)\n"
    assert [e.section for e in parse_entries(text)] == [("Part one",), ("Part two",)]


def test_heading_indented_by_one_space() -> None:
    text = " ## Optimization\n- [Adam](https://arxiv.org/abs/1412.6980)\n"
    assert parse_entries(text)[0].section == ("Optimization",)


def test_description_glued_to_the_link() -> None:
    text = (
        "## O\n2. [Title](https://arxiv.org/abs/2207.04630)(2022.7.马毅、沈向洋)任何一个智能系统\n"
    )
    entry = parse_entries(text)[0]
    assert (entry.title, entry.description) == ("Title", "(2022.7.马毅、沈向洋)任何一个智能系统")


def test_malformed_double_parenthesis_link() -> None:
    text = "- 其知乎介绍可看[Adai-zhihu]((https://www.zhihu.com/question/323747423/answer/1))\n"
    entry = parse_entries(text)[0]
    assert (entry.title, entry.url, entry.identity) == (
        "Adai-zhihu",
        "https://www.zhihu.com/question/323747423/answer/1",
        "zhihu.com/question/323747423/answer/1",
    )
    # The link stands inside the sentence: the sentence keeps its words, the link among them.
    assert entry.description == "其知乎介绍可看Adai-zhihu"
    assert entry.text_links == ((7, 17, entry.url),)


def test_url_with_trailing_space() -> None:
    text = "2+. [2021 Deep learning theory lecture note](https://mjt.cs.illinois.edu/dlt/ )\n"
    assert titles(text) == [
        ("2021 Deep learning theory lecture note", "https://mjt.cs.illinois.edu/dlt/")
    ]


def test_hand_numbering_and_emoji_are_not_part_of_title_or_description() -> None:
    text = (
        "- 🔥 [⭐ 6.1 Sphere Packing](https://github.com/math-inc/x) :tada: 2+. done\n"
        "1. 3) [Plain](http://p.org)\n"
    )
    first, second = parse_entries(text)
    assert (first.title, first.description) == ("Sphere Packing", "done")
    assert (second.title, second.description) == ("Plain", "")


def test_year_at_start_of_title_is_kept() -> None:
    assert titles("- [2021 Deep learning](http://d.org)\n") == [
        ("2021 Deep learning", "http://d.org")
    ]


def test_linkless_parent_item_gives_its_label() -> None:
    text = "## Optimization\n7. SGD\n    + 7.1 [nesterov](https://paperswithcode.com/nag)\n"
    entry = parse_entries(text)[0]
    assert (entry.title, entry.parents, entry.parent, entry.section) == (
        "nesterov",
        ("SGD",),
        None,
        ("Optimization",),
    )


def test_nested_item_under_an_entry_has_a_parent_entry() -> None:
    text = (
        "1. [offconvex](http://www.offconvex.org/) 博客。\n"
        "    + [beyondNTK](http://www.offconvex.org/2021/03/25/beyondNTK/) 什么时候NN强于NTK？\n"
    )
    parent, child = parse_entries(text)
    assert parent.title == "offconvex"
    assert (child.title, child.parent, child.description) == (
        "beyondNTK",
        "offconvex.org",
        "什么时候NN强于NTK？",
    )


def test_linkless_sub_items_describe_their_entry() -> None:
    text = (
        "1. [Recent advances](https://arxiv.org/pdf/2012.10931.pdf)\n"
        "总结了六个方向。\n\n"
        "    + 1.1 complexity approaches;\n\n"
        "    + 1.2 stochastic equations\n"
    )
    (entry,) = parse_entries(text)
    assert entry.description == "总结了六个方向。complexity approaches; stochastic equations"
    assert entry.identity == "arxiv.org/abs/2012.10931"


def test_paragraph_lines_with_links_are_entries_and_wrapped_lines_continue_them() -> None:
    text = (
        "## Course\n\n"
        "Some prose without links.\n"
        "2+. [Lecture notes](https://mjt.cs.illinois.edu/dlt/)\n"
        "    + 2.1 逼近，优化\n"
        "[Second](http://second.org) first part\n"
        "continued here\n"
    )
    assert [(e.title, e.description, e.section) for e in parse_entries(text)] == [
        ("Lecture notes", "逼近，优化", ("Course",)),
        ("Second", "first part continued here", ("Course",)),
    ]


def test_hard_wrapped_item_joins_lines() -> None:
    text = "- [A](http://a.org) first line\n  second line\n"
    assert parse_entries(text)[0].description == "first line second line"


def test_cjk_lines_join_without_space() -> None:
    text = "- [A](http://a.org) 第一行\n  第二行\n"
    assert parse_entries(text)[0].description == "第一行第二行"


def test_html_tags_and_comments_are_stripped() -> None:
    text = "- [A](http://a.org) <font color=red>重要</font> <!-- hidden --> note\n"
    assert parse_entries(text)[0].description == "重要 note"


def test_html_block_holds_no_entries() -> None:
    text = '<div align="center">\n<a href="http://sponsor.org">Sponsor</a>\n</div>\n\n- [A](http://a.org)\n'
    assert titles(text) == [("A", "http://a.org")]


def test_code_spans_count_as_text_and_contents_block_holds_no_entries() -> None:
    text = (
        "## Contents\n- `Overview`：综述。\n- `Course`：课程。\n\n"
        "## Overview\n- [Lean](http://lean.org) 约 `4000` 行\n"
    )
    (entry,) = parse_entries(text)
    assert (entry.title, entry.description, entry.section) == ("Lean", "约 4000 行", ("Overview",))


def test_table_of_contents_anchor_links_are_not_entries() -> None:
    text = "- [Tools](#tools)\n  - [Editors](#editors)\n\n## Tools\n- [Vim](https://vim.org)\n"
    assert titles(text) == [("Vim", "https://vim.org")]


def test_images_and_badges_are_not_entries() -> None:
    text = (
        "[![Awesome](https://awesome.re/badge.svg)](https://awesome.re)\n\n"
        "![diagram](imgs/x.png)\n\n"
        "- [![logo](l.png) Tool](http://tool.org) with a logo\n"
    )
    assert [(e.title, e.description) for e in parse_entries(text)] == [("Tool", "with a logo")]


def test_reference_style_links() -> None:
    text = "- [Vim][vim] editor\n- [Emacs] too\n\n[vim]: https://vim.org\n[emacs]: https://gnu.org/emacs\n"
    assert titles(text) == [("Vim", "https://vim.org"), ("Emacs", "https://gnu.org/emacs")]


def test_relative_links_resolve_against_the_forge() -> None:
    base = "https://github.com/o/list/blob/main/docs/"
    entries = parse_entries("- [Guide](guide.md)\n- [Up](../x.md)\n", base)
    assert [e.url for e in entries] == [
        "https://github.com/o/list/blob/main/docs/guide.md",
        "https://github.com/o/list/blob/main/x.md",
    ]
    assert parse_entries("- [Guide](guide.md)\n")[0].url == "guide.md"


def test_table_rows_are_entries() -> None:
    text = (
        "## Papers\n\n| Paper | Year | Note |\n|---|---|---|\n"
        "| [Adam](https://arxiv.org/abs/1412.6980) | 2014 | optimizer |\n"
        "| no link | 2020 | skipped |\n"
    )
    assert [(e.title, e.description, e.section) for e in parse_entries(text)] == [
        ("Adam", "2014 | optimizer", ("Papers",))
    ]


def test_extra_links_are_kept() -> None:
    text = "- [Sphere](https://github.com/s) / [post](https://math.inc/s) and [again](https://github.com/s)\n"
    entry = parse_entries(text)[0]
    assert entry.extra_links == ("https://math.inc/s",)
    assert entry.description == "post and again"  # no separator left dangling
    assert entry.text_links == ((0, 4, "https://math.inc/s"), (9, 14, "https://github.com/s"))


def test_same_url_twice_is_one_entry_with_two_occurrences() -> None:
    text = "## A\n- [X](https://x.org/)\n## B\n- [X again](http://www.x.org)\n"
    assert parse_entries(text) == [
        Entry(
            identity="x.org",
            url="https://x.org/",
            title="X",
            section=("A",),
            occurrences=2,
            sections=(("B",),),  # the other occurrence's heading path
        )
    ]


def test_link_inside_emphasis_in_a_tight_item() -> None:
    text = "- **[Bold](http://b.org)** _desc_\n"
    assert [(e.title, e.description) for e in parse_entries(text)] == [("Bold", "desc")]


def test_links_in_code_blocks_are_not_entries() -> None:
    text = "```\n- [Not](http://not.org)\n# not a heading\n```\n- [Yes](http://yes.org)\n"
    assert titles(text) == [("Yes", "http://yes.org")]


def test_split_chunks_never_cuts_inside_code_or_html() -> None:
    text = (
        b"intro\n<!-- note\n# inside comment\n-->\n# One\n```\n# in code\n```\n"
        b"## Two\n~~~~\n# in tildes\n~~~\n#hashtag\n####### seven\n"
    )
    assert split_chunks(text) == [
        b"intro\n<!-- note\n# inside comment\n-->\n",
        b"# One\n```\n# in code\n```\n",
        b"## Two\n~~~~\n# in tildes\n~~~\n#hashtag\n####### seven\n",
    ]


def test_list_parser_matches_a_whole_parse_and_reuses_unchanged_entries() -> None:
    v1 = "# T\n## A\n- [a](http://a.org)\n## B\n- [b](http://b.org)\n\n[r]: http://r.org\n"
    v2 = v1.replace("## B\n", "## B\n- [c][r] new\n")
    parser = ListParser()
    first = parser.parse(v1.encode())
    assert first.entries() == parse_entries(v1)
    second = parser.parse(v2.encode())
    assert second.entries() == parse_entries(v2)
    assert second.by_identity["a.org"] is first.by_identity["a.org"]
    # Only the new item is read: b's item is untouched in its edited section.
    assert second.by_identity["b.org"] is first.by_identity["b.org"]
    assert second.fresh == ["r.org"]


def test_invalid_utf8_and_binary_do_not_raise() -> None:
    parsed = ListParser().parse(b"\xff\xfe- [caf\xe9](http://c.org) d\xe9j\xe0\n\x00\x01")
    assert [(e.title, e.description) for e in parsed.entries()] == [("caf", "dj")]


# --- text as written (the quoted lines are from the seed list, awesome-go and a large ML list) --


def described(text: str) -> tuple[str, str]:
    (entry,) = parse_entries(text)
    return entry.title, entry.description


def test_no_space_is_invented_around_links_and_code() -> None:
    assert described("- [T](http://t.org) text [x](http://x.org), more\n")[1] == "text x, more"
    assert described("- [T](http://t.org) 和[ImageNet](http://i.org)在\n")[1] == "和ImageNet在"
    line = "- [Echo](http://e.org) - Fast, forked from `httprouter`. The router.\n"
    assert described(line)[1] == "Fast, forked from httprouter. The router."
    assert described("- [T](http://t.org) read the paper [here](http://p.org).\n")[1] == (
        "read the paper here."
    )


def test_a_title_link_inside_a_sentence_keeps_its_words() -> None:
    line = (
        "- **后续线索**：相关延伸工作已经出现，例如 [Murmurations of Mestre-Nagao sums]"
        "(https://arxiv.org/abs/2403.17626)，说明这种路线并不是一次性的尝试。\n"
    )
    (entry,) = parse_entries(line)
    assert entry.title == "Murmurations of Mestre-Nagao sums"
    assert entry.description == (
        "后续线索：相关延伸工作已经出现，例如 Murmurations of Mestre-Nagao sums，"
        "说明这种路线并不是一次性的尝试。"
    )
    start = entry.description.index("Murmurations")
    assert entry.text_links == ((start, start + 33, "https://arxiv.org/abs/2403.17626"),)


def test_no_separator_is_left_dangling_and_description_links_stay_links() -> None:
    line = (
        "- 🔥 [Sphere Packing in Lean](https://github.com/math-inc/Sphere-Packing-Lean) / "
        "[official post](https://math.inc/sphere-packing)：Maryna Viazovska 2022\n"
    )
    (entry,) = parse_entries(line)
    assert entry.description == "official post：Maryna Viazovska 2022"
    assert entry.text_links == ((0, 13, "https://math.inc/sphere-packing"),)


def test_wrapping_words_in_a_link_changes_no_text() -> None:
    # The seed's commit 691510b.
    before = "- [What is an equivariant network?](http://e.pdf )文章证明了AlphaFold2和ImageNet classification在没有假设情况下是等价的。\n"
    after = before.replace(
        "ImageNet classification", "[ImageNet classification](https://papers.nips.cc/x)"
    )
    (old,), (new,) = parse_entries(before), parse_entries(after)
    assert old.same_text(new)
    assert old != new  # the span is stored (silently), so outputs can link it
    assert new.description[slice(*new.text_links[0][:2])] == "ImageNet classification"


def test_description_keeps_the_source_order_around_a_nested_list() -> None:
    text = (
        "35. [Overparameterized ReLU](https://arxiv.org/pdf/2209.15265.pdf)2023,这是一篇论文\n"
        "    本文的主要贡献包括以下几个方面：\n\n"
        "    1. 对于两层ReLU网络，研究了其训练。\n"
        "    2. 提出了神经同构的概念。\n\n"
        "    总之，本文证明了过参数化的ReLU神经网络能够学习最简单的模型。\n"
    )
    assert described(text)[1] == (
        "2023,这是一篇论文本文的主要贡献包括以下几个方面：对于两层ReLU网络，研究了其训练。"
        "提出了神经同构的概念。总之，本文证明了过参数化的ReLU神经网络能够学习最简单的模型。"
    )


def test_a_generic_link_is_titled_by_its_sentence() -> None:
    line = (
        "* For a list of free machine learning books available for download, go "
        "[here](https://github.com/o/free-books). Updated weekly.\n"
    )
    assert described(line) == (
        "For a list of free machine learning books available for download, go here.",
        "Updated weekly.",
    )
    assert described("- 课程视频见[这里](http://v.org)。讲义另附。\n") == (
        "课程视频见这里。",
        "讲义另附。",
    )


def test_merge_conflict_markers_are_no_entry_text() -> None:
    text = (
        "## A\n"
        "<<<<<<< HEAD\n"
        "- [Adam](https://arxiv.org/abs/1412.6980) optimizer\n"
        "=======\n"
        "- [Adam](https://arxiv.org/abs/1412.6980) an optimizer\n"
        ">>>>>>> feature\n"
        "- [SGD](http://sgd.org) plain\n"
    )
    entries = parse_entries(text)
    assert [(e.title, e.description, e.occurrences) for e in entries] == [
        ("Adam", "optimizer", 2),
        ("SGD", "plain", 1),
    ]
    assert "<<<" not in repr(entries) and ">>>" not in repr(entries)
    assert ListParser().parse(text.encode()).entries() == entries
    # A "=======" outside a "<<<<<<<" … ">>>>>>>" run is a setext underline, not a conflict.
    lone = "# Top\n<<<<<<< not closed\n\nT\n=======\n- [x](http://x.org)\n"
    assert parse_entries(lone)[0].section == ("T",)


def test_forged_link_marks_in_the_text_are_dropped() -> None:
    # The parser marks links with the controls U+0002–U+0005; the list's own are spaces.
    line = "- [T](http://t.org) a\x02b\x04c\x05 [d\x03](http://d.org)\x03 e\n"
    (entry,) = parse_entries(line)
    assert entry.description == "a b c d e"
    assert entry.text_links == ((6, 7, "http://d.org"),)


def test_an_item_with_thousands_of_links_keeps_each_as_a_span() -> None:
    links = " ".join(f"[w{i}](https://l.org/{i})" for i in range(20_000))
    (entry,) = parse_entries(f"- [T](https://t.org) {links}\n")
    assert len(entry.text_links) == 20_000
    start, end, url = entry.text_links[-1]
    assert (entry.description[start:end], url) == ("w19999", "https://l.org/19999")
