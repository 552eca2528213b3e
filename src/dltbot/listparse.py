"""Markdown list file → entries. The only user of the Markdown parser (pyromark).

The document is cut into chunks at top-level ATX headings, and each chunk's parse is cached by
its text: a backfill parses thousands of versions that differ in one block, so most chunks are
parsed once. A chunk's result does not depend on what precedes it except the heading path, which
is applied when the chunks are put together, and reference definitions, which are read from the
whole document and handed to the parser for links it cannot resolve inside the chunk.
"""

from __future__ import annotations

import collections
import functools
import itertools
import operator
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pyromark

from . import urls
from .models import Entry

_OPTIONS = pyromark.Options.ENABLE_TABLES | pyromark.Options.ENABLE_STRIKETHROUGH

# Decorations on extracted plain text (never on Markdown): emoji shortcodes such as :tada:, and
# hand-written numbering such as "2+.", "6.1", "3)" at the start of a title or description.
_SHORTCODE = re.compile(r":[a-z0-9_+-]+:")
_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)+[.)+]*|\d+[.)+]+)(?=\s|$)\s*")
_LEADING_SEPARATORS = " \t:：-–—,，、|;；.。+*"
_SPACE = re.compile(r"\s+")
_CONTROLS = {code: " " for code in [*range(32), 127]}


@dataclass(slots=True)
class _Seg:
    """A piece of inline text: plain text, or a link with its text."""

    text: str
    url: str | None = None  # set for links


@dataclass(slots=True)
class _Item:
    """A list item: its own lines of inline segments and its nested items."""

    lines: list[list[_Seg]] = field(default_factory=lambda: [[]])
    children: list[_Item] = field(default_factory=list)


# What a chunk yields: headings and entries without section or position (those depend on the
# chunks before it and are filled in by parse_entries).
_Heading = tuple[int, str]
_INLINE_WRAPPERS = ("Emphasis", "Strong", "Strikethrough", "Superscript", "Subscript")
_Record = _Heading | Entry
_Headings = tuple[_Heading, ...]
_Refs = dict[str, tuple[str, str]]
_EntriesKey = tuple[bytes, int, _Headings, bool]


@functools.lru_cache(maxsize=1 << 16)
def clean_text(text: str) -> str:
    """Return text without emoji, shortcodes, zero-width characters or runs of white space.

    Cached: a backfill cleans the same lines again each time their chunk is parsed.
    """
    if ":" in text:
        text = _SHORTCODE.sub(" ", text)
    if not text.isprintable():
        text = text.translate(_CONTROLS)
    if text.isascii():
        return _SPACE.sub(" ", text).strip()
    kept = []
    for ch in text:
        if ch in "\u200d\ufe0f\ufe0e\u200b":
            continue
        cat = unicodedata.category(ch)
        if cat == "So" or cat == "Cs" or (cat == "Sk" and ord(ch) > 0x2000):
            continue
        kept.append(ch)
    return _SPACE.sub(" ", "".join(kept)).strip()


def strip_numbering(text: str) -> str:
    """Drop a hand-written number ("2+.", "6.1", "3)") from the start of a title or label."""
    return _NUMBERING.sub("", text, count=1)


def _strip_lead(text: str) -> str:
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
    out = ""
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if out and not (_is_cjk(out[-1]) and _is_cjk(part[0])):
            out += " "
        out += part
    return out


_State = tuple[str, bytes] | None  # inside a fence or raw HTML block: what closes it
_Scans = dict[tuple[bytes, _State], _State]


def split_chunks(text: bytes, scans: _Scans | None = None) -> list[bytes]:
    """Cut a document before each top-level ATX heading, where the cut cannot change the parse.

    Not cutting is always safe, so in doubt (inside a fenced code block, an HTML comment or a
    raw-text HTML block, as found by a conservative scan) no cut is made. Works on the UTF-8
    bytes with bytes.find: it runs on every version of a 400 KB file, and only chunks not seen
    before are decoded. `scans` caches the scan of each piece between versions.
    """
    return _split(text, scans)[0]


def _split(text: bytes, scans: _Scans | None = None) -> tuple[list[bytes], _State]:
    """Return the chunks of split_chunks() and whether a block is left open at the end."""
    # Find "#" (rarer than newlines, so bytes.find skips far) and keep those that start a
    # line and an ATX heading.
    cuts = [0]
    at = text.find(b"#", 1)
    while at >= 0:
        if text[at - 1] == 0x0A:
            end = at
            while end < len(text) and text[end] == 0x23:
                end += 1
            if end - at <= 6 and (end == len(text) or text[end] in b" \t\r\n"):
                cuts.append(at)
            at = text.find(b"#", end)
        else:
            at = text.find(b"#", at + 1)
    cuts.append(len(text))
    pieces = [text[start:end] for start, end in itertools.pairwise(cuts)]
    chunks: list[bytes] = []
    state: _State = None
    for piece in pieces:
        if not piece:
            continue
        if chunks and state is not None:
            chunks[-1] += piece  # the cut would fall inside a code block or raw HTML
        else:
            chunks.append(piece)
        key = (piece, state)
        if scans is None:
            state = _scan(piece, state)
        elif key in scans:
            state = scans[key]
        else:
            state = scans[key] = _scan(piece, state)
    return chunks, state


def split_like(text: bytes, previous: list[bytes], scans: _Scans) -> list[bytes]:
    """Split text as split_chunks() does, reusing the previous version's chunks where it can.

    Consecutive versions share most of their text: the chunks they share at the start and at
    the end are found with memcmp (bytes.startswith/endswith at an offset) and only the text
    between them is scanned. The result equals split_chunks(text).
    """
    start, first = 0, 0
    while first < len(previous) and text.startswith(previous[first], start):
        start += len(previous[first])
        first += 1
    if first == len(previous) and start == len(text):
        return previous
    # The middle must begin where split_chunks would cut: at the text's start or a heading.
    while first and not (start < len(text) and _is_cut(text, start)):
        first -= 1
        start -= len(previous[first])
    end, last = len(text), len(previous)
    while last > first and text.endswith(previous[last - 1], start, end):
        end -= len(previous[last - 1])
        last -= 1
    if end < len(text) and not (text[end - 1 : end] in (b"", b"\n") and _is_cut(text, end)):
        return split_chunks(text, scans)
    middle, state = _split(text[start:end], scans) if end > start else ([], None)
    if state is not None and end < len(text):
        return split_chunks(text, scans)  # a block left open in the middle runs on
    return [*previous[:first], *middle, *previous[last:]]


def _is_cut(text: bytes, at: int) -> bool:
    """Tell whether an ATX heading line starts at `at` (where split_chunks may cut)."""
    if at > 0 and text[at - 1] != 0x0A:
        return False
    end = at
    while end < len(text) and text[end] == 0x23:
        end += 1
    return 0 < end - at <= 6 and (end == len(text) or text[end] in b" \t\r\n")


_RAW_HTML = (
    (b"<!--", b"-->"),
    (b"<pre", b"</pre>"),
    (b"<script", b"</script>"),
    (b"<style", b"</style>"),
    (b"<textarea", b"</textarea>"),
)
_OPENERS = [
    (variant, closing)
    for opening, closing in _RAW_HTML
    for variant in {opening, opening.upper(), opening.title()}
]


def _scan(text: bytes, state: _State) -> _State:
    """Return whether a fence or raw HTML block is still open at the end of text."""
    pos = 0
    while True:
        if state is not None:
            kind, marker = state
            if kind == "fence":
                end = _closing_fence(text, pos, marker)
            else:
                end = _find_any(text, marker, pos)
            if end < 0:
                return state
            pos, state = end, None
        opener = _next_opener(text, pos)
        if opener is None:
            return None
        pos, state = opener


def _next_opener(text: bytes, pos: int) -> tuple[int, _State] | None:
    """Return the first fence or raw HTML opening at or after pos, and what closes it."""
    best: tuple[int, _State] | None = None
    best_at = len(text) + 1
    for marker in (b"```", b"~~~"):
        at = text.find(marker, pos)
        while 0 <= at < best_at:
            line_start = text.rfind(b"\n", 0, at) + 1
            if at - line_start <= 3 and not text[line_start:at].strip(b" "):
                length = 3
                while at + length < len(text) and text[at + length] == marker[0]:
                    length += 1
                line_end = text.find(b"\n", at)
                best_at = at
                best = (len(text) if line_end < 0 else line_end, ("fence", marker[:1] * length))
                break
            at = text.find(marker, at + 1)
    for variant, closing in _OPENERS:
        at = text.find(variant, pos, best_at)
        if 0 <= at < best_at:
            best_at = at
            best = (at + len(variant), ("html", closing))
    return best


def _find_any(text: bytes, closing: bytes, start: int) -> int:
    """Return the end of the first `closing` (in its usual cases) after start, or -1."""
    found = [text.find(v, start) for v in {closing, closing.upper(), closing.title()}]
    hits = [at for at in found if at >= 0]
    return min(hits) + len(closing) if hits else -1


def _closing_fence(text: bytes, start: int, fence: bytes) -> int:
    """Return the end of the line closing a fence, searching from start, or -1."""
    at = text.find(fence, start)
    while at >= 0:
        line_start = text.rfind(b"\n", 0, at) + 1
        line_end = text.find(b"\n", at)
        line_end = len(text) if line_end < 0 else line_end
        if (
            line_start >= start
            and at - line_start <= 3
            and not text[line_start:at].strip(b" ")
            and not text[at:line_end].strip().strip(fence[:1])
        ):
            return line_end
        at = text.find(fence, line_end)
    return -1


class ListParser:
    """Parse versions of one list file, reusing what the previous version's chunks gave.

    An unchanged chunk under unchanged headings yields the very same Entry objects as in the
    previous version, so the diff can skip them with an identity check.
    """

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = base_url
        # The commit whose version the caches hold, once the caller has stored it.
        self.synced_to: str | None = None
        self._records: dict[tuple[bytes, int], tuple[list[_Record], int]] = {}
        self._refs: dict[bytes, _Refs] = {}
        self._scans: _Scans = {}
        self._chunks: list[bytes] = []
        self._entries: dict[_EntriesKey, tuple[list[Entry], _Headings, list[str]]] = {}
        self._repeated: list[str] = []

    def parse(self, data: bytes | str) -> ParsedList:
        """Return the entries of one version of the list file.

        Bytes are read as UTF-8; invalid sequences become U+FFFD instead of failing.
        """
        if isinstance(data, str):
            data = data.encode("utf-8", errors="surrogatepass")
        chunks = split_like(data, self._chunks, self._scans)
        self._chunks = chunks
        if len(self._scans) > 4 * len(chunks) + 64:
            self._scans = {}  # bounded: a version's pieces, give or take
        refs_by_chunk = {chunk: self._chunk_refs(chunk) for chunk in chunks}
        refs: _Refs = {}
        for chunk in reversed(chunks):  # the first definition of a label wins
            refs.update(refs_by_chunk[chunk])
        refs_key = hash(tuple(sorted(refs.items()))) if refs else 0
        records_cache: dict[tuple[bytes, int], tuple[list[_Record], int]] = {}
        for chunk in chunks:
            cached = self._records.get((chunk, refs_key))
            if cached is None:
                records = list(_parse_chunk(_decode(chunk), refs, self.base_url))
                cached = (records, _title_count(records))
            records_cache[(chunk, refs_key)] = cached
        title = sum(h1 for _, h1 in records_cache.values()) == 1
        entries_cache: dict[_EntriesKey, tuple[list[Entry], _Headings, list[str]]] = {}
        headings: _Headings = ()
        entries: list[Entry] = []
        ids: list[str] = []
        fresh: list[str] = []
        for chunk in chunks:
            key = (chunk, refs_key, headings, title)
            done = self._entries.get(key)
            if done is None:
                found, end = _apply_headings(records_cache[(chunk, refs_key)][0], headings, title)
                done = (found, end, [entry.identity for entry in found])
                fresh.extend(done[2])
            entries_cache[key] = done
            entries.extend(done[0])
            ids.extend(done[2])
            headings = done[1]
        # Keep only this version's chunks: the next version shares most of them.
        self._records = records_cache
        self._entries = entries_cache
        self._refs = refs_by_chunk
        # A URL repeated in the last version may now stand once, in a chunk that was reused.
        parsed = ParsedList(entries, fresh, self._repeated, ids)
        self._repeated = parsed.repeated
        return parsed

    def _chunk_refs(self, chunk: bytes) -> _Refs:
        refs = self._refs.get(chunk)
        if refs is None:
            refs = _reference_definitions(_decode(chunk)) if b"]:" in chunk else {}
        return refs


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def parse_entries(text: str | bytes, base_url: str | None = None) -> list[Entry]:
    """Return the entries of a list file's text, parsed whole (ListParser caches by chunk)."""
    if isinstance(text, bytes):
        text = _decode(text)
    refs = _reference_definitions(text)
    records = list(_parse_chunk(text, refs, base_url))
    entries, _ = _apply_headings(records, (), _title_count(records) == 1)
    return ParsedList(entries).entries()


def _title_count(records: list[_Record]) -> int:
    """Count level-1 headings. A document with exactly one has a title, not a section.

    The title names the list; keeping it out of every heading path means that adding or
    renaming it does not move every entry.
    """
    return sum(1 for record in records if isinstance(record, tuple) and record[0] == 1)


def _normalise_label(label: str) -> str:
    return " ".join(label.split()).casefold()


def _reference_definitions(text: str) -> _Refs:
    """Return the document's link reference definitions by normalised label."""
    if "]:" not in text:
        return {}
    defs = pyromark.reference_definitions(text, options=_OPTIONS)
    return {_normalise_label(k): (v["dest"], v["title"] or "") for k, v in defs.items()}


def _apply_headings(
    records: list[_Record], headings: _Headings, skip_title: bool
) -> tuple[list[Entry], _Headings]:
    """Give each entry the heading path above it; return them and the path at the end."""
    entries: list[Entry] = []
    section = tuple(text for _, text in headings)
    for record in records:
        if isinstance(record, Entry):
            # Positional, not dataclasses.replace(): this runs for every entry re-parsed.
            entries.append(
                Entry(record.identity, record.url, record.title, record.description, section,
                      record.parents, record.parent, record.extra_links, record.occurrences)
            )  # fmt: skip
            continue
        level, text = record
        kept = tuple(h for h in headings if h[0] < level)
        headings = (*kept, (level, text)) if text and not (skip_title and level == 1) else kept
        section = tuple(text for _, text in headings)
    return entries, headings


class ParsedList:
    """One version's entries: one per URL (repeats counted), and which ones to look at."""

    def __init__(
        self,
        found: list[Entry],
        fresh: list[str] | None = None,
        repeated_before: Sequence[str] = (),
        ids: list[str] | None = None,
    ) -> None:
        self._ids = list(map(_IDENTITY, found)) if ids is None else ids
        # Built from the end so that the first occurrence of a URL wins; done in C because
        # it runs on every version of the list.
        self.by_identity: dict[str, Entry] = dict(
            zip(reversed(self._ids), reversed(found), strict=True)
        )
        # Identities whose entry may differ from the previous version's: the entries of
        # chunks parsed anew, and repeated URLs (their count is not local to a chunk).
        self.fresh: list[str] = self._ids if fresh is None else fresh
        self.repeated: list[str] = []
        if len(self.by_identity) != len(self._ids):
            counts = collections.Counter(self._ids)
            self.repeated = [identity for identity, count in counts.items() if count > 1]
            for identity in self.repeated:
                entry = self.by_identity[identity]
                self.by_identity[identity] = replace(entry, occurrences=counts[identity])
        if fresh is not None and (self.repeated or repeated_before):
            # A URL repeated in the last version may now stand once, in a reused chunk.
            before = [identity for identity in repeated_before if identity in self.by_identity]
            self.fresh = [*fresh, *self.repeated, *before]

    def positions(self) -> dict[str, int]:
        """Return each identity's place: the index of its first occurrence."""
        last = len(self._ids) - 1
        return dict(zip(reversed(self._ids), range(last, -1, -1), strict=True))

    def entries(self) -> list[Entry]:
        """Return the entries in document order, one per URL."""
        return [self.by_identity[identity] for identity in dict.fromkeys(self._ids)]


_IDENTITY = operator.attrgetter("identity")


def _parse_chunk(
    text: str, refs: dict[str, tuple[str, str]], base_url: str | None
) -> Iterator[_Record]:
    def resolve_reference(link: Any) -> tuple[str, str] | None:
        return refs.get(_normalise_label(link["reference"]))

    events = list(pyromark.events(text, options=_OPTIONS, broken_link_callback=resolve_reference))
    yield from _Walker(events, base_url).records()


class _Walker:
    """Turn one chunk's parser events into headings and entries."""

    def __init__(self, events: list[Any], base_url: str | None) -> None:
        self.events = events
        self.base_url = base_url

    def records(self) -> Iterator[_Record]:
        events = self.events
        i = 0
        n = len(events)
        while i < n:
            event = events[i]
            if isinstance(event, dict) and "Start" in event:
                tag = event["Start"]
                if isinstance(tag, dict) and "Heading" in tag:
                    segs, i = self._inline(i + 1)
                    level = int(tag["Heading"]["level"][1])
                    yield (level, clean_text(join_text(s.text for s in segs)))
                    continue
                if isinstance(tag, dict) and "List" in tag:
                    items, i = self._list(i + 1)
                    for item in items:
                        yield from self._item_entries(item, (), None)[0]
                    continue
                if tag == "Paragraph":
                    lines, i = self._lines(i + 1)
                    yield from self._paragraph_entries(lines)
                    continue
                if isinstance(tag, dict) and "Table" in tag:
                    rows, i = self._table(i + 1)
                    yield from self._row_entries(rows)
                    continue
                if (isinstance(tag, dict) and "CodeBlock" in tag) or tag == "HtmlBlock":
                    i = self._skip(i + 1)
                    continue
            i += 1

    # --- building blocks -------------------------------------------------------------------

    def _skip(self, i: int) -> int:
        """Skip to just past the end of the block whose start is before i."""
        depth = 1
        while i < len(self.events) and depth:
            event = self.events[i]
            if isinstance(event, dict):
                if "Start" in event:
                    depth += 1
                elif "End" in event:
                    depth -= 1
            i += 1
        return i

    def _inline(self, i: int) -> tuple[list[_Seg], int]:
        """Read inline content up to the end of the enclosing block, as one line."""
        lines, i = self._lines(i)
        return [seg for line in lines for seg in line], i

    def _lines(self, i: int) -> tuple[list[list[_Seg]], int]:
        """Read inline content up to the end of the enclosing block, split at line breaks."""
        lines: list[list[_Seg]] = [[]]
        link: _Seg | None = None
        depth = 1
        events = self.events
        while i < len(events):
            event = events[i]
            i += 1
            if isinstance(event, str):
                if event in ("SoftBreak", "HardBreak"):
                    if link is not None:
                        link.text += " "
                    else:
                        lines.append([])
                continue
            if "Start" in event:
                tag = event["Start"]
                if isinstance(tag, dict) and "Link" in tag:
                    link = _Seg("", self._url(tag["Link"]["dest_url"]))
                elif isinstance(tag, dict) and "Image" in tag:
                    i = self._skip(i)  # alt text is not the entry's text
                    continue
                depth += 1
            elif "End" in event:
                depth -= 1
                if depth == 0:
                    break
                if event["End"] == "Link" and link is not None:
                    lines[-1].append(link)
                    link = None
            elif "Text" in event or "Code" in event:
                text = event.get("Text", event.get("Code", ""))
                if link is not None:
                    link.text += text
                else:
                    lines[-1].append(_Seg(text))
            # InlineHtml (tags such as <font>, comments), math and footnote marks add no text.
        return [line for line in lines if line], i

    def _url(self, dest: str) -> str:
        return urls.resolve(urls.clean(dest), self.base_url)

    def _list(self, i: int) -> tuple[list[_Item], int]:
        """Read a list's items up to the end of the list."""
        items: list[_Item] = []
        events = self.events
        while i < len(events):
            event = events[i]
            if isinstance(event, dict) and "End" in event:
                return items, i + 1
            if isinstance(event, dict) and event.get("Start") == "Item":
                item, i = self._item(i + 1)
                items.append(item)
                continue
            i += 1
        return items, i

    def _item(self, i: int) -> tuple[_Item, int]:
        """Read one list item: its text (tight or in paragraphs) and its nested lists."""
        item = _Item()
        link: _Seg | None = None
        events = self.events
        while i < len(events):
            event = events[i]
            i += 1
            if isinstance(event, str):
                if event in ("SoftBreak", "HardBreak"):
                    if link is not None:
                        link.text += " "
                    else:
                        item.lines.append([])
                continue
            if "Start" in event:
                tag = event["Start"]
                if isinstance(tag, dict) and "List" in tag:
                    children, i = self._list(i)
                    item.children.extend(children)
                elif tag == "Paragraph" or (isinstance(tag, dict) and "Heading" in tag):
                    lines, i = self._lines(i)
                    item.lines.extend(lines)
                elif isinstance(tag, dict) and "Link" in tag:
                    link = _Seg("", self._url(tag["Link"]["dest_url"]))
                    continue
                elif tag in _INLINE_WRAPPERS:
                    continue
                else:
                    i = self._skip(i)  # images, code blocks, tables, quotes inside items
                item.lines.append([])
            elif "End" in event:
                if event["End"] == "Item":
                    break
                if event["End"] == "Link" and link is not None:
                    item.lines[-1].append(link)
                    link = None
            elif "Text" in event or "Code" in event:
                text = event.get("Text", event.get("Code", ""))
                if link is not None:
                    link.text += text
                else:
                    item.lines[-1].append(_Seg(text))
        item.lines = [line for line in item.lines if line]
        return item, i

    def _table(self, i: int) -> tuple[list[list[list[_Seg]]], int]:
        """Read a table's body rows as lists of cells."""
        rows: list[list[list[_Seg]]] = []
        events = self.events
        in_head = False
        while i < len(events):
            event = events[i]
            if isinstance(event, dict) and "End" in event and event["End"] == "Table":
                return rows, i + 1
            if isinstance(event, dict) and "Start" in event:
                tag = event["Start"]
                if tag == "TableHead":
                    in_head = True
                elif tag == "TableRow":
                    rows.append([])
                elif tag == "TableCell":
                    segs, i = self._inline(i + 1)
                    if not in_head:
                        rows[-1].append(segs)
                    continue
            elif isinstance(event, dict) and event.get("End") == "TableHead":
                in_head = False
            i += 1
        return rows, i

    # --- entries ---------------------------------------------------------------------------

    @staticmethod
    def _links(segs: Iterable[_Seg]) -> list[_Seg]:
        """Links that can name an entry: not in-page anchors, and with some text."""
        return [
            s for s in segs if s.url is not None and not s.url.startswith("#") and s.text.strip()
        ]

    def _entry(
        self,
        segs: list[_Seg],
        more_text: Iterable[str] = (),
        parents: tuple[str, ...] = (),
        parent: str | None = None,
    ) -> Entry | None:
        links = self._links(segs)
        if not links:
            return None
        first = links[0]
        assert first.url is not None
        title = strip_numbering(clean_text(first.text)) or clean_text(first.text)
        rest = [s.text for s in segs if s is not first]
        description = clean_text(join_text([*rest, *more_text]))
        description = _strip_lead(description)
        extra = tuple(dict.fromkeys(s.url for s in links[1:] if s.url and s.url != first.url))
        return Entry(
            identity=urls.identity(first.url),
            url=first.url,
            title=title,
            description=description,
            parents=parents,
            parent=parent,
            extra_links=extra,
        )

    def _paragraph_entries(self, lines: list[list[_Seg]]) -> Iterator[Entry]:
        """A paragraph line holding a link is an entry; link-less lines after it continue it."""
        pending: tuple[list[_Seg], list[str]] | None = None
        for line in lines:
            if self._links(line):
                if pending is not None:
                    entry = self._entry(*pending)
                    if entry is not None:
                        yield entry
                pending = (line, [])
            elif pending is not None:
                pending[1].append(join_text(s.text for s in line))
        if pending is not None:
            entry = self._entry(*pending)
            if entry is not None:
                yield entry

    def _item_entries(
        self, item: _Item, parents: tuple[str, ...], parent: str | None
    ) -> tuple[list[Entry], list[str]]:
        """Return the entries of an item's subtree, or its text when the subtree has none.

        An item with a link is an entry; a link-less item with entries below it is a label
        ("7. SGD" above "7.1 [nesterov](…)"); a link-less item without any describes the
        entry it is nested in.
        """
        own = [seg for line in item.lines for seg in line]
        links = self._links(own)
        identity = urls.identity(links[0].url or "") if links else None
        label = ""
        if not links and item.lines:
            label = strip_numbering(clean_text(join_text(s.text for s in item.lines[0])))
        child_parents = (*parents, label) if label else parents
        entries: list[Entry] = []
        leftovers: list[str] = []
        for child in item.children:
            child_entries, child_text = self._item_entries(child, child_parents, identity or parent)
            entries.extend(child_entries)
            leftovers.extend(child_text)
        if links:
            entry = self._entry(own, leftovers, parents, parent)
            assert entry is not None
            return [entry, *entries], []
        if entries:
            return entries, []
        text = strip_numbering(clean_text(join_text(s.text for s in own)))
        return [], [text, *leftovers] if text else leftovers

    def _row_entries(self, rows: list[list[list[_Seg]]]) -> Iterator[Entry]:
        """A table row holding a link is an entry; the other cells are its description."""
        for cells in rows:
            segs = [seg for cell in cells for seg in cell]
            links = self._links(segs)
            if not links:
                continue
            first_cell = next(c for c in cells if links[0] in c)
            others = [join_text(s.text for s in c) for c in cells if c is not first_cell]
            entry = self._entry(first_cell, [" | ".join(t for t in others if t)])
            if entry is not None:
                yield entry
