"""pyromark events of one chunk → headings and entries (without heading paths)."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .. import urls
from ..models import Entry
from .text import (
    clean_marked,
    clean_text,
    is_generic,
    join_text,
    keep_title,
    marked,
    plain,
    sentence_bounds,
    spans_of,
    split_title,
    strip_lead,
    strip_numbering,
    unmarked,
)


@dataclass(slots=True)
class _Seg:
    """A piece of inline text: plain text, or a link with its text."""

    text: str
    url: str | None = None  # set for links
    # Folded link-less lines waiting to be joined (_fold): joining as they come would copy
    # the growing text once per line.
    parts: list[str] | None = None
    joined: int = 0  # parts[:joined] are already blocks of _BLOCK lines joined
    # Set on the line that stands where a nested list was: its items, in source order.
    items: list[_Item] | None = None


@dataclass(slots=True)
class _Item:
    """A list item: its lines of inline segments, and its nested lists as lines of their own
    (`_Seg.items`) where they stand, so its text keeps the source order."""

    lines: list[list[_Seg]] = field(default_factory=lambda: [[]])


def _line_text(line: list[_Seg]) -> str:
    """A line's text as written: its pieces are joined with nothing in between."""
    return line[0].text if len(line) == 1 else "".join(seg.text for seg in line)


# What a chunk yields: headings and entries without section or position (those depend on the
# chunks before it and are filled in by parse_entries).
Heading = tuple[int, str]
_INLINE_WRAPPERS = ("Emphasis", "Strong", "Strikethrough", "Superscript", "Subscript")
Record = Heading | Entry


_BLOCK = 4096


def _fold(lines: list[list[_Seg]], keep: int = 0) -> None:
    """Fold the last finished line into the one before when neither holds a link.

    Called when a new (empty) line was just opened, so lines[-2] is the finished one. What the
    entry code does with consecutive link-less lines is join their text, so joining them now
    gives the same text. The first `keep` lines stay apart (an item's first line is its label).
    """
    if len(lines) - 3 < keep:
        return
    done, before = lines[-2], lines[-3]
    if not before or any(s.url is not None or s.items is not None for s in (*before, *done)):
        return
    seg = before[0]
    if len(before) != 1 or seg.parts is None:
        seg = _Seg("", None, [_line_text(before)])
        lines[-3] = [seg]
    assert seg.parts is not None
    # One plain text per line is the common case: kept as is, joined with the others later.
    seg.parts.append(_line_text(done))
    if len(seg.parts) - seg.joined >= _BLOCK:  # a million lines keep a few strings
        seg.parts[seg.joined :] = [join_text(seg.parts[seg.joined :])]
        seg.joined += 1
    del lines[-2]


def _finish(lines: list[list[_Seg]]) -> list[list[_Seg]]:
    """Drop empty lines and join the text of folded ones."""
    for line in lines:
        if len(line) == 1 and line[0].parts is not None:
            line[0] = _Seg(join_text(line[0].parts))
    return [line for line in lines if line]


def _apply_inline(event: Any, lines: list[list[_Seg]], link: _Seg | None) -> _Seg | None:
    """Apply a line break, text, code or link end to lines; return the link still open."""
    if isinstance(event, str):
        if event in ("SoftBreak", "HardBreak"):
            if link is not None:
                link.text += " "
            else:
                lines.append([])
        return link
    if event.get("End") == "Link" and link is not None:
        lines[-1].append(link)
        return None
    if "Text" in event or "Code" in event:
        text = event.get("Text", event.get("Code", ""))
    elif event.get("InlineHtml", "")[:3].lower() == "<br":
        text = " "
    else:
        return link  # other inline HTML (<font>, comments), math and footnote marks: no text
    if link is not None:
        link.text += text
    else:
        lines[-1].append(_Seg(text))
    return link


_EVENT = operator.itemgetter(0)  # of an (event, range) pair

# Nested lists deeper than this are read as text of the item at the limit: real lists nest a
# few levels, and a hostile one 500 levels deep must not exhaust the stack.
MAX_DEPTH = 24


class EventWalker:
    """Turn one chunk's parser events into headings and entries.

    The events are read once, in order, from an iterator: the parser's lazy event stream is
    never held whole in memory (a 5 MB paragraph is millions of events).
    """

    def __init__(
        self,
        events: Iterable[Any],
        base_url: str | None,
        source: bytes = b"",
        items: dict[bytes, list[Entry]] | None = None,
    ) -> None:
        """`events` are the parser's events, or (event, byte range) pairs with `source` (the
        text as UTF-8) and `items`: the entries of top-level list items by their source, so
        an unchanged item is not read again (ListParser keeps them across versions)."""
        self.base_url = base_url
        self.source = source
        self.items = items
        self.span: dict[str, int] = {}
        self._pairs = iter(events)
        self.events = self._spans(self._pairs) if items is not None else self._pairs

    def _spans(self, pairs: Iterable[tuple[Any, dict[str, int]]]) -> Iterator[Any]:
        for event, span in pairs:
            self.span = span
            yield event

    def records(self) -> Iterator[Record]:
        for event in self.events:
            if isinstance(event, dict) and "Start" in event:
                tag = event["Start"]
                if isinstance(tag, dict) and "Heading" in tag:
                    text = join_text(map(_line_text, self._lines()))
                    yield (int(tag["Heading"]["level"][1]), clean_text(text))
                elif isinstance(tag, dict) and "List" in tag:
                    yield from self._top_list()
                elif tag == "Paragraph":
                    yield from self._paragraph_entries(self._lines())
                elif isinstance(tag, dict) and "Table" in tag:
                    yield from self._row_entries(self._table())
                elif (isinstance(tag, dict) and "CodeBlock" in tag) or tag == "HtmlBlock":
                    self._skip()

    # --- building blocks -------------------------------------------------------------------

    def _skip(self, events: Iterator[Any] | None = None) -> None:
        """Skip to just past the end of the block whose start was just read."""
        depth = 1
        for event in self.events if events is None else events:
            if isinstance(event, dict):
                if "Start" in event:
                    depth += 1
                elif "End" in event:
                    depth -= 1
                    if not depth:
                        return

    def _inline(self) -> list[_Seg]:
        """Read inline content up to the end of the enclosing block, as one line."""
        return [seg for line in self._lines() for seg in line]

    def _lines(self, flat: bool = False) -> list[list[_Seg]]:
        """Read inline content up to the end of the enclosing block, split at line breaks.

        Runs of link-less lines are folded into one as they come: a paragraph of millions of
        lines keeps one string, not millions of lists. With `flat`, nested blocks (lists
        past MAX_DEPTH) are read as more lines of the same text.
        """
        lines: list[list[_Seg]] = [[]]
        link: _Seg | None = None
        depth = 1
        for event in self.events:
            if isinstance(event, dict) and "Start" in event:
                tag = event["Start"]
                if isinstance(tag, dict) and "Link" in tag:
                    link = _Seg("", self._url(tag["Link"]["dest_url"]))
                elif isinstance(tag, dict) and "Image" in tag:
                    self._skip()  # alt text is not the entry's text
                    continue
                elif flat and (tag == "Item" or tag == "Paragraph"):
                    lines.append([])
                depth += 1
                continue
            if isinstance(event, dict) and "End" in event:
                depth -= 1
                if depth == 0:
                    break
            before = len(lines)
            link = _apply_inline(event, lines, link)
            if len(lines) > before and len(lines) >= 3:
                _fold(lines)
        return _finish(lines)

    def _url(self, dest: str) -> str:
        return urls.resolve(urls.clean(dest), self.base_url)

    def _top_list(self) -> Iterator[Entry]:
        """The entries of a top-level list, item by item; known items from `items`.

        An item's entries depend on its source alone (with the chunk's reference
        definitions, part of the parser's key, and tight or loose read alike).
        """
        for event in self.events:
            if isinstance(event, dict) and "End" in event:
                break
            if not (isinstance(event, dict) and event.get("Start") == "Item"):
                continue
            if self.items is None:
                yield from self._item_entries(self._item(1), (), None)[0]
                continue
            key = self.source[self.span["start"] : self.span["end"]]
            found = self.items.get(key)
            if found is None:
                found = self._item_entries(self._item(1), (), None)[0]
                self.items[key] = found
            else:
                # Read past the range-keeping layer (in C): most of a re-read chunk's
                # events belong to items already known.
                self._skip(map(_EVENT, self._pairs))
            yield from found

    def _list(self, depth: int) -> list[_Item]:
        """Read a list's items up to the end of the list."""
        items: list[_Item] = []
        for event in self.events:
            if isinstance(event, dict) and "End" in event:
                break
            if isinstance(event, dict) and event.get("Start") == "Item":
                items.append(self._item(depth))
        return items

    def _item(self, depth: int) -> _Item:
        """Read one list item: its text (tight or in paragraphs) and its nested lists."""
        item = _Item()
        link: _Seg | None = None
        for event in self.events:
            if isinstance(event, dict) and "Start" in event:
                tag = event["Start"]
                if isinstance(tag, dict) and "List" in tag:
                    if depth < MAX_DEPTH:
                        item.lines.append([_Seg("", items=self._list(depth + 1))])
                    else:
                        item.lines.extend(self._lines(flat=True))
                elif tag == "Paragraph" or tag in _INLINE_WRAPPERS:
                    continue  # a loose item's text reads as a tight one's
                elif isinstance(tag, dict) and "Heading" in tag:
                    item.lines.extend(self._lines())
                elif isinstance(tag, dict) and "Link" in tag:
                    link = _Seg("", self._url(tag["Link"]["dest_url"]))
                    continue
                elif isinstance(tag, dict) and "Image" in tag:
                    self._skip()  # alt text is not the entry's text
                    continue
                else:
                    self._skip()  # code blocks, tables, quotes inside items
                item.lines.append([])
                continue
            if isinstance(event, dict) and "End" in event:
                if event["End"] == "Item":
                    break
                if event["End"] == "Paragraph":
                    event = "HardBreak"  # the next paragraph starts a line
            before = len(item.lines)
            link = _apply_inline(event, item.lines, link)
            if len(item.lines) > before and len(item.lines) >= 4:
                _fold(item.lines, keep=1)
        item.lines = _finish(item.lines)
        return item

    def _table(self) -> list[list[list[_Seg]]]:
        """Read a table's body rows as lists of cells."""
        rows: list[list[list[_Seg]]] = []
        in_head = False
        for event in self.events:
            if isinstance(event, dict) and "End" in event and event["End"] == "Table":
                break
            if isinstance(event, dict) and "Start" in event:
                tag = event["Start"]
                if tag == "TableHead":
                    in_head = True
                elif tag == "TableRow":
                    rows.append([])
                elif tag == "TableCell":
                    segs = self._inline()
                    if not in_head and rows:
                        rows[-1].append(segs)
            elif isinstance(event, dict) and event.get("End") == "TableHead":
                in_head = False
        return rows

    # --- entries ---------------------------------------------------------------------------

    @staticmethod
    def _links(segs: Iterable[_Seg]) -> list[_Seg]:
        """Links that can name an entry: not in-page anchors, and with some text."""
        return [
            s for s in segs if s.url is not None and not s.url.startswith("#") and s.text.strip()
        ]

    def _entry(
        self, lines: list[list[_Seg]], parents: tuple[str, ...] = (), parent: str | None = None
    ) -> Entry | None:
        """An entry from its lines: the first link names it, the text as written describes it.

        The description is the text less a leading title link and its separator; a title
        link inside a sentence keeps its words there, and a link saying only "here" is titled
        by its sentence. Links of the description are kept as spans of it (Entry.text_links).
        """
        links = self._links(seg for line in lines for seg in line)
        if not links:
            return None
        first = links[0]
        assert first.url is not None
        others = {id(link) for link in links[1:]}

        def piece(seg: _Seg) -> str:
            if seg is first:
                return marked(plain(seg.text), title=True)
            return marked(plain(seg.text)) if id(seg) in others else plain(seg.text)

        text = clean_marked(join_text("".join(map(piece, line)) for line in lines))
        title = strip_numbering(clean_text(first.text)) or clean_text(first.text)
        before, link_text, after = split_title(text)
        if is_generic(title):
            start, end = sentence_bounds(before, after)
            title = clean_text(unmarked(before[start:] + link_text + after[:end]))
            rest = join_text([before[:start], after[end:]])
        elif not strip_lead(unmarked(before).strip()):
            rest = after
        else:  # the sentence keeps its words, the title link among them
            rest = keep_title(before, link_text, after)
        urls_in_order = [link.url or "" for link in links[1:]]
        description, spans = spans_of(strip_lead(rest.strip()), urls_in_order, first.url)
        extra = tuple(dict.fromkeys(s.url for s in links[1:] if s.url and s.url != first.url))
        return Entry(
            identity=urls.identity(first.url),
            url=first.url,
            title=title,
            description=description,
            parents=parents,
            parent=parent,
            extra_links=extra,
            text_links=spans,
        )

    def _paragraph_entries(self, lines: list[list[_Seg]]) -> Iterator[Entry]:
        """A paragraph line holding a link is an entry; link-less lines after it continue it."""
        pending: list[list[_Seg]] = []
        for line in lines:
            if self._links(line):
                if pending and (entry := self._entry(pending)) is not None:
                    yield entry
                pending = [line]
            elif pending:
                pending.append(line)
        if pending and (entry := self._entry(pending)) is not None:
            yield entry

    def _item_entries(
        self, item: _Item, parents: tuple[str, ...], parent: str | None
    ) -> tuple[list[Entry], list[str]]:
        """Return the entries of an item's subtree, or its lines of text when the subtree
        has none.

        An item with a link is an entry; a link-less item with entries below it is a label
        ("7. SGD" above "7.1 [nesterov](…)"); a link-less item without any describes the
        entry it is nested in, where it stands.
        """
        own = [line for line in item.lines if line[0].items is None]
        links = self._links(seg for line in own for seg in line)
        identity = urls.identity(links[0].url or "") if links else None
        label = ""
        if not links and own:
            label = strip_numbering(clean_text(_line_text(own[0])))
        child_parents = (*parents, label) if label else parents
        entries: list[Entry] = []
        lines: list[list[_Seg]] = []  # the item's own lines and its children's text, in order
        for line in item.lines:
            if line[0].items is None:
                lines.append(line)
                continue
            for child in line[0].items:
                found, text = self._item_entries(child, child_parents, identity or parent)
                entries.extend(found)
                lines.extend([_Seg(part)] for part in text)
        if links:
            entry = self._entry(lines, parents, parent)
            assert entry is not None
            return [entry, *entries], []
        if entries:
            return entries, []
        texts = [clean_text(_line_text(line)) for line in lines]
        if texts and item.lines and item.lines[0][0].items is None:
            texts[0] = strip_numbering(texts[0])  # "1.1 complexity approaches;"
        return [], [text for text in texts if text]

    def _row_entries(self, rows: list[list[list[_Seg]]]) -> Iterator[Entry]:
        """A table row holding a link is an entry; the other cells are its description."""
        for cells in rows:
            links = self._links(seg for cell in cells for seg in cell)
            if not links:
                continue
            first_cell = next(c for c in cells if links[0] in c)
            others = [_line_text(c).strip() for c in cells if c is not first_cell]
            entry = self._entry([first_cell, [_Seg(" | ".join(t for t in others if t))]])
            if entry is not None:
                yield entry
