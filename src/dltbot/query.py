"""What a reader may search for: the one check for words from HTTP clients, Telegram users
and the command line, so a hostile query gets a clear answer instead of a slow one or a 500."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from .errors import DltbotError
from .models import StoredEntry
from .untrusted import unsafe_char

MAX_CHARS = 200
# Each word is one more condition over every entry (and SQLite refuses ~1,000 of them): a
# dozen is more than any real search, and bounds what one request can cost.
MAX_WORDS = 12


class BadRequestError(DltbotError):
    """A parameter is wrong; the message names it."""


def check_words(name: str, value: str | None) -> str | None:
    """Return free text (q, section) with white space collapsed; None when absent.

    Raises BadRequestError naming the parameter when it is empty, too long, has too many
    words, or holds control or non-text characters (NUL, U+FFFF, …).
    """
    if value is None:
        return None
    if any(unsafe_char(ch) and ch not in "\t\n\r" for ch in value):
        raise BadRequestError(f"{name}: control and non-text characters are not allowed")
    value = " ".join(value.split())
    if not value:
        raise BadRequestError(f"{name}: must not be empty")
    if len(value) > MAX_CHARS:
        raise BadRequestError(f"{name}: at most {MAX_CHARS} characters")
    if len(value.split()) > MAX_WORDS:
        raise BadRequestError(f"{name}: at most {MAX_WORDS} words")
    return value


def match_words(query: str) -> list[str]:
    """The words of a query as the one matching rule reads them: split on white space,
    case-folded (Unicode full case folding: "STRASSE" finds "Straße"), at most MAX_WORDS.

    The rule: an entry matches when every word is a substring of its case-folded title,
    description, headings or card (authors, abstract, a repository's description). Search,
    subscriptions, `?q=` feeds and `/subscribe`'s check use it in SQL (storage.base.
    match_clause); the static export's search.js implements it over the same text
    (Storage.match_texts)."""
    return [folded for word in query.split() if (folded := word.casefold())][:MAX_WORDS]


def section_text(sections: Sequence[Sequence[str]]) -> str:
    """An entry's heading paths as the matching rule reads them ("A > B | C")."""
    return " | ".join(" > ".join(section) for section in sections)


def under_section(entries: Sequence[StoredEntry], section: str | None) -> list[StoredEntry]:
    """The entries under headings holding every word of `section` (any of an entry's heading
    paths; case-folded), as `random --section` and `?section=` read it."""
    if not section:
        return list(entries)
    words = match_words(section)
    return [
        e for e in entries if all(w in section_text(e.entry.all_sections).casefold() for w in words)
    ]


@cache
def fold_table() -> dict[str, str]:
    """Every character whose full case folding is not its lowercase: JavaScript has no
    casefold(), so search.js lowercases a query and then applies this table."""
    table = {}
    for code in range(0x110000):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        if char.casefold() != char.lower():
            table[char] = char.casefold()
    return table


def parse_page_number(text: str, what: str = "archive page") -> int:
    """Read a page number from a URL segment: ASCII digits only (not ² or １)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise BadRequestError(f"{what}: {text[:40]!r} is not a page number")
    return int(text)
