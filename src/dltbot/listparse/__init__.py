"""Markdown list file → entries. The only user of the Markdown parser (pyromark).

The document is cut into chunks at top-level ATX headings, and each chunk's parse is cached by
its text: a backfill parses thousands of versions that differ in one block, so most chunks are
parsed once. A chunk's result does not depend on what precedes it except the heading path, which
is applied when the chunks are put together, and reference definitions, which are read from the
whole document and handed to the parser for links it cannot resolve inside the chunk.
"""

from __future__ import annotations

import collections
import itertools
import operator
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import pyromark

from ..models import Entry
from .chunks import Scans, split_chunks, split_items, split_like
from .text import clean_text, join_text, strip_numbering
from .walker import EventWalker, Heading, Record

__all__ = [
    "PARSER_VERSION",
    "ListParser",
    "ParsedList",
    "clean_text",
    "join_text",
    "parse_entries",
    "split_chunks",
    "split_like",
    "strip_numbering",
]

# Bumped when the same text gives different entries: a list read by an older version has its
# head re-read silently before new commits are diffed, so a parser upgrade is not news.
# 2: text as written (no invented spaces), links in descriptions, conflict markers dropped.
PARSER_VERSION = 2

_ITEMS_KEPT = 4  # reference-definition sets whose items are kept (one, nearly always)
_ITEMS_PER_SET = 50_000
_PIECES_KEPT = 20_000  # pieces (and their records, their entries) kept across versions
_OPTIONS = pyromark.Options.ENABLE_TABLES | pyromark.Options.ENABLE_STRIKETHROUGH
_Headings = tuple[Heading, ...]
_Refs = dict[str, tuple[str, str]]
_EntriesKey = tuple[bytes, int, _Headings, bool]


class ListParser:
    """Parse versions of one list file, reusing what the previous version's chunks gave.

    An unchanged chunk under unchanged headings yields the very same Entry objects as in the
    previous version, so the diff can skip them with an identity check.
    """

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = base_url
        # The commit whose version the caches hold, once the caller has stored it.
        self.synced_to: str | None = None
        self._h1: dict[tuple[bytes, int], int] = {}  # each chunk's level-1 headings
        self._refs: dict[bytes, _Refs] = {}
        self._scans: Scans = {}
        self._chunks: list[bytes] = []
        # Pieces of chunks (split_items), their records and their entries under headings;
        # kept across versions, cleared when they grow past _PIECES_KEPT.
        self._pieces: dict[bytes, list[bytes]] = {}
        self._item_scans: Scans = {}
        self._piece_records: dict[tuple[bytes, int], tuple[list[Record], int]] = {}
        self._piece_entries: dict[_EntriesKey, tuple[list[Entry], _Headings, list[str]]] = {}
        # The version that last gave each piece's entries (only for chunks parsed anew: a
        # reused chunk's pieces are not visited, and are then counted fresh, never missed).
        self._piece_used: dict[_EntriesKey, int] = {}
        self._version = 0
        self._entries: dict[_EntriesKey, tuple[list[Entry], _Headings, list[str]]] = {}
        self._repeated: list[str] = []
        # Entries of top-level list items by source, per reference definitions: an edited
        # chunk re-reads only its changed items. Bounded (cleared when it holds too many).
        self._items: dict[int, dict[bytes, list[Entry]]] = {}

    def parse(self, data: bytes | str) -> ParsedList:
        """Return the entries of one version of the list file.

        Bytes are read as UTF-8; invalid sequences become U+FFFD instead of failing.
        """
        if isinstance(data, str):
            data = data.encode("utf-8", errors="surrogatepass")
        self._version += 1
        data = without_conflict_markers(data)
        chunks = split_like(data, self._chunks, self._scans)
        self._chunks = chunks
        if len(self._scans) > 4 * len(chunks) + 64:
            self._scans = {}  # bounded: a version's pieces, give or take
        refs_by_chunk = {chunk: self._chunk_refs(chunk) for chunk in chunks}
        refs: _Refs = {}
        for chunk in reversed(chunks):  # the first definition of a label wins
            refs.update(refs_by_chunk[chunk])
        refs_key = hash(tuple(sorted(refs.items()))) if refs else 0
        h1_cache: dict[tuple[bytes, int], int] = {}  # level-1 headings of each chunk
        for chunk in chunks:
            h1 = self._h1.get((chunk, refs_key))
            h1_cache[(chunk, refs_key)] = (
                self._read_chunk(chunk, refs, refs_key) if h1 is None else h1
            )
        title = sum(h1_cache.values()) == 1
        entries_cache: dict[_EntriesKey, tuple[list[Entry], _Headings, list[str]]] = {}
        headings: _Headings = ()
        entries: list[Entry] = []
        ids: list[str] = []
        fresh: list[str] = []
        for chunk in chunks:
            key = (chunk, refs_key, headings, title)
            done = self._entries.get(key)
            if done is None:
                done = self._chunk_entries(chunk, (refs, refs_key), headings, title, fresh)
            entries_cache[key] = done
            entries.extend(done[0])
            ids.extend(done[2])
            headings = done[1]
        # Keep only this version's chunks: the next version shares most of them.
        self._h1 = h1_cache
        self._entries = entries_cache
        self._refs = refs_by_chunk
        # A URL repeated in the last version may now stand once, in a chunk that was reused.
        parsed = ParsedList(entries, fresh, self._repeated, ids)
        self._repeated = parsed.repeated
        return parsed

    def _read_chunk(self, chunk: bytes, refs: _Refs, refs_key: int) -> int:
        """Read a chunk not seen before, piece by piece (split_items): the pieces an edit
        left alone are in the cache, unparsed. Return its level-1 headings."""
        pieces = self._pieces.get(chunk)
        if pieces is None:
            if len(self._pieces) > _PIECES_KEPT:
                self._pieces, self._item_scans = {}, {}
            pieces = self._pieces[chunk] = split_items(chunk, self._item_scans)
        if len(self._piece_records) > _PIECES_KEPT:
            self._piece_records = {}
        known = self._piece_records
        h1 = 0
        for piece in pieces:
            found = known.get((piece, refs_key))
            if found is None:
                found = self._piece_records_of(piece, refs, refs_key)
            h1 += found[1]
        return h1

    def _piece_records_of(
        self, piece: bytes, refs: _Refs, refs_key: int
    ) -> tuple[list[Record], int]:
        """A piece's records (parsed once) and its level-1 headings."""
        found = self._piece_records.get((piece, refs_key))
        if found is None:
            if len(self._items) > _ITEMS_KEPT:
                self._items = {}
            items = self._items.setdefault(refs_key, {})
            if len(items) > _ITEMS_PER_SET:
                items.clear()
            records = list(_parse_chunk(_decode(piece), refs, self.base_url, items))
            found = self._piece_records[(piece, refs_key)] = (records, _title_count(records))
        return found

    def _chunk_entries(
        self,
        chunk: bytes,
        refs: tuple[_Refs, int],
        headings: _Headings,
        title: bool,
        fresh: list[str],
    ) -> tuple[list[Entry], _Headings, list[str]]:
        """Entries of a chunk under headings not seen with it before, piece by piece: a
        piece seen under the same headings gives the very same Entry objects (the diff
        skips them by identity); the others' identities are `fresh`."""
        pieces = self._pieces.get(chunk) or split_items(chunk, self._item_scans)
        if len(self._piece_entries) > _PIECES_KEPT:
            self._piece_entries, self._piece_used = {}, {}
        entries: list[Entry] = []
        ids: list[str] = []
        for piece in pieces:
            key = (piece, refs[1], headings, title)
            done = self._piece_entries.get(key)
            if done is None:
                records = self._piece_records_of(piece, *refs)[0]
                found, end = _apply_headings(records, headings, title)
                done = self._piece_entries[key] = (found, end, [e.identity for e in found])
            # Not fresh only if the last version gave these very entries: a piece cached
            # from longer ago may hold entries removed since (back now: "restored").
            if self._piece_used.get(key) != self._version - 1:
                fresh.extend(done[2])
            self._piece_used[key] = self._version
            entries.extend(done[0])
            ids.extend(done[2])
            headings = done[1]
        return entries, headings, ids

    def compact(self) -> None:
        """Drop what only a walk through history needs (the pieces of past versions): a
        parser kept warm between syncs holds its last version's chunks and little more."""
        self._pieces = {
            chunk: self._pieces[chunk] for chunk in self._chunks if chunk in self._pieces
        }
        self._item_scans = {}
        self._piece_records, self._piece_entries, self._piece_used = {}, {}, {}
        self._items = {}

    def _chunk_refs(self, chunk: bytes) -> _Refs:
        refs = self._refs.get(chunk)
        if refs is None:
            refs = _reference_definitions(_decode(chunk)) if b"]:" in chunk else {}
        return refs


# A line of a merge conflict committed by mistake: "<<<<<<< HEAD", "|||||||", "=======",
# ">>>>>>> branch" (exactly seven, as git writes them).
_CONFLICT_LINE = re.compile(rb"(?m)^(<{7}|\|{7}|={7}|>{7})(?:[ \t][^\n]*)?\r?$")


def without_conflict_markers(data: bytes) -> bytes:
    """Blank the marker lines of committed merge conflicts: they are no entry's text.

    Only a "<<<<<<<" … ">>>>>>>" run counts (a lone "=======" underlines a heading). The
    lines are blanked, not removed, so the two sides stay apart as they were written.
    """
    if b"<<<<<<<" not in data:
        return data
    blank: list[tuple[int, int]] = []
    run: list[tuple[int, int]] = []
    for match in _CONFLICT_LINE.finditer(data):
        kind = match[1][:1]
        if kind == b"<":
            run = [match.span()]
        elif run:
            run.append(match.span())
            if kind == b">":
                blank.extend(run)
                run = []
    if not blank:
        return data
    pieces, last = [], 0
    for start, end in blank:
        pieces.append(data[last:start])
        last = end
    pieces.append(data[last:])
    return b"".join(pieces)


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def parse_entries(text: str | bytes, base_url: str | None = None) -> list[Entry]:
    """Return the entries of a list file's text, parsed whole (ListParser caches by chunk)."""
    if isinstance(text, str):
        text = text.encode("utf-8", errors="surrogatepass")
    text = _decode(without_conflict_markers(text))
    refs = _reference_definitions(text)
    records = list(_parse_chunk(text, refs, base_url))
    entries, _ = _apply_headings(records, (), _title_count(records) == 1)
    return ParsedList(entries).entries()


def _title_count(records: list[Record]) -> int:
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
    records: list[Record], headings: _Headings, skip_title: bool
) -> tuple[list[Entry], _Headings]:
    """Give each entry the heading path above it; return them and the path at the end."""
    entries: list[Entry] = []
    section = tuple(text for _, text in headings)
    for record in records:
        if isinstance(record, Entry):
            # Positional, not dataclasses.replace(): this runs for every entry re-parsed.
            entries.append(
                Entry(record.identity, record.url, record.title, record.description, section,
                      record.parents, record.parent, record.extra_links, record.occurrences,
                      record.sections, record.text_links)
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
            others: dict[str, dict[tuple[str, ...], None]] = {i: {} for i in self.repeated}
            # The repeated URLs' occurrences, picked out in C (a few among thousands).
            picked = itertools.compress(found, map(others.__contains__, self._ids))
            for entry in picked:
                others[entry.identity][entry.section] = None
            for identity in self.repeated:
                entry = self.by_identity[identity]
                sections = tuple(s for s in others[identity] if s != entry.section)
                self.by_identity[identity] = replace(
                    entry, occurrences=counts[identity], sections=sections
                )
        if fresh is not None and (self.repeated or repeated_before):
            # A URL repeated in the last version may now stand once, in a reused chunk.
            before = [identity for identity in repeated_before if identity in self.by_identity]
            self.fresh = [*fresh, *self.repeated, *before]

    def positions(self, identities: Sequence[str] | None = None) -> dict[str, int]:
        """Return each identity's place (of `identities`, or all): the index of its first
        occurrence."""
        if identities is not None and len(identities) <= 16:
            return {identity: self._ids.index(identity) for identity in identities}  # in C
        last = len(self._ids) - 1
        return dict(zip(reversed(self._ids), range(last, -1, -1), strict=True))

    def entries(self) -> list[Entry]:
        """Return the entries in document order, one per URL."""
        return [self.by_identity[identity] for identity in dict.fromkeys(self._ids)]


_IDENTITY = operator.attrgetter("identity")


def _parse_chunk(
    text: str,
    refs: dict[str, tuple[str, str]],
    base_url: str | None,
    items: dict[bytes, list[Entry]] | None = None,
) -> Iterator[Record]:
    def resolve_reference(link: Any) -> tuple[str, str] | None:
        return refs.get(_normalise_label(link["reference"]))

    # The lazy event stream, never a list: a 5 MB file is millions of events.
    if items is None:
        events = pyromark.events(text, options=_OPTIONS, broken_link_callback=resolve_reference)
        yield from EventWalker(events, base_url).records()
        return
    pairs = pyromark.events_with_range(
        text, options=_OPTIONS, merge_text=True, broken_link_callback=resolve_reference
    )
    yield from EventWalker(pairs, base_url, text.encode("utf-8", "surrogatepass"), items).records()
