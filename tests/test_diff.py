"""Entries × entries → events, one test per event kind and per non-event."""

from __future__ import annotations

from dltbot.diff import diff_entries
from dltbot.listparse import parse_entries
from dltbot.models import Entry, Event


def by_id(text: str) -> dict[str, Entry]:
    return {entry.identity: entry for entry in parse_entries(text)}


def kinds(old: str, new: str, seen: set[str] | None = None) -> list[tuple[str, str]]:
    before = by_id(old)
    events = diff_entries(before, by_id(new), seen if seen is not None else set(before))
    return [(event.kind, event.entry.title) for event in events]


BASE = "## A\n- [One](http://one.org) first\n- [Two](http://two.org) second\n"


def test_added() -> None:
    new = BASE + "- [Three](http://three.org) third\n"
    assert kinds(BASE, new) == [("added", "Three")]


def test_removed() -> None:
    assert kinds(BASE, "## A\n- [One](http://one.org) first\n") == [("removed", "Two")]


def test_restored_is_never_added_again() -> None:
    without = "## A\n- [One](http://one.org) first\n"
    assert kinds(without, BASE, seen={"one.org", "two.org"}) == [("restored", "Two")]


def test_changed_title_or_description_keeps_old_and_new() -> None:
    new = BASE.replace("second", "second, better")
    old_entries, new_entries = by_id(BASE), by_id(new)
    assert diff_entries(old_entries, new_entries, set(old_entries)) == [
        Event("changed", new_entries["two.org"], old_entries["two.org"])
    ]


def test_url_fix_with_same_title_and_section_is_a_change() -> None:
    new = BASE.replace("http://two.org", "https://two.example.org")
    assert kinds(BASE, new) == [("changed", "Two")]


def test_moved_to_another_heading() -> None:
    new = "## A\n- [One](http://one.org) first\n## B\n- [Two](http://two.org) second\n"
    old_entries, new_entries = by_id(BASE), by_id(new)
    assert diff_entries(old_entries, new_entries, set(old_entries)) == [
        Event("moved", new_entries["two.org"], old_entries["two.org"])
    ]


def test_reformatting_yields_nothing() -> None:
    reformatted = (
        "## A\n\n"
        "1. 🔥 [One](https://www.one.org/)  first\n\n"
        "2. :star: [Two](http://two.org)\n   second\n"
    )
    assert kinds(BASE, reformatted) == []


def test_reordering_yields_nothing() -> None:
    reordered = "## A\n- [Two](http://two.org) second\n- [One](http://one.org) first\n"
    assert kinds(BASE, reordered) == []


def test_duplicate_url_in_one_version_is_one_event() -> None:
    new = BASE + "- [Three](http://three.org)\n## B\n- [Three](http://three.org/) again\n"
    assert kinds(BASE, new) == [("added", "Three")]
