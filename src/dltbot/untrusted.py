"""Text from untrusted sources (the list, its commits, HTTP clients) made safe to keep and show.

Anyone can open a pull request against a list, and "rebase and merge" keeps the contributor's
author name and message: every string that reaches a feed, a page, a Telegram message or a
terminal is cleaned here first, to what XML 1.0, HTML and Telegram accept and a reader cannot
be fooled by: no C0/C1 controls, no noncharacters (U+FFFE, U+FFFF, …), no lone surrogates, no
format characters (bidi overrides such as U+202E, zero-width characters, the BOM).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

# Characters dropped outright (format characters) or turned into a space (controls).
DROP_CATEGORIES = frozenset({"Cf", "Cs"})
_SPACE = re.compile(r"\s+")
# For str.translate: C0 and C1 controls (and DEL) become spaces.
CONTROLS_TO_SPACE = {code: " " for code in [*range(32), *range(127, 160)]}
# userinfo in a URL: https://user:secret@host/ → https://***@host/
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")


def is_noncharacter(code: int) -> bool:
    """Tell whether a code point is a Unicode noncharacter (U+FDD0–FDEF, U+xFFFE, U+xFFFF)."""
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def unsafe_char(ch: str) -> bool:
    """Tell whether a character must not be kept: a control, format char, surrogate or
    noncharacter (the set XML 1.0 forbids, plus the invisible ones that spoof text)."""
    code = ord(ch)
    if code < 32 or 127 <= code < 160:
        return True
    if code < 0x80:
        return False
    return unicodedata.category(ch) in DROP_CATEGORIES or is_noncharacter(code)


def clean_line(text: str, limit: int = 1000) -> str:
    """Return one line of untrusted text: controls as spaces, invisible characters dropped,
    white space collapsed, at most `limit` characters (commit subjects, author names)."""
    if not text.isascii() or not text.isprintable():
        text = text.translate(CONTROLS_TO_SPACE)
        if not text.isascii():
            text = "".join(ch for ch in text if not unsafe_char(ch))
    return shorten(_SPACE.sub(" ", text).strip(), limit)


def shorten(text: str, limit: int) -> str:
    """Return text cut to at most `limit` characters, ending in "…" when cut: at the last
    space when one is near the end (no half words), else anywhere (Chinese has no spaces)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= (limit - 1) * 3 // 4:
        cut = cut[:space]
    return cut.rstrip() + "…"


# What xml_safe removes: what XML 1.0 cannot hold (controls but tab and newline, surrogates,
# noncharacters) and the invisible characters that spoof text (bidi controls, zero-width).
_XML_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    "\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
    + "".join(
        f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(1, 17)
    )
    + "]"
)


def xml_safe(text: str) -> str:
    """Return text without the characters XML 1.0 cannot hold and the invisible ones that
    spoof text: a last line of defence, at render time, for rows stored before ingest
    cleaned them (lxml refuses such strings, and one would break every feed)."""
    return _XML_UNSAFE.sub("", text)


def redact(text: str) -> str:
    """Hide credentials written into URLs (https://user:secret@host) anywhere in text."""
    if "@" not in text:
        return text
    return _USERINFO.sub(r"\1***@", text)


def terminal_safe(text: str) -> str:
    """Return text that cannot drive a terminal: control characters shown as escapes."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() or ch in "\n" else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


# Git lets a commit claim any date: a forged one must not sit on top of every feed forever.
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_OFFSET = timedelta(hours=14)


def commit_date(timestamp: int, offset_minutes: int, now: datetime | None = None) -> str:
    """Return a committer date as ISO 8601 with its offset, clamped to what is possible:
    an offset beyond ±14:00 becomes UTC, a date before 1970 or over a day ahead is clamped."""
    now = now or datetime.now(UTC)
    offset = timedelta(minutes=offset_minutes)
    zone = timezone(offset) if abs(offset) <= _MAX_OFFSET else UTC
    latest = now + timedelta(days=1)
    try:
        moment = datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        moment = latest if timestamp > 0 else _EARLIEST
    moment = min(max(moment, _EARLIEST), latest)
    return moment.astimezone(zone).isoformat(timespec="seconds")
