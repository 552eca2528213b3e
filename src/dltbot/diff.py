"""Entries × entries → events. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .models import Entry, Event


@dataclass(slots=True)
class DiffState:
    """What the diff needs to remember between versions of one list."""

    current: dict[str, Entry] = field(default_factory=dict)  # identity → entry, now
    seen: set[str] = field(default_factory=set)  # every identity the list ever held


def diff_entries(
    old: Mapping[str, Entry],
    new: Mapping[str, Entry],
    seen: set[str] | frozenset[str],
    candidates: Iterable[str] | None = None,
) -> list[Event]:
    """Return the events that turn the entries `old` into `new` (both keyed by identity).

    `seen` holds every identity the list ever held, so that an entry coming back is "restored",
    never "added" twice. `candidates` are the identities of `new` that may differ from `old`
    (all of them when None; the parser knows which chunks it reused). Reordering, re-numbering
    or re-bulleting yields nothing: entries are compared by identity and by their text as the
    parser cleaned it.
    """
    if candidates is None:
        candidates = new.keys()
    gone = old.keys() - new.keys()
    # Sorted, so that events do not depend on the order a mapping was built in.
    vanished = [old[identity] for identity in sorted(gone)]
    appeared = [new[identity] for identity in candidates if identity not in old]

    # A URL fix keeps the title and section: pair such entries as "changed", not remove + add.
    vanished_by_text: dict[tuple[str, tuple[str, ...]], list[Entry]] = {}
    for entry in vanished:
        vanished_by_text.setdefault((entry.title, entry.section), []).append(entry)
    fixed: dict[str, Entry] = {}  # new identity → old entry
    for entry in appeared:
        if entry.identity in seen:
            continue
        matches = vanished_by_text.get((entry.title, entry.section))
        if matches:
            fixed[entry.identity] = matches.pop(0)
    fixed_old = {entry.identity for entry in fixed.values()}

    events: list[Event] = []
    for identity in dict.fromkeys(candidates):
        entry = new[identity]
        before = old.get(identity)
        if before is entry:
            continue  # the parser reused it: its chunk did not change
        if before is None:
            was = fixed.get(identity)
            if was is not None:
                events.append(Event("changed", entry, was))
            elif identity in seen:
                events.append(Event("restored", entry))
            else:
                events.append(Event("added", entry))
            continue
        if before.section != entry.section:
            events.append(Event("moved", entry, before))
        if not before.same_text(entry):
            events.append(Event("changed", entry, before))
    for entry in vanished:
        if entry.identity not in fixed_old:
            events.append(Event("removed", entry))
    return events
