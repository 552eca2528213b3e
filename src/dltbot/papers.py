"""Papers, not links: one key for every spelling of a paper's link, and one record for the
entries of every list that point at it.

A key is `arxiv:ID` (no version), `doi:10.x/y` (lower-case), `openreview:ID` or `acl:ID`. An
arXiv paper whose record names its published DOI, and the arXiv DataCite DOI
(10.48550/arXiv.ID), join the keys into one paper (`group`). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from .models import Card, StoredEntry
from .present.view import section_label

_NEW_ID = re.compile(r"^(\d{4}\.\d{4,5})(v\d+)?$")
_OLD_ID = re.compile(r"^([a-z][a-z.-]*(?:\.[A-Z]{2})?/\d{7})(v\d+)?$")
ARXIV_HOSTS = {"arxiv.org", "www.arxiv.org", "export.arxiv.org"}
_AR5IV_HOSTS = {"ar5iv.org", "www.ar5iv.org", "ar5iv.labs.arxiv.org"}
DOI_HOSTS = {"doi.org", "dx.doi.org", "www.doi.org"}
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.IGNORECASE)
_ACL_ID = re.compile(r"^([A-Z]\d{2}-\d{4}|\d{4}\.[a-z0-9-]+\.\d+)$", re.IGNORECASE)
_OPENREVIEW_ID = re.compile(r"^[A-Za-z0-9_-]{5,40}$")
_PREFERRED = ("arxiv", "doi", "openreview", "acl")


@dataclass(frozen=True, slots=True)
class PaperLink:
    """What a link says of its paper: the key, and the arXiv version it names, if any."""

    key: str
    version: str = ""  # "v2" for …/abs/2404.19756v2


def arxiv_number(found: str) -> tuple[str, str] | None:
    """An arXiv id and the version it names ("2404.19756", "v2"), from the end of a path
    ("2404.19756v2.pdf", "math/0211159"); None when it is no arXiv id."""
    found = found.removesuffix(".pdf").strip("/")
    match = _NEW_ID.match(found) or _OLD_ID.match(found)
    return (match[1], match[2] or "") if match else None


def is_doi(value: str) -> bool:
    """Whether a text is a DOI (10.NNNN/…)."""
    return bool(_DOI.match(value))


def _arxiv(found: str) -> PaperLink | None:
    number = arxiv_number(found)
    return PaperLink(f"arxiv:{number[0]}", number[1]) if number else None


def paper_link(url: str) -> PaperLink | None:
    """The paper a URL points at, in any of the spellings readers paste, or None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    path = unquote(parts.path).strip("/")
    if host in ARXIV_HOSTS or host in _AR5IV_HOSTS:
        for prefix in ("abs/", "pdf/", "html/", "format/"):
            if path.startswith(prefix):
                return _arxiv(path[len(prefix) :])
        return None
    if host in ("alphaxiv.org", "www.alphaxiv.org"):
        for prefix in ("abs/", "overview/", "pdf/"):
            if path.startswith(prefix):
                return _arxiv(path[len(prefix) :])
        return None
    if host == "huggingface.co" and path.startswith("papers/"):
        return _arxiv(path[len("papers/") :])
    if host in DOI_HOSTS:
        return doi_link(path)
    if host in ("openreview.net", "www.openreview.net") and path in ("forum", "pdf"):
        ids = parse_qs(parts.query).get("id", [])
        if ids and _OPENREVIEW_ID.match(ids[0]):
            return PaperLink(f"openreview:{ids[0]}")
        return None
    if host in ("aclanthology.org", "www.aclanthology.org"):
        found = path.removesuffix(".pdf")
        return PaperLink(f"acl:{found}") if _ACL_ID.match(found) else None
    if host in ("aclweb.org", "www.aclweb.org") and path.startswith("anthology/"):
        found = path[len("anthology/") :].removesuffix(".pdf").rsplit("/", 1)[-1]
        return PaperLink(f"acl:{found}") if _ACL_ID.match(found) else None
    return None


def url_paper_key(url: str) -> str | None:
    """The paper key of a link alone (what events keep: one chat gets a paper once)."""
    link = paper_link(url)
    return link.key if link else None


def doi_link(doi: str) -> PaperLink | None:
    """A DOI as a paper's key (arXiv's DataCite DOIs are the arXiv paper)."""
    doi = doi.strip()
    if not is_doi(doi) or len(doi) > 300:
        return None
    if match := _ARXIV_DOI.match(doi):
        return _arxiv(match[1])
    return PaperLink(f"doi:{doi.lower()}")


def keys_of(url: str, card: Card | None) -> list[str]:
    """Every key an entry's link and its card give its paper (none: not a paper)."""
    keys = []
    if (link := paper_link(url)) is not None:
        keys.append(link.key)
    if card is not None:  # its record's DOI, and its other versions' (Crossref relations)
        for doi in (card.doi, *card.related):
            if doi and (by_doi := doi_link(doi)) is not None:
                keys.append(by_doi.key)
    if keys and keys[0].startswith("arxiv:"):  # its DataCite DOI names it too
        keys.append(f"doi:10.48550/arxiv.{keys[0].removeprefix('arxiv:').lower()}")
    return list(dict.fromkeys(keys))


def _doi_of(keys: Sequence[str]) -> str | None:
    """The DOI to show: a published one, else arXiv's DataCite DOI in its usual case."""
    dois = [k.removeprefix("doi:") for k in keys if k.startswith("doi:")]
    published = [d for d in dois if not d.startswith("10.48550/")]
    if published:
        return published[0]
    arxiv = next((k.removeprefix("arxiv:") for k in keys if k.startswith("arxiv:")), None)
    return f"10.48550/arXiv.{arxiv}" if arxiv else (dois[0] if dois else None)


def best_key(keys: Iterable[str]) -> str:
    """The key a paper is known by: arXiv first (the id readers quote), then DOI, …"""
    return min(keys, key=lambda k: (_PREFERRED.index(k.split(":", 1)[0]), k))


@dataclass
class Paper:
    """One paper and every entry, of every list, that points at it."""

    key: str
    keys: list[str]
    entries: list[StoredEntry] = field(default_factory=list)

    @property
    def card(self) -> Card | None:
        cards = [e.card for e in self.entries if e.card is not None]
        # A paper's record (arXiv, Crossref, a publisher's page) over a repository's.
        return next((c for c in cards if c.source != "github"), cards[0] if cards else None)

    @property
    def title(self) -> str:
        card = self.card
        return card.title if card and card.title else self.entries[0].entry.title

    @property
    def year(self) -> str:
        card = self.card
        return card.published[:4] if card and card.published[:4].isdigit() else ""

    @property
    def arxiv(self) -> str:
        return next((k.removeprefix("arxiv:") for k in self.keys if k.startswith("arxiv:")), "")

    @property
    def doi(self) -> str:
        """The published DOI (arXiv's own DataCite DOI only when there is no other)."""
        return _doi_of(self.keys) or ""

    def versions(self) -> list[str]:
        found = {link.version for e in self.entries if (link := paper_link(e.entry.url))}
        return sorted(v for v in found if v)

    def places(self) -> list[tuple[str, str]]:
        """(list, section label) of every entry that holds it."""
        return list(
            dict.fromkeys((e.list, section_label(e.entry.all_sections)) for e in self.entries)
        )

    def to_json(self) -> dict[str, Any]:
        card = self.card
        return {
            "key": self.key,
            "title": self.title,
            "authors": list(card.authors) if card else [],
            "year": self.year,
            "venue": card.venue if card else "",
            "arxiv": self.arxiv or None,
            "doi": self.doi or None,
            "links": list(dict.fromkeys(e.entry.url for e in self.entries)),
            "in": [{"list": name, "section": section} for name, section in self.places()],
            "versions": self.versions(),
        }


def group(entries: Sequence[StoredEntry]) -> list[Paper]:
    """The papers among entries, each once with every entry that points at it (keys joined
    through shared keys: an arXiv link and its published DOI are one paper), in the order of
    their first entry."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    keyed = []
    for stored in entries:
        keys = keys_of(stored.entry.url, stored.card)
        if keys:
            keyed.append((stored, keys))
            for key in keys[1:]:
                parent[find(key)] = find(keys[0])
    papers: dict[str, Paper] = {}
    for stored, keys in keyed:
        root = find(keys[0])
        paper = papers.setdefault(root, Paper(root, []))
        paper.entries.append(stored)
        paper.keys = list(dict.fromkeys([*paper.keys, *keys]))
    for paper in papers.values():
        paper.key = best_key(paper.keys)
    return list(papers.values())


def collapse(results: Sequence[StoredEntry]) -> list[tuple[StoredEntry, list[StoredEntry]]]:
    """Results with each paper once: its best-ranked entry, and the other entries (other
    lists, other sections) that point at the same paper."""
    papers = group(results)
    firsts = {id(paper.entries[0]): paper for paper in papers}
    later = {id(e) for paper in papers for e in paper.entries[1:]}
    return [
        (result, firsts[id(result)].entries[1:] if id(result) in firsts else [])
        for result in results
        if id(result) not in later
    ]


def also_json(others: Sequence[StoredEntry]) -> list[dict[str, str]]:
    """Where else a result's paper stands: list, section and link of each."""
    return [
        {"list": o.list, "section": section_label(o.entry.all_sections), "url": o.entry.url}
        for o in others
    ]


FOLLOW_UPS = ("revised", "published", "code")


def _version_number(version: str) -> int:
    return int(version[1:]) if version[1:].isdigit() else 0


def follow_ups(old: Card | None, new: Card | None) -> list[tuple[str, str, dict[str, str]]]:
    """What changed for a paper between two of its records: (kind, value, detail) for a new
    arXiv version ("revised"), a published version's DOI or journal ("published"), a code
    repository ("code"). Never from a first record: a paper first seen at v3 is not revised."""
    if old is None or new is None or new.source == "github":
        return []
    found: list[tuple[str, str, dict[str, str]]] = []
    if _version_number(new.version) > _version_number(old.version) > 0:
        detail = {"version": new.version, "date": new.updated, "comment": new.comment}
        found.append(("revised", new.version, detail))
    published = new.doi and not new.doi.lower().startswith("10.48550/")
    if published and new.doi.lower() != old.doi.lower():
        found.append(("published", new.doi.lower(), {"doi": new.doi, "venue": new.venue}))
    if new.code and new.code != old.code and not old.code:
        found.append(("code", new.code, {"url": new.code}))
    return found


def coins(url: str, card: Card | None) -> str:
    """The OpenURL ContextObject (COinS, Z39.88-2004) of a paper with a card, as a query
    string; "" when it is not a paper with a record. A reference manager's browser connector
    (Zotero's) finds these in a page and offers to save the papers."""
    if card is None or card.source == "github" or not card.title:
        return ""
    fields: list[tuple[str, str]] = [
        ("ctx_ver", "Z39.88-2004"),
        ("rft_val_fmt", "info:ofi/fmt:kev:mtx:journal"),
        ("rft.genre", "article"),
        ("rft.atitle", card.title),
    ]
    fields += [("rft.au", name) for name in card.authors[:20]]
    if card.published[:4].isdigit():
        fields.append(("rft.date", card.published[:10]))
    if card.venue and card.source != "arxiv":
        fields.append(("rft.jtitle", card.venue))
    paper = paper_json(url, card)
    if paper and paper["doi"]:
        fields.append(("rft_id", f"info:doi/{paper['doi']}"))
    fields.append(("rft_id", url))
    return urlencode(fields)


def paper_json(url: str, card: Card | None) -> dict[str, Any] | None:
    """The `paper` object of one entry in the JSON outputs (null when it is not a paper)."""
    keys = keys_of(url, card)
    if not keys:
        return None
    link = paper_link(url)
    arxiv = next((k.removeprefix("arxiv:") for k in keys if k.startswith("arxiv:")), None)
    doi = _doi_of(keys)
    return {
        "key": best_key(keys),
        "arxiv": arxiv,
        "doi": doi,
        "version": link.version if link and link.version else None,
    }
