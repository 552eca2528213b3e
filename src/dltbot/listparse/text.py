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
def clean_text(text: str, marks: bool = False) -> str:
    """Return text without emoji, shortcodes, controls, invisible or non-XML characters
    (untrusted.unsafe_char), or runs of white space.

    Cached: a backfill cleans the same lines again each time their chunk is parsed.
    """
    if ":" in text:
        text = _SHORTCODE.sub(" ", text)
    if not text.isprintable():
        text = text.translate(_CONTROLS_BUT_MARKS if marks else CONTROLS_TO_SPACE)
    if text.isascii():
        return _SPACE.sub(" ", text).strip()
    # Each distinct character is judged once (cached): a description's characters repeat,
    # and most descriptions drop none.
    dropped = {ord(ch): None for ch in set(text) if _dropped(ch)}
    if dropped:
        text = text.translate(dropped)
    return _SPACE_BY_FULLWIDTH.sub("", _SPACE.sub(" ", text)).strip()


@functools.lru_cache(maxsize=1 << 14)
def _dropped(ch: str) -> bool:
    """Tell whether clean_text drops a character: emoji and other symbols; lone surrogates;
    bidi overrides, zero-width characters, the BOM; noncharacters (XML cannot hold them)."""
    if ch.isascii():
        return False
    if ch in "\u200d\ufe0f\ufe0e\u200b":
        return True
    cat = unicodedata.category(ch)
    if cat == "So" or cat in DROP_CATEGORIES or (cat == "Sk" and ord(ch) > 0x2000):
        return True
    return is_noncharacter(ord(ch))


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
        bare = unmarked(part)
        if not bare:
            out.append(part)  # only marks: they join the neighbouring text
            continue
        if out and not (_is_cjk(last) and _is_cjk(bare[0])):
            out.append(" ")
        out.append(part)
        last = bare[-1]
    return "".join(out)


# Links inside a description survive cleaning and joining as marks in the text: control
# characters, which the list's own text cannot hold (its controls become spaces first), so
# the spans come out right after white space is collapsed and separators are stripped. ASCII
# marks keep an ASCII description on the fast paths. The title link has marks of its own.
_OPEN, _CLOSE, _TITLE_OPEN, _TITLE_CLOSE = "\x02", "\x03", "\x04", "\x05"
_NO_MARKS = str.maketrans("", "", "\x02\x03\x04\x05")
_CONTROLS_BUT_MARKS = {
    code: " " for code in CONTROLS_TO_SPACE if code not in (0x02, 0x03, 0x04, 0x05)
}
_SPACE_IN_MARKS = re.compile("([\x02\x04])(\\s+)|(\\s+)([\x03\x05])")
_A_MARK = re.compile("[\x02-\x05]")

Span = tuple[int, int, str]


def plain(text: str) -> str:
    """Return the list's text with its controls as spaces: no mark can be forged."""
    return text if text.isprintable() else text.translate(CONTROLS_TO_SPACE)


def unmarked(text: str) -> str:
    """Return text without link marks."""
    return text.translate(_NO_MARKS) if not text.isprintable() else text


def marked(text: str, title: bool = False) -> str:
    """Return a link's text wrapped in marks (the title link's own with `title`)."""
    return f"{_TITLE_OPEN}{text}{_TITLE_CLOSE}" if title else f"{_OPEN}{text}{_CLOSE}"


def clean_marked(text: str) -> str:
    """clean_text for text holding link marks: white space is moved out of the marks first
    ("[ x ](u)" is a link on "x"), so collapsing the spaces around a link cannot leave two."""
    text = _SPACE_IN_MARKS.sub(lambda m: m[2] + m[1] if m[1] else m[4] + m[3], text)
    return clean_text(text, True)


def split_title(text: str) -> tuple[str, str, str]:
    """Split marked text at the title link: (before, link text, after)."""
    start = text.find(_TITLE_OPEN)
    end = text.find(_TITLE_CLOSE, start + 1)
    if start < 0 or end < 0:  # cannot happen: the marks are ours
        return "", "", unmarked(text)
    return text[:start], text[start + 1 : end], text[end + 1 :]


def keep_title(before: str, link_text: str, after: str) -> str:
    """Put the title link back into the sentence, still marked."""
    return before + marked(link_text, title=True) + after


def spans_of(text: str, urls: list[str], title_url: str) -> tuple[str, tuple[Span, ...]]:
    """Return text without marks and the (start, end, url) of each marked link in it
    (`urls` are the other links' URLs, in order)."""
    if text.isprintable():
        return text, ()
    out: list[str] = []
    spans: list[Span] = []
    size = last = 0
    opened: tuple[int, str] | None = None
    others = iter(urls)
    for match in _A_MARK.finditer(text):
        piece = text[last : match.start()]
        out.append(piece)
        size += len(piece)
        last = match.end()
        char = match[0]
        if char == _OPEN:
            opened = (size, next(others, ""))
        elif char == _TITLE_OPEN:
            opened = (size, title_url)
        elif opened is not None:
            if size > opened[0] and opened[1]:
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
