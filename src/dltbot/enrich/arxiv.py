"""arXiv papers: ids from abs/pdf URLs, metadata from the arXiv API in batches.

arXiv asks for at most one request every three seconds; one request carries up to
BATCH ids (`id_list`), so a list of papers costs a request or two.
"""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from urllib.parse import urlencode, urlsplit

from ..models import Card
from ..papers import ARXIV_HOSTS, arxiv_number, paper_link
from ..untrusted import clean_line
from ..urls import safe_link
from .client import Http, Response
from .doi import clean_doi

BATCH = 100
_NS = {"a": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom"}
TEXT_LIMIT = 5000


def arxiv_id(url: str) -> str | None:
    """Return the paper id (no version) of an arXiv abs, pdf or html URL (the ones the arXiv
    API is asked about; papers.paper_link reads every spelling)."""
    parts = urlsplit(url)
    if parts.hostname not in ARXIV_HOSTS:
        return None
    path = parts.path.strip("/")
    for prefix in ("abs/", "pdf/", "html/"):
        if path.startswith(prefix):
            number = arxiv_number(path[len(prefix) :])
            return number[0] if number else None
    return None


async def fetch(http: Http, api: str, ids: list[str]) -> tuple[dict[str, Card], Response | None]:
    """Return the cards of the ids arXiv knows (absent ids: no such paper) and the last
    response; a failed request leaves the dict empty and the response says why."""
    cards: dict[str, Card] = {}
    last: Response | None = None
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        query = urlencode({"id_list": ",".join(batch), "max_results": len(batch)})
        last = await http.get(f"{api}?{query}", trusted=True, max_size=20_000_000)
        if last.status != 200:
            return {}, last
        try:
            cards.update(await asyncio.to_thread(parse, last.body))  # off the event loop
        except ET.ParseError as error:
            last.status, last.error, last.error_kind = None, f"arXiv API: {error}", "other"
            return {}, last
    return cards, last


def parse(body: bytes) -> dict[str, Card]:
    """Read an arXiv API Atom answer into cards by paper id."""
    root = ET.fromstring(body)
    cards = {}
    for entry in root.findall("a:entry", _NS):
        entry_id = (entry.findtext("a:id", "", _NS) or "").strip()
        found = arxiv_id(entry_id)
        title = _text(entry.findtext("a:title", "", _NS))
        if found is None or not title or title == "Error":
            continue
        pdf = next(
            (
                link.get("href")
                for link in entry.findall("a:link", _NS)
                if link.get("title") == "pdf" and (link.get("href") or "").startswith("http")
            ),
            None,
        )
        category = entry.find("arxiv:primary_category", _NS)
        journal = _text(entry.findtext("arxiv:journal_ref", "", _NS))
        comment = _text(entry.findtext("arxiv:comment", "", _NS), 1000)
        abstract = _text(entry.findtext("a:summary", "", _NS), TEXT_LIMIT)
        link = paper_link(entry_id)  # …/abs/2404.19756v3: its latest version
        venue = journal or (category.get("term", "") if category is not None else "")
        cards[found] = Card(
            source="arxiv",
            title=title,
            authors=tuple(
                name
                for author in entry.findall("a:author", _NS)
                if (name := _text(author.findtext("a:name", "", _NS), 200))
            )[:100],
            abstract=abstract,
            published=_text(entry.findtext("a:published", "", _NS))[:10],
            venue=clean_line(venue, 200),
            pdf=pdf,
            doi=clean_doi(entry.findtext("arxiv:doi", "", _NS) or ""),
            # Its code, when the comment or the abstract names a repository.
            code=code_link(f"{comment} {abstract}"),
            version=link.version if link else "",
            updated=_text(entry.findtext("a:updated", "", _NS))[:10],
            comment=comment,
        )
    return cards


# A code repository named in free text (an arXiv comment, an abstract): plain text, not HTML.
_CODE = re.compile(r"https?://(?:www\.)?(?:github\.com|gitlab\.com)/[\w.-]+/[\w.-]+")


def code_link(text: str) -> str | None:
    """The first GitHub or GitLab repository a text links, as a plain https URL."""
    match = _CODE.search(text)
    if match is None:
        return None
    url = match[0].rstrip(".").removesuffix(".git")
    return safe_link(url.replace("http://", "https://", 1), ("https",))


def _text(value: str | None, limit: int = 1000) -> str:
    return clean_line(value or "", limit)
