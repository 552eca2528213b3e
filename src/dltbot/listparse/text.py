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
_LEADING_SEPARATORS = " \t:：-–—,，、|;；.。+*"
_SPACE = re.compile(r"\s+")


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
    return _SPACE.sub(" ", "".join(kept)).strip()


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


def join_text(parts: Iterable[str]) -> str:
    """Join pieces of text with one space, or none between two CJK characters."""
    out: list[str] = []
    last = ""
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if out and not (_is_cjk(last) and _is_cjk(part[0])):
            out.append(" ")
        out.append(part)
        last = part[-1]
    return "".join(out)
