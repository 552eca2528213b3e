"""Events → Atom documents. The only user of feedgen.

Entry ids are tag: URIs built from the list name, the entry's identity, the event kind and the
event's number among that entry's events of that kind: they survive re-syncs, rebuilding the
database and reordering the list. Nothing here reads the clock, so the same events render the
same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from .models import FeedEvent, FollowUp
from .papers import paper_json
from .present.links import Format, Period, commit_url, doi_url
from .present.view import EntryView, attr_html, linked_html, section_label, text_html
from .untrusted import xml_safe
from .urls import safe_link

EPOCH = "1970-01-01T00:00:00+00:00"
_TAG = "tag:dltbot,2026:"
_HISTORY_NS = "http://purl.org/syndication/history/1.0"
_ATOM_NS = "http://www.w3.org/2005/Atom"
_DC_NS = "http://purl.org/dc/elements/1.1/"
_PRISM_NS = "http://prismstandard.org/namespaces/basic/2.0/"
_VERBS = {
    "added": "Added",
    "changed": "Changed",
    "moved": "Moved",
    "removed": "Removed",
    "restored": "Restored",
}


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One Atom entry, ready to render."""

    id: str
    title: str
    link: str | None
    content_html: str
    published: str
    updated: str
    author: str  # the committer: the entry's author, or its contributor when it is a paper's
    categories: tuple[str, ...] = ()
    # A paper's record, for reference managers (Zotero's feed reader reads these): its own
    # authors (each an <author>), its abstract (the summary), venue, date and DOI.
    authors: tuple[str, ...] = ()
    abstract: str = ""
    venue: str = ""
    paper_date: str = ""
    doi: str = ""


@dataclass(frozen=True, slots=True)
class FeedDoc:
    """One Atom document: a live feed or one of its RFC 5005 archive pages."""

    id: str
    title: str
    subtitle: str
    self_url: str
    alternate_url: str
    items: Sequence[FeedItem]
    current_url: str | None = None  # archives point to the live document
    prev_archive_url: str | None = None
    next_archive_url: str | None = None
    archive: bool = False
    since: str = EPOCH  # an empty feed's date: when its list (the first list) was followed
    hub: str | None = None  # the WebSub hub readers may subscribe through (live documents)

    @property
    def updated(self) -> str:
        """The newest entry's `updated` (the feed's own), or `since` for an empty feed."""
        return max(
            (_parse(item.updated) for item in self.items), default=_parse(self.since)
        ).isoformat()


def tag_id(*parts: str) -> str:
    """Return a tag: URI from stable parts (each percent-encoded where a tag URI needs it)."""
    return _TAG + ":".join(quote(part, safe="/?@!$&'()*+,;=-._~") for part in parts)


def event_item(event: FeedEvent) -> FeedItem:
    """Return the feed entry of one event."""
    entry = event.entry
    parts = [event.list, event.kind, entry.identity]
    if event.seq > 1:
        parts.append(str(event.seq))
    commit_link = commit_url(event.repo, event.commit.sha)
    summary = text_html(event.commit.summary or event.commit.sha[:12])
    if commit_link:
        summary = f'<a href="{attr_html(commit_link)}">{summary}</a>'
    content = []
    if entry.description:
        content.append(f"<p>{linked_html(entry.description, entry.text_links)}</p>")
    if event.kind in ("added", "restored"):
        # What the link is: authors, abstract, date, PDF and code. A card that arrives later
        # changes the content but not `updated`: the entry does not become unread again.
        content.append(EntryView(entry, event.card, event.link).card_html())
    if entry.section:
        content.append(f"<p>{text_html(' › '.join(entry.section))}</p>")
    content.append(f"<p>{_VERBS[event.kind]} in {summary} by {text_html(event.commit.author)}</p>")
    title = entry.title if event.kind == "added" else f"{_VERBS[event.kind]}: {entry.title}"
    card = event.card if event.kind in ("added", "restored") else None
    paper = paper_json(entry.url, card) if card is not None else None
    return FeedItem(
        id=tag_id(*parts),
        title=title,
        link=safe_link(entry.url),
        content_html="".join(content),
        published=event.commit.date,
        updated=event.updated,
        author=event.commit.author or "unknown",
        categories=(section_label([entry.section]),) if entry.section else (),
        authors=card.authors[:100] if card and card.source != "github" else (),
        abstract=card.abstract if card and card.source != "github" else "",
        venue=card.venue if card and card.source not in ("github", "arxiv") else "",
        paper_date=card.published if card and card.source != "github" else "",
        doi=(paper or {}).get("doi") or "",
    )


_NEWS = {"revised": "New version", "published": "Published", "code": "Code"}


def follow_up_item(news: FollowUp) -> FeedItem:
    """The feed entry of a paper's news (its id is the news', stable across renders)."""
    detail = news.detail
    if news.kind == "revised":
        said = f"{news.value}" + (f" ({detail.get('date')})" if detail.get("date") else "")
        extra = detail.get("comment") or ""
        link = safe_link(news.url)
    elif news.kind == "published":
        said = " · ".join(p for p in (detail.get("venue") or "", f"DOI {news.value}") if p)
        extra = ""
        link = safe_link(doi_url(news.value)) or safe_link(news.url)
    else:
        said, extra, link = news.value, "", safe_link(news.value) or safe_link(news.url)
    content = f"<p>{text_html(_NEWS[news.kind])}: {text_html(said)}</p>"
    if extra:
        content += f"<p>{text_html(extra)}</p>"
    if paper := safe_link(news.url):
        content += f'<p><a href="{attr_html(paper)}">{text_html(news.title)}</a></p>'
    return FeedItem(
        id=tag_id(news.list, "news", news.kind, news.identity, news.value),
        title=f"{_NEWS[news.kind]}: {news.title}",
        link=link,
        content_html=content,
        published=news.found_at,
        updated=news.found_at,
        author="dltbot",
        categories=(news.kind,),
    )


def digest_items(
    list_name: str, events: Iterable[FeedEvent], period: Period, limit: int, page_url: str
) -> list[FeedItem]:
    """Return one entry per day or week (UTC) listing that period's additions, newest first."""
    groups: dict[str, list[FeedEvent]] = {}
    for event in events:
        groups.setdefault(period_key(event.commit.date, period), []).append(event)
    items = []
    for key in sorted(groups, reverse=True)[:limit]:
        group = sorted(groups[key], key=lambda e: e.id)
        lines = []
        for event in group:
            link = safe_link(event.entry.url)
            title = text_html(event.entry.title)
            if link:
                title = f'<a href="{attr_html(link)}">{title}</a>'
            section = section_label([event.entry.section])
            authors = EntryView(event.entry, event.card).authors()
            lines.append(
                f"<li>{title}"
                + (f" — {text_html(authors)}" if authors else "")
                + (f" — {text_html(section)}" if section else "")
                + "</li>"
            )
        when = f"on {key}" if period == "daily" else f"in week {key}"
        count = f"{len(group)} new entr{'y' if len(group) == 1 else 'ies'}"
        items.append(
            FeedItem(
                id=tag_id(list_name, period, key),
                title=f"{list_name}: {count} {when}",
                link=page_url,
                content_html=f"<ul>{''.join(lines)}</ul>",
                published=min((e.commit.date for e in group), key=_parse),
                updated=max((e.updated for e in group), key=_parse),
                author=", ".join(dict.fromkeys(e.commit.author for e in group)),
            )
        )
    return items


def period_key(date: str, period: Period) -> str:
    """Return the UTC day (2024-05-01) or ISO week (2024-W18) a commit date falls in."""
    moment = _parse(date)
    if period == "daily":
        return moment.date().isoformat()
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def render_atom(doc: FeedDoc) -> bytes:
    """Return the Atom XML of a document.

    Text was cleaned at ingest (untrusted.py); xml_safe here again keeps a database written
    before that from breaking every feed for good.
    """
    generator = FeedGenerator()
    generator.id(doc.id)
    generator.title(xml_safe(doc.title))
    generator.subtitle(doc.subtitle)
    generator.author({"name": "dltbot"})
    generator.link(href=doc.self_url, rel="self", type="application/atom+xml")
    generator.link(href=doc.alternate_url, rel="alternate", type="text/html")
    if doc.hub:
        generator.link(href=doc.hub, rel="hub")
    if not doc.archive:  # the same entries as RSS 2.0 and JSON Feed
        for fmt, kind in _ALTERNATES:
            generator.link(href=format_url(doc.self_url, fmt), rel="alternate", type=kind)
    for rel, href in (
        ("current", doc.current_url),
        ("prev-archive", doc.prev_archive_url),
        ("next-archive", doc.next_archive_url),
    ):
        if href:
            generator.link(href=href, rel=rel, type="application/atom+xml")
    generator.updated(doc.updated)
    generator.generator("dltbot", uri="https://pypi.org/project/dltbot/")
    if doc.archive:
        generator.register_extension("history", _ArchiveExtension, atom=True, rss=False)
    generator.register_extension("paper", _PaperNamespaces, _PaperFields)
    for item in doc.items:
        entry = generator.add_entry(order="append")
        entry.id(xml_safe(item.id))
        entry.title(xml_safe(item.title))
        if item.link:
            entry.link(href=xml_safe(item.link), rel="alternate")
        entry.content(xml_safe(item.content_html), type="html")
        entry.published(_valid_date(item.published))
        entry.updated(_valid_date(item.updated))
        committer = {"name": xml_safe(item.author) or "unknown"}
        if item.authors:  # a paper: its authors are the entry's, the committer contributed
            for name in item.authors:
                entry.author({"name": xml_safe(name)})
            entry.contributor(committer)
        else:
            entry.author(committer)
        if item.abstract:
            entry.summary(xml_safe(item.abstract))
        for category in item.categories:
            entry.category(term=xml_safe(category))
        entry.paper.item = item
    data: bytes = generator.atom_str(pretty=True)
    return data


def format_url(url: str, fmt: Format) -> str:
    """Return the URL of a document in another format: …/feed.atom?q=x → …/feed.rss?q=x."""
    path, mark, query = url.partition("?")
    return path.removesuffix(".atom") + f".{fmt}" + mark + query


_ALTERNATES: tuple[tuple[Format, str], ...] = (
    ("rss", "application/rss+xml"),
    ("json", "application/feed+json"),
)


def render(doc: FeedDoc, fmt: Format) -> bytes:
    """Return a document as Atom, RSS 2.0 or JSON Feed 1.1: the same entries, the same ids."""
    if fmt == "rss":
        return render_rss(doc)
    if fmt == "json":
        return render_json(doc)
    return render_atom(doc)


def render_rss(doc: FeedDoc) -> bytes:
    """Return the RSS 2.0 form of a live document (guids are the Atom ids, not permalinks)."""
    generator = FeedGenerator()
    generator.title(xml_safe(doc.title))
    generator.description(xml_safe(doc.subtitle))
    # In this order: feedgen makes the last link it is given the channel's <link> (the page).
    generator.link(href=format_url(doc.self_url, "rss"), rel="self")
    generator.link(href=doc.alternate_url, rel="alternate")
    if doc.hub:  # feedgen would make any other link the channel's <link>
        generator.register_extension("websub", _HubExtension, atom=False, rss=True)
        generator.websub.href = doc.hub
    generator.lastBuildDate(doc.updated)
    generator.generator("dltbot", uri="https://pypi.org/project/dltbot/")
    generator.register_extension("paper", _PaperNamespaces, _PaperFields)
    for item in doc.items:
        entry = generator.add_entry(order="append")
        entry.paper.item = item
        entry.guid(xml_safe(item.id), permalink=False)
        entry.title(xml_safe(item.title))
        if item.link:
            entry.link(href=xml_safe(item.link))
        entry.description(xml_safe(item.content_html))
        entry.pubDate(_valid_date(item.published))
        for category in item.categories:
            entry.category(term=xml_safe(category))
    data: bytes = generator.rss_str(pretty=True)
    return data


def render_json(doc: FeedDoc) -> bytes:
    """Return the JSON Feed 1.1 form of a live document."""
    items = []
    for item in doc.items:
        entry: dict[str, Any] = {"id": item.id, "title": item.title}
        if item.link:
            entry["url"] = item.link
        entry["content_html"] = item.content_html
        entry["date_published"] = _parse(item.published).isoformat()
        entry["date_modified"] = _parse(item.updated).isoformat()
        entry["authors"] = [{"name": name} for name in item.authors or (item.author,)]
        if item.abstract:
            entry["summary"] = item.abstract
        if item.authors or item.doi:  # the paper's record (a JSON Feed extension)
            entry["_paper"] = {
                "doi": item.doi or None,
                "venue": item.venue or None,
                "date": item.paper_date or None,
                "committer": item.author,
            }
        if item.categories:
            entry["tags"] = list(item.categories)
        items.append(entry)
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": doc.title,
        "home_page_url": doc.alternate_url,
        "feed_url": format_url(doc.self_url, "json"),
        "description": doc.subtitle,
        "items": items,
    }
    if doc.hub:
        feed["hubs"] = [{"type": "WebSub", "url": doc.hub}]
    return json.dumps(feed, ensure_ascii=False, indent=1).encode() + b"\n"


class _HubExtension(BaseExtension):  # type: ignore[misc]
    """RSS 2.0 `<atom:link rel="hub">` (WebSub), beside feedgen's `rel="self"` one."""

    href = ""

    def extend_rss(self, feed: Any) -> Any:
        channel = feed[0]
        link = etree.SubElement(channel, f"{{{_ATOM_NS}}}link")
        link.set("href", self.href)
        link.set("rel", "hub")
        return feed


class _PaperNamespaces(BaseExtension):  # type: ignore[misc]
    """The namespaces of a paper's fields (Dublin Core, PRISM), declared once per feed."""

    def extend_ns(self) -> dict[str, str]:
        return {"dc": _DC_NS, "prism": _PRISM_NS}


class _PaperFields(BaseEntryExtension):  # type: ignore[misc]
    """A paper's DOI (`dc:identifier`), venue and date (`prism:publicationName`,
    `prism:publicationDate`), and in RSS its authors (`dc:creator`, one each)."""

    item: FeedItem | None = None

    def _extend(self, entry: Any, rss: bool) -> Any:
        item = self.item
        if item is None:
            return entry
        if rss:
            for name in item.authors:
                etree.SubElement(entry, f"{{{_DC_NS}}}creator").text = xml_safe(name)
        if item.doi:
            etree.SubElement(entry, f"{{{_DC_NS}}}identifier").text = f"doi:{xml_safe(item.doi)}"
        if item.venue:
            etree.SubElement(entry, f"{{{_PRISM_NS}}}publicationName").text = xml_safe(item.venue)
        if item.paper_date:
            date = xml_safe(item.paper_date)
            etree.SubElement(entry, f"{{{_PRISM_NS}}}publicationDate").text = date
        return entry

    def extend_atom(self, entry: Any) -> Any:
        return self._extend(entry, rss=False)

    def extend_rss(self, entry: Any) -> Any:
        return self._extend(entry, rss=True)


class _ArchiveExtension(BaseExtension):  # type: ignore[misc]
    """RFC 5005 `<fh:archive/>`: this document is an archive, its entries will not change."""

    def extend_ns(self) -> dict[str, str]:
        return {"fh": _HISTORY_NS}

    def extend_atom(self, feed: Any) -> Any:
        etree.SubElement(feed, f"{{{_HISTORY_NS}}}archive")
        return feed


def _valid_date(date: str) -> str:
    """Return a stored date as is, or read leniently if it is impossible (+99:59)."""
    try:
        datetime.fromisoformat(date).isoformat()
    except ValueError:
        return _parse(date).isoformat()
    return date


def _parse(date: str) -> datetime:
    try:
        moment = datetime.fromisoformat(date)
    except ValueError:  # an impossible offset (+99:59) stored before ingest clamped dates
        try:
            moment = datetime.fromisoformat(date[:19])
        except ValueError:
            moment = datetime.fromisoformat(EPOCH)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
