"""Any other page: metadata from Highwire `citation_*` tags, JSON-LD, OpenGraph, then
`<title>` and the description, read with selectolax (never regexes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from ..models import Card
from ..untrusted import clean_line
from ..urls import safe_link
from .doi import clean_doi

HTML_TYPES = ("text/html", "application/xhtml+xml")
_ARTICLE_TYPES = {"scholarlyarticle", "article", "blogposting", "newsarticle", "techarticle",
                  "creativework", "report", "webpage"}  # fmt: skip


def is_html(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in HTML_TYPES


def card_from_html(body: bytes, url: str, content_type: str = "") -> Card | None:
    """Return what the page says of itself, or None when it says nothing useful. The
    charset is the Content-Type's, else the page's own (an unknown name is ignored)."""
    tree = HTMLParser(_decode(body, content_type.partition("charset=")[2].strip(" \"';")))
    meta: dict[str, list[str]] = {}
    for node in tree.css("meta"):
        key = (node.attributes.get("name") or node.attributes.get("property") or "").lower()
        value = node.attributes.get("content")
        if key and value:
            meta.setdefault(key.strip(), []).append(value)
    ld = _json_ld(tree)

    def first(*keys: str) -> str:
        for key in keys:
            for value in meta.get(key, []):
                if value.strip():
                    return value
        return ""

    title = first("citation_title", "dc.title") or _ld_text(ld.get("headline") or ld.get("name"))
    title = title or first("og:title", "twitter:title")
    if not title and (title_node := tree.css_first("title")) is not None:
        title = title_node.text()
    authors = meta.get("citation_author") or meta.get("dc.creator") or _ld_authors(ld)
    if not authors and (author := first("author", "article:author")):
        authors = [author]
    abstract = first("citation_abstract", "dc.description") or _ld_text(ld.get("description"))
    abstract = abstract or first("og:description", "description", "twitter:description")
    published = (
        first("citation_publication_date", "citation_date", "citation_online_date", "dc.date")
        or _ld_text(ld.get("datePublished"))
        or first("article:published_time")
    )
    venue = first(
        "citation_journal_title", "citation_conference_title", "citation_publisher", "og:site_name"
    )
    pdf = first("citation_pdf_url")
    doi = clean_doi(first("citation_doi", "dc.identifier", "prism.doi"))
    card = Card(
        source="page",
        title=clean_line(title, 1000),
        authors=tuple(a for a in (clean_line(a, 200) for a in authors[:100]) if a),
        abstract=clean_line(abstract, 5000),
        published=_date(clean_line(published, 40)),
        venue=clean_line(venue, 300),
        pdf=safe_link(urljoin(url, pdf.strip()), ("http", "https")) if pdf else None,
        doi=doi,
    )
    return card if card.title or card.abstract else None


def _decode(body: bytes, charset: str = "") -> str:
    """Decode as the header's charset, else as the page's <meta charset> says (GBK pages are
    common in the seed list), else as UTF-8."""
    if charset:
        try:
            return body.decode(charset, errors="replace")
        except (LookupError, ValueError):  # a name Python does not know, or a codec such as
            pass  # idna that fails whatever `errors` says (UnicodeError is a ValueError)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    head = HTMLParser(body[:8192].decode("latin-1"))
    for node in head.css("meta"):
        charset = node.attributes.get("charset") or ""
        if not charset and (node.attributes.get("http-equiv") or "").lower() == "content-type":
            charset = (node.attributes.get("content") or "").partition("charset=")[2]
        charset = charset.strip(" \"';")
        if charset:
            try:
                return body.decode(charset, errors="replace")
            except (LookupError, ValueError):
                break
    return body.decode("utf-8", errors="replace")


def _json_ld(tree: HTMLParser) -> dict[str, Any]:
    """The first JSON-LD object that describes an article or page."""
    for node in tree.css('script[type="application/ld+json"]'):
        try:
            data = json.loads(node.text() or "")
        except (ValueError, RecursionError):  # malformed, or nested beyond the parser
            continue
        for item in _objects(data):
            kinds = item.get("@type")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            if any(isinstance(k, str) and k.lower() in _ARTICLE_TYPES for k in kinds):
                return item
    return {}


def _objects(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 3:
        return
    if isinstance(data, list):
        for item in data[:50]:
            yield from _objects(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        yield from _objects(data.get("@graph"), depth + 1)


def _ld_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _ld_authors(ld: dict[str, Any]) -> list[str]:
    found = ld.get("author")
    found = found if isinstance(found, list) else [found]
    names = []
    for author in found[:100]:
        if isinstance(author, str):
            names.append(author)
        elif isinstance(author, dict) and isinstance(author.get("name"), str):
            names.append(author["name"])
    return names


def _date(value: str) -> str:
    """An ISO date (or the date part of a timestamp); "2021/03/04" becomes 2021-03-04."""
    value = value.replace("/", "-")
    head = value[:10]
    if len(head) >= 4 and head[:4].isdigit():
        return head if len(head) == 10 and head[4] == "-" else head[:4]
    return ""
