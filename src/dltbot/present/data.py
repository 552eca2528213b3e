"""Entries and events as JSON objects: what `--json` prints and the web API answers."""

from __future__ import annotations

from typing import Any

from ..models import Card, Entry, LinkHealth, StoredEntry, StoredEvent
from ..papers import paper_json
from ..urls import safe_link


def card_json(card: Card | None, link: LinkHealth | None) -> dict[str, Any]:
    """The `meta` and `link` objects: what enrichment found (null when nothing yet)."""
    return {
        "meta": card.to_json() if card else None,
        "link": link.to_json() if link else None,
    }


def entry_json(entry: Entry) -> dict[str, Any]:
    """Return an entry as the JSON outputs show it."""
    return {
        "title": entry.title,
        # Only a followable http(s)/mailto link; javascript:, data:, … give null.
        "url": safe_link(entry.url),
        "identity": entry.identity,
        "section": list(entry.section),
        "parents": list(entry.parents),
        "parent": entry.parent,
        "description": entry.description,
        "description_links": links_json(entry),
        "extra_links": list(entry.extra_links),
        "occurrences": entry.occurrences,
        # Every heading path the URL stands under, the first one (`section`) included.
        "sections": [list(section) for section in entry.all_sections],
        # The paper it links (any spelling of arXiv, a DOI, OpenReview, ACL), else null.
        "paper": paper_json(entry.url, None),
    }


def links_json(entry: Entry) -> list[dict[str, Any]]:
    """The description's links: characters [start, end) of it link to url (http(s) only)."""
    return [
        {"start": start, "end": end, "url": url}
        for start, end, url in entry.text_links
        if safe_link(url, ("http", "https"))
    ]


def event_json(event: StoredEvent) -> dict[str, Any]:
    """Return an event as `dltbot events --json` prints it."""
    data: dict[str, Any] = {
        "id": event.id,
        "kind": event.kind,
        "list": event.list,
        "title": event.entry.title,
        "url": safe_link(event.entry.url),
        "identity": event.entry.identity,
        "section": list(event.entry.section),
        "description": event.entry.description,
        "description_links": links_json(event.entry),
        "commit": event.commit.sha,
        "date": event.commit.date,
        "author": event.commit.author,
        "summary": event.commit.summary,
        **card_json(event.card, event.link),
        "paper": paper_json(event.entry.url, event.card),
    }
    if event.old is not None:
        data["old"] = {
            "title": event.old.title,
            "url": safe_link(event.old.url),
            "section": list(event.old.section),
            "description": event.old.description,
        }
    return data


def result_json(result: StoredEntry) -> dict[str, Any]:
    """Return a current entry as search and random show it: with its list and date added."""
    return {
        "list": result.list,
        **entry_json(result.entry),
        "added": result.first_date,
        "added_commit": result.first_commit,
        **card_json(result.card, result.link),
        "paper": paper_json(result.entry.url, result.card),  # the card may name its DOI
    }
