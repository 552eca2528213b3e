"""Cut a list file's bytes into chunks that parse alone: the unit of the parse cache."""

from __future__ import annotations

import itertools
import re

# Inside a fence or an HTML block: what closes it. ("fence", marker), ("html", end tag) for
# raw HTML (CommonMark types 1-5), ("blank", b"") for the lines since the last blank line
# when one of them may start an HTML block of type 6 or 7 (`<div>`, `<a name="x" />`): such
# a block runs until a blank line and swallows a heading right below it.
State = tuple[str, bytes] | None
Scans = dict[tuple[bytes, State], State]


def split_chunks(text: bytes, scans: Scans | None = None) -> list[bytes]:
    """Cut a document before each top-level ATX heading, where the cut cannot change the parse.

    Not cutting is always safe, so in doubt (inside a fenced code block, an HTML comment or a
    raw-text HTML block, or below a line starting with "<" with no blank line since, as found
    by a conservative scan) no cut is made. Works on the UTF-8
    bytes with bytes.find: it runs on every version of a 400 KB file, and only chunks not seen
    before are decoded. `scans` caches the scan of each piece between versions.
    """
    return _split(text, scans)[0]


def _split(text: bytes, scans: Scans | None = None) -> tuple[list[bytes], State]:
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
    return _join_open([text[start:end] for start, end in itertools.pairwise(cuts)], scans)


def _join_open(pieces: list[bytes], scans: Scans | None) -> tuple[list[bytes], State]:
    """Join each piece to the one before while a fence or raw HTML block is open across the
    cut between them; return the joined pieces and what is left open at the end."""
    joined: list[bytes] = []
    state: State = None
    for piece in pieces:
        if not piece:
            continue
        if joined and state is not None:
            joined[-1] += piece  # the cut would fall inside a code block or raw HTML
        else:
            joined.append(piece)
        key = (piece, state)
        if scans is None:
            state = _scan(piece, state)
        elif key in scans:
            state = scans[key]
        else:
            state = scans[key] = _scan(piece, state)
    return joined, state


_BULLET_LINE = re.compile(rb"\n[-*+][ \t][^\n]*")


def split_items(chunk: bytes, scans: Scans | None = None) -> list[bytes]:
    """Cut a chunk before each top-level bullet item ("- x", "* x", "+ x" at the start of a
    line), where the cut cannot change the parse: an edit re-reads the item it touched, not
    every item of its section.

    A bullet item always starts a block there (it interrupts a paragraph, closes a quote or
    an item indented under it), so each piece parses alone as it does in place, and its
    entries depend on its text alone. Not cut, as in split_chunks: inside a fence or raw
    HTML, or below a line starting with "<" with no blank line since; nor before a thematic
    break ("- - -") or an ordered item (one not numbered 1 continues a paragraph).
    """
    cuts = [0]
    for match in _BULLET_LINE.finditer(chunk):  # found in C: a chunk is many lines
        line = match[0][1:]
        if line.strip(b" \t\r" + line[:1]):  # some text, not a thematic break
            cuts.append(match.start() + 1)
    if len(cuts) == 1:
        return [chunk]
    cuts.append(len(chunk))
    if b"`" not in chunk and b"~~~" not in chunk and b"<" not in chunk:
        # Nothing can open a fence or raw HTML: every cut stands (and no scan is needed).
        return [chunk[begin:end] for begin, end in itertools.pairwise(cuts)]
    return _join_open([chunk[begin:end] for begin, end in itertools.pairwise(cuts)], scans)[0]


def split_like(text: bytes, previous: list[bytes], scans: Scans) -> list[bytes]:
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
    if previous and first == len(previous):
        # The old last chunk may end inside an open fence or HTML block (nothing followed it
        # then): what now follows must be scanned with it.
        first -= 1
        start -= len(previous[first])
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
    (b"<![CDATA[", b"]]>"),  # CommonMark type 5
    (b"<?", b"?>"),  # type 3
    (b"<!", b">"),  # type 4 (<!DOCTYPE …>); after the two above, which start alike
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


def _scan(text: bytes, state: State) -> State:
    """Return whether a fence or an HTML block is still open at the end of text."""
    if state is None and b"<" not in text and b"```" not in text and b"~~~" not in text:
        return None  # nothing opens one (most sections of most lists)
    pos = 0
    while True:
        if state is not None:
            kind, marker = state
            if kind == "fence":
                end = _closing_fence(text, pos, marker)
            elif kind == "blank":
                end = _blank_line_end(text, pos)
            else:
                end = _find_any(text, marker, pos)
            if end < 0:
                return state
            pos, state = end, None
        opener = _next_opener(text, pos)
        if opener is None:
            return _html_tail(text)
        pos, state = opener


def _html_tail(text: bytes) -> State:
    """Return ("blank", b"") when a line after text's last blank line starts with "<" (at
    most 3 spaces in): it may open an HTML block of type 6 or 7, which only a blank line
    ends. Conservative: such a line may be inline HTML, or inside code, and then the next
    heading is merely not cut at."""
    end = len(text) - 1 if text.endswith(b"\n") else len(text)
    while end >= 0:
        line_start = text.rfind(b"\n", 0, end) + 1
        line = text[line_start:end]
        body = line.lstrip(b" ")
        if not line.strip(b" \t\r"):
            return None  # a blank line ends any HTML block of type 6 or 7
        if body.startswith(b"<") and len(line) - len(body) <= 3:
            return ("blank", b"")
        if line_start == 0:
            return None
        end = line_start - 1
    return None


def _blank_line_end(text: bytes, start: int) -> int:
    """Return the end of the first blank line at or after start, or -1."""
    pos = start
    while pos <= len(text):
        line_end = text.find(b"\n", pos)
        if line_end < 0:
            return -1  # the last line, unterminated, is not known to be blank yet
        if not text[pos:line_end].strip(b" \t\r"):
            return line_end
        pos = line_end + 1
    return -1


def _next_opener(text: bytes, pos: int) -> tuple[int, State] | None:
    """Return the first fence or raw HTML opening at or after pos, and what closes it."""
    best: tuple[int, State] | None = None
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
