"""pyromark events of one chunk → headings and entries (without heading paths)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .. import urls
from ..models import Entry
from .text import clean_text, join_text, strip_lead, strip_numbering


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
Heading = tuple[int, str]
_INLINE_WRAPPERS = ("Emphasis", "Strong", "Strikethrough", "Superscript", "Subscript")
Record = Heading | Entry


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
        if link is not None:
            link.text += text
        else:
            lines[-1].append(_Seg(text))
    # InlineHtml (tags such as <font>, comments), math and footnote marks add no text.
    return link


class EventWalker:
    """Turn one chunk's parser events into headings and entries."""

    def __init__(self, events: list[Any], base_url: str | None) -> None:
        self.events = events
        self.base_url = base_url

    def records(self) -> Iterator[Record]:
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
            if isinstance(event, dict) and "Start" in event:
                tag = event["Start"]
                if isinstance(tag, dict) and "Link" in tag:
                    link = _Seg("", self._url(tag["Link"]["dest_url"]))
                elif isinstance(tag, dict) and "Image" in tag:
                    i = self._skip(i)  # alt text is not the entry's text
                    continue
                depth += 1
                continue
            if isinstance(event, dict) and "End" in event:
                depth -= 1
                if depth == 0:
                    break
            link = _apply_inline(event, lines, link)
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
            if isinstance(event, dict) and "Start" in event:
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
                continue
            if isinstance(event, dict) and event.get("End") == "Item":
                break
            link = _apply_inline(event, item.lines, link)
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
        description = strip_lead(description)
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
