"""DOIs: metadata from Crossref's REST API (`/works/{doi}`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from ..models import Card
from ..papers import DOI_HOSTS, is_doi
from ..untrusted import clean_line
from ..urls import safe_link


def doi_of(url: str) -> str | None:
    """Return the DOI of a doi.org URL."""
    parts = urlsplit(url)
    if parts.hostname not in DOI_HOSTS:
        return None
    doi = unquote(parts.path.lstrip("/"))
    return doi if is_doi(doi) else None


def clean_doi(value: str) -> str:
    """A DOI as pages write it ("doi:10.1/x", "https://doi.org/10.1/x"), or "" if not one."""
    value = value.strip()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        if value.lower().startswith(prefix):
            value = value[len(prefix) :]
    return value if is_doi(value) and len(value) <= 300 else ""


def works_url(api: str, doi: str) -> str:
    """Crossref's record of a DOI; the DOI is one path segment ("/" and ".." encoded: a DOI
    from a page is untrusted and must not walk the API's paths)."""
    return f"{api}/works/{quote(doi, safe='')}"


def card_from_crossref(body: bytes) -> Card | None:
    """Read a Crossref /works/{doi} answer."""
    try:
        data: Any = json.loads(body)
    except (ValueError, RecursionError):
        return None
    work = data.get("message") if isinstance(data, dict) else None
    if not isinstance(work, dict):
        return None
    title = _first(work.get("title"))
    if not title:
        return None
    authors = []
    for person in work.get("author") or []:
        if isinstance(person, dict):
            name = " ".join(str(person.get(k) or "") for k in ("given", "family")).strip()
            if name := clean_line(name or str(person.get("name") or ""), 200):
                authors.append(name)
    abstract = str(work.get("abstract") or "")
    if "<" in abstract:  # JATS XML: its text only
        abstract = HTMLParser(abstract).text(separator=" ")
    pdf = None
    for link in work.get("link") or []:
        if isinstance(link, dict) and link.get("content-type") == "application/pdf":
            pdf = safe_link(str(link.get("URL") or ""), ("http", "https"))
            break
    return Card(
        source="doi",
        title=clean_line(title, 1000),
        authors=tuple(authors[:100]),
        abstract=clean_line(abstract, 5000),
        published=_date(work),
        venue=clean_line(_first(work.get("container-title")), 300),
        pdf=pdf,
        doi=clean_doi(str(work.get("DOI") or "")),
        related=_versions(work.get("relation")),
    )


def _versions(relation: Any) -> tuple[str, ...]:
    """DOIs of the same work in another version, as Crossref relates them: its preprint
    (`has-preprint`, often arXiv's 10.48550/arXiv.…) or its published version
    (`is-preprint-of`). Untrusted: DOIs only, a few."""
    if not isinstance(relation, dict):
        return ()
    found = []
    for kind in ("has-preprint", "is-preprint-of"):
        items = relation.get(kind)
        for item in items[:10] if isinstance(items, list) else []:
            if not isinstance(item, dict) or str(item.get("id-type") or "").lower() != "doi":
                continue
            if doi := clean_doi(str(item.get("id") or "")):
                found.append(doi)
    return tuple(dict.fromkeys(found))[:10]


def _first(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return value if isinstance(value, str) else ""


def _date(work: dict[str, Any]) -> str:
    for key in ("published", "published-print", "published-online", "issued"):
        parts = (work.get(key) or {}).get("date-parts") if isinstance(work.get(key), dict) else None
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            numbers = [p for p in parts[0][:3] if isinstance(p, int)]
            if numbers:
                return "-".join(f"{n:02d}" if i else f"{n:04d}" for i, n in enumerate(numbers))
    return ""
