"""Plain text as entries hold it: decorations stripped, lines joined, numbering dropped."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from ..untrusted import CONTROLS_TO_SPACE, DROP_CATEGORIES, is_noncharacter

# Decorations on extracted plain text (never on Markdown): emoji shortcodes such as :tada:, and
# hand-written numbering such as "2+.", "6.1", "3)" at the start of a title or description.
_SHORTCODE = re.compile(r":[a-z0-9_+-]+:")
_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)+[.)+]*|\d+[.)+]+)(?=\s|$)\s*")
_LEADING_SEPARATORS = " \t:：-–—,，、|;；.。+*/／"
_SPACE = re.compile(r"\s+")
# Full-width punctuation carries its own spacing: a space beside it is never meant (it comes
# from tags such as `，<font> 该…</font>`, and rendered Chinese shows none).
_SPACE_BY_FULLWIDTH = re.compile(
    r"\s+(?=[，。：；！？、）》」』】])|(?<=[，。：；！？、（《「『【])\s+"
)


@functools.lru_cache(maxsize=1 << 16)
def clean_text(text: str) -> str:
    """Return text without emoji, shortcodes, controls, invisible or non-XML characters
    (untrusted.unsafe_char), or runs of white space.

    Cached: a backfill cleans the same lines again each time their chunk is parsed.
    """
    if ":" in text:
        text = _SHORTCODE.sub(" ", text)
    if not text.isprintable():
        text = text.translate(CONTROLS_TO_SPACE)
    if text.isascii():
        return _SPACE.sub(" ", text).strip()
    kept = []
    for ch in text:
        if ch in "\u200d\ufe0f\ufe0e\u200b":
            continue
        cat = unicodedata.category(ch)
        if cat == "So" or cat in DROP_CATEGORIES or (cat == "Sk" and ord(ch) > 0x2000):
            continue  # emoji; lone surrogates; bidi overrides, zero-width characters, BOM
        if is_noncharacter(ord(ch)):
            continue  # U+FFFE, U+FFFF, …: XML cannot hold them
        kept.append(ch)
    return _SPACE_BY_FULLWIDTH.sub("", _SPACE.sub(" ", "".join(kept))).strip()


def strip_numbering(text: str) -> str:
    """Drop a hand-written number ("2+.", "6.1", "3)") from the start of a title or label."""
    return _NUMBERING.sub("", text, count=1)


def strip_lead(text: str) -> str:
    """Drop separators, stray list markers and numbering before a description ("：", "+ 2.1")."""
    while True:
        stripped = strip_numbering(text.lstrip(_LEADING_SEPARATORS))
        if stripped == text:
            return text
        text = stripped


def _is_cjk(ch: str) -> bool:
    return ch >= "\u2e80" and unicodedata.east_asian_width(ch) in ("W", "F")


def join_text(lines: Iterable[str]) -> str:
    """Join lines of text with one space, or none between two CJK characters (a line break
    in Chinese is not a word break)."""
    out: list[str] = []
    last = ""
    for part in lines:
        part = part.strip()
        if not part:
            continue
        bare = part if part.isascii() else _MARKS.sub("", part)
        if not bare:
            out.append(part)  # only marks: they join the neighbouring text
            continue
        if out and not (_is_cjk(last) and _is_cjk(bare[0])):
            out.append(" ")
        out.append(part)
        last = bare[-1]
    return "".join(out)


# Links inside a description survive cleaning and joining as marks in the text: a link opens
# with a private-use character that numbers it (U+F0000 + n) and closes with U+E001, so the
# spans come out right after white space is collapsed and separators are stripped. Those
# characters are first removed from the list's own text, so a list cannot forge a span.
_CLOSE = "\ue001"
_OPEN = 0xF0000
_MARKS = re.compile("[\ue001\U000f0000-\U000ffffd]")
_SPACE_IN_MARKS = re.compile("([\U000f0000-\U000ffffd])(\\s+)|(\\s+)\ue001")

Span = tuple[int, int, str]


def unmarked(text: str) -> str:
    """Return text without link marks (the list's own text may hold the characters)."""
    return text if text.isascii() else _MARKS.sub("", text)


def marked(text: str, index: int) -> str:
    """Return a link's text wrapped in the marks of link number `index`."""
    return f"{chr(_OPEN + index)}{text}{_CLOSE}"


def tidy_marks(text: str) -> str:
    """Move white space out of marks ("[ x ](u)" is a link on "x"), so collapsing the
    spaces around a link cannot leave two."""
    if text.isascii():
        return text
    return _SPACE_IN_MARKS.sub(lambda m: m[2] + m[1] if m[1] else _CLOSE + m[3], text)


def split_marked(text: str, index: int) -> tuple[str, str, str] | None:
    """Split text at link number `index`: (before, link text, after)."""
    start = text.find(chr(_OPEN + index))
    end = text.find(_CLOSE, start + 1)
    if start < 0 or end < 0:
        return None
    return text[:start], text[start + 1 : end], text[end + 1 :]


def spans_of(text: str, urls: list[str]) -> tuple[str, tuple[Span, ...]]:
    """Return text without marks and the (start, end, url) of each marked link in it."""
    if text.isascii():
        return text, ()
    out: list[str] = []
    spans: list[Span] = []
    size = 0
    opened: tuple[int, str] | None = None
    last = 0
    for match in _MARKS.finditer(text):
        piece = text[last : match.start()]
        out.append(piece)
        size += len(piece)
        last = match.end()
        char = match[0]
        if char != _CLOSE:
            opened = (size, urls[ord(char) - _OPEN])
        elif opened is not None:
            if size > opened[0]:
                spans.append((opened[0], size, opened[1]))
            opened = None
    out.append(text[last:])
    return "".join(out), tuple(spans)


# Link texts that say where, not what: such a link inside a sentence is titled by the sentence.
_GENERIC = frozenset(
    {"here", "there", "this", "link", "this link", "click here", "see here", "website"}
    | {"这里", "这儿", "此处", "链接", "点击这里", "点此", "点这里"}
)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|[。！？]")


def is_generic(title: str) -> bool:
    """Tell whether a link's text names no work ("here", "这里")."""
    return title.casefold().strip(" .!:：。") in _GENERIC


def sentence_bounds(before: str, after: str) -> tuple[int, int]:
    """Return where the sentence around a link starts in `before` and ends in `after`."""
    start = 0
    for match in _SENTENCE_END.finditer(before):
        start = match.end()
    end = _SENTENCE_END.search(after)
    return start, end.end() if end else len(after)
