"""What the web server and `dltbot export` serve: feeds, archives, digests, OPML, pages.

Each document is rendered once per database state: the cache is keyed by the newest event and
the lists' sync state (Storage.content_version), which a sync moves and nothing else does.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from . import page
from .config import Config
from .errors import DltbotError
from .feed import (
    EPOCH,
    FeedDoc,
    digest_items,
    event_item,
    follow_up_item,
    format_url,
    render,
    tag_id,
)
from .hold import Hold
from .models import FeedEvent, FollowUp, ListState
from .papers import also_json, collapse
from .present import paths
from .present.data import result_json
from .present.links import Format, Links, Period
from .present.view import section_label
from .query import (
    BadRequestError,
    check_words,
    fold_table,
    match_words,
    parse_page_number,
    under_section,
)
from .storage import Storage
from .untrusted import redact, shorten
from .urls import safe_link


class NotFoundError(DltbotError):
    """No such list or document."""


@dataclass(frozen=True, slots=True)
class Document:
    """A rendered response body with what HTTP caching needs."""

    body: bytes
    content_type: str
    updated: datetime | None = None  # for Last-Modified
    status: int = 200
    self_url: str | None = None  # for the Link: rel="self" header
    hub: str | None = None  # for the Link: rel="hub" header (WebSub)


ATOM = "application/atom+xml; charset=utf-8"
HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
OPML = "text/x-opml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
JSON_FEED = "application/feed+json; charset=utf-8"
BIBTEX = "application/x-bibtex; charset=utf-8"
_TYPES: dict[str, str] = {"atom": ATOM, "rss": RSS, "json": JSON_FEED}
HEALTH_NAMES = 50  # names of lists not ok that /healthz gives without ?details
# Up to this many lists, the front page shows each list's latest additions; past it, the
# latest additions of all lists and an index of the lists, LISTS_PER_PAGE a page.
FRONT_SECTIONS = 10
LISTS_PER_PAGE = 100
DESCRIPTION_SHOWN = 300  # characters of a description the static search shows (all match)


class Site:
    """Render documents from the database, each cached until the database changes."""

    def __init__(
        self,
        storage: Storage,
        config: Config,
        clock: Callable[[], datetime] | None = None,
        hold: Hold | None = None,
    ) -> None:
        # Each thread reads through its own connection (the web server renders in worker
        # threads): one slow search must not hold the connection every other request needs.
        self._main = storage
        self._owner = threading.get_ident()
        self._local = threading.local()
        self._opened: list[Storage] = []
        self._base = config.base_url()
        # Without feed.base_url, live documents link under the address each reader asked
        # (web.request_base); X-Forwarded-* count only behind a trusted proxy.
        self.fixed_base = config.feed.base_url is not None
        self.trust_proxy = config.web.trust_proxy
        self.size = config.feed.entries
        self.kinds = config.feed.kinds
        self.intervals = {source.name: source.interval_seconds for source in config.sources()}
        self.clock = clock or (lambda: datetime.now(UTC))
        # `dltbot run` holds new additions back until their cards come (up to enrich.wait).
        self.hold = hold or Hold()
        self._cache: dict[tuple[str, ...], tuple[tuple[int, str, int | None], Document]] = {}
        self._changed: dict[tuple[str, ...], tuple[bytes, datetime]] = {}
        self._lock = threading.Lock()
        self.hub = config.feed.websub_hub

    @property
    def base(self) -> str:
        """The public URL documents link under: the one a request was made to (`links_for`,
        when feed.base_url is unset), else the configured or served one."""
        asked: str | None = getattr(self._local, "base", None)
        return asked or self._base

    @base.setter
    def base(self, value: str) -> None:
        self._base = value

    @property
    def links(self) -> Links:
        """Absolute URLs under `base`."""
        return Links(self.base)

    @contextmanager
    def links_for(self, base: str | None) -> Iterator[None]:
        """Render this thread's documents with links under `base` (None: the site's own)."""
        self._local.base = base
        try:
            yield
        finally:
            self._local.base = None

    @property
    def storage(self) -> Storage:
        """This thread's connection to the database."""
        storage: Storage | None = getattr(self._local, "storage", None)
        if storage is None:
            if threading.get_ident() == self._owner:
                storage = self._main
            else:
                storage = Storage(self._main.path)
                with self._lock:
                    self._opened.append(storage)
            self._local.storage = storage
        return storage

    def close(self) -> None:
        """Close the connections the worker threads opened."""
        with self._lock:
            for storage in self._opened:
                storage.close()
            self._opened.clear()

    def _cached(self, key: tuple[str, ...], render: Callable[[], Document]) -> Document:
        # Keyed by what documents show (events, lists' state), not by any write: the bot
        # saving a search or queueing a push must not throw the feed cache away.
        version = (*self.storage.content_version(), self.hold.upto)
        key = (self.base, *key)  # links differ with the address a reader asked
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        document = self._stamp(key, render())
        with self._lock:
            if len(self._cache) > 512:
                self._cache.clear()  # query feeds are unbounded; keep memory bounded
            self._cache[key] = (version, document)
        return document

    def _stamp(self, key: tuple[str, ...], document: Document) -> Document:
        """Give a document its Last-Modified: when its bytes last changed, as this process saw
        them (first render: now). Never an entry's date: a list synced later can add entries
        dated in the past, and a reader's If-Modified-Since must still see the change."""
        digest = hashlib.sha256(document.body).digest()
        now = self.clock().replace(microsecond=0)
        with self._lock:
            seen = self._changed.get(key)
            if seen is None or seen[0] != digest:
                # Strictly later than the last stamp: a change within the same second as
                # the last one must not share its Last-Modified.
                stamp = max(now, seen[1] + timedelta(seconds=1)) if seen else now
                if len(self._changed) > 4096:
                    self._changed.clear()
                self._changed[key] = seen = (digest, stamp)
        return replace(document, updated=seen[1])

    # --- lists -------------------------------------------------------------------------

    def lists(self) -> list[ListState]:
        """Return the lists the database knows."""
        return self.storage.list_states()

    def _check_list(self, name: str | None) -> None:
        if name is not None and self.storage.list_state(name) is None:
            raise NotFoundError(f"no list named {name!r}")

    def list_url(self, name: str | None) -> str:
        """Return the path prefix of a list's documents ('' for all lists)."""
        return paths.list_prefix(name)

    # --- feeds -------------------------------------------------------------------------

    def feed(
        self,
        name: str | None,
        section: str | None = None,
        q: str | None = None,
        fmt: Format = "atom",
    ) -> Document:
        """Return the live feed of one list or all, optionally filtered by section or search,
        as Atom, RSS 2.0 or JSON Feed."""
        self._check_list(name)
        section = check_words("section", section)
        q = check_words("q", q)
        return self._cached(
            ("feed", name or "", section or "", q or "", fmt),
            lambda: self._render(self._feed(name, section, q), fmt),
        )

    def _feed(self, name: str | None, section: str | None, q: str | None) -> FeedDoc:
        identities = None
        if q is not None:
            identities = [r.entry.identity for r in self.storage.search(q, name, limit=1000)]
        events = self.storage.feed_events(
            self.kinds, name, limit=self.size, section=section, identities=identities,
            by_date=name is None, upto=self.hold.upto, paper_once=name is None,
        )  # fmt: skip
        params = {key: value for key, value in (("section", section), ("q", q)) if value}
        self_url = self.links.feed(name, section=section, q=q)
        prev_archive = None
        if not params:
            pages = self.storage.count_events(self.kinds, name, self.hold.upto) // self.size
            if pages:
                prev_archive = self._archive_url(name, pages - 1)
        title = self._title(name)
        if section:
            title += f" — {section}"
        if q:
            title += f" — search: {q}"
        doc = FeedDoc(
            id=tag_id(name or "*", "feed", *(f"{k}={v}" for k, v in params.items())),
            title=title,
            subtitle=self._subtitle(),
            self_url=self_url,
            alternate_url=self.links.page(),
            items=[event_item(event) for event in events],
            prev_archive_url=prev_archive,
            since=self._since(name),
            # Filtered feeds name no hub and are never pinged: anyone can make up such a URL,
            # and pinging each one made would let anonymous requests multiply our outbound
            # traffic. A reader of one polls it (a 304 costs nothing); see README, WebSub.
            hub=None if params else self.hub,
        )
        return doc

    def _since(self, name: str | None) -> str:
        """When the list (for all lists: the first one) was first followed."""
        dates = [s.created_at for s in self.lists() if s.created_at and name in (None, s.name)]
        return min(dates, key=datetime.fromisoformat) if dates else EPOCH

    def archive(self, name: str | None, number: int) -> Document:
        """Return an RFC 5005 archive page: the number-th block of events, oldest first."""
        self._check_list(name)
        return self._cached(
            ("archive", name or "", str(number)), lambda: self._archive(name, number)
        )

    def _archive(self, name: str | None, number: int) -> Document:
        pages = self.storage.count_events(self.kinds, name, self.hold.upto) // self.size
        if not 0 <= number < pages:
            raise NotFoundError(f"no archive page {number}")
        events = self.storage.feed_events(
            self.kinds, name, limit=self.size, offset=number * self.size, newest_first=False,
            upto=self.hold.upto,
        )  # fmt: skip
        doc = FeedDoc(
            id=tag_id(name or "*", "archive", str(number)),
            title=f"{self._title(name)} — archive {number + 1} of {pages}",
            subtitle=self._subtitle(),
            self_url=self._archive_url(name, number),
            alternate_url=self.links.page(),
            items=[event_item(event) for event in reversed(events)],
            current_url=self.links.feed(name),
            prev_archive_url=self._archive_url(name, number - 1) if number else None,
            next_archive_url=self._archive_url(name, number + 1) if number + 1 < pages else None,
            archive=True,
        )
        return self._render(doc, "atom")

    def _archive_url(self, name: str | None, number: int) -> str:
        return self.links.archive(name, number)

    def archive_count(self, name: str | None) -> int:
        """Return how many archive pages a feed has."""
        return self.storage.count_events(self.kinds, name, self.hold.upto) // self.size

    def digest(self, name: str, period: Period, fmt: Format = "atom") -> Document:
        """Return the daily or weekly digest of a list's additions."""
        self._check_list(name)
        return self._cached(
            ("digest", name, period, fmt), lambda: self._render(self._digest(name, period), fmt)
        )

    def _digest(self, name: str, period: Period) -> FeedDoc:
        events = self.storage.feed_events(["added"], name, limit=1_000_000, upto=self.hold.upto)
        page_url = self.links.list_page(name)
        doc = FeedDoc(
            id=tag_id(name, period),
            title=f"{self._title(name)} — {period} digest",
            subtitle=self._subtitle(),
            self_url=self.links.digest(name, period),
            alternate_url=page_url,
            items=digest_items(name, events, period, self.size, page_url),
            since=self._since(name),
            hub=self.hub,
        )
        return doc

    def _render(self, doc: FeedDoc, fmt: Format) -> Document:
        updated = datetime.fromisoformat(doc.updated)
        return Document(
            render(doc, fmt), _TYPES[fmt], updated, self_url=format_url(doc.self_url, fmt),
            hub=doc.hub,
        )  # fmt: skip

    def _title(self, name: str | None) -> str:
        return f"{name}: new entries" if name else "All lists: new entries"

    def _subtitle(self) -> str:
        kinds = ", ".join(self.kinds)
        return f"Entries {kinds} in curated lists, from their git history (dltbot)"

    def feed_urls(self) -> list[tuple[str, str]]:
        """Return (title, URL) of every feed, for OPML and the page."""
        links = self.links
        out = [("All lists", links.feed(None))]
        for state in self.lists():
            out += [
                (state.name, links.feed(state.name)),
                (f"{state.name} (daily digest)", links.digest(state.name, "daily")),
                (f"{state.name} (weekly digest)", links.digest(state.name, "weekly")),
            ]
        return out

    def opml(self) -> Document:
        """Return an OPML list of every feed, for one-click import."""
        return self._cached(("opml",), self._opml)

    def _opml(self) -> Document:
        root = ElementTree.Element("opml", version="2.0")
        head = ElementTree.SubElement(root, "head")
        ElementTree.SubElement(head, "title").text = "dltbot feeds"
        body = ElementTree.SubElement(root, "body")
        # One feed per list, and nothing else: a reader such as newsboat keys items by their
        # id across all its feeds, so the all-lists feed (the same entries, the same ids)
        # would show up empty, and digests would repeat every addition under another id.
        for state in self.lists():
            title, url = state.name, self.links.feed(state.name)
            ElementTree.SubElement(
                body, "outline", type="rss", text=title, title=title, xmlUrl=url,
                htmlUrl=self.links.page(),
            )  # fmt: skip
        ElementTree.indent(root)
        data = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
        return Document(data + b"\n", OPML)

    # --- pages and search --------------------------------------------------------------

    def index(
        self, lang: str = "en", static: bool = False, number: int = 1, find: str | None = None
    ) -> Document:
        """Return the HTML page: with a few lists, the latest additions of each; with more,
        the latest additions of all and page `number` of the index of lists (only those
        whose name or repository holds every word of `find`). A search box and feed links
        (for a static export, the search box goes to search.html)."""
        lang = "zh" if lang == "zh" else "en"
        find = check_words("lists", find)
        return self._cached(
            ("index", lang, "static" if static else "", str(number), find or ""),
            lambda: self._index(lang, static, number, find),
        )

    def list_page(self, name: str, lang: str = "en", static: bool = False) -> Document:
        """Return a list's own page: its latest additions, its feeds."""
        self._check_list(name)
        lang = "zh" if lang == "zh" else "en"
        return self._cached(
            ("list-page", name, lang, "static" if static else ""),
            lambda: self._list_page(name, lang, static),
        )

    def _list_page(self, name: str, lang: str, static: bool) -> Document:
        state = self.storage.list_state(name)
        assert state is not None
        events = self.storage.feed_events(["added"], name, limit=self.size + 1, upto=self.hold.upto)
        news = self._news(events)
        body = page.index_page(
            [(state, self.storage.entry_count(state.id), events)],
            [(name, self.links.feed(name))], self.links, self.size, lang, static, news, name,
        )  # fmt: skip
        return Document(body.encode(), HTML)

    def _news(self, events: Sequence[FeedEvent]) -> dict[str, list[FollowUp]]:
        """Each shown paper's news (newest first)."""
        shown = {event.entry.identity for event in events}
        news: dict[str, list[FollowUp]] = {}
        for item in self.storage.follow_up_events(None, limit=5000):
            if item.identity in shown:
                news.setdefault(item.identity, []).append(item)
        return news

    def search_index(self) -> Document:
        """Return every current entry as compact JSON, for the static export's search."""
        return self._cached(("search-index",), self._search_index)

    def _search_index(self) -> Document:
        # Each row: list, title, link, headings, the description as shown (cut at a word),
        # date added, and what the one matching rule looks in (query.match_text: the whole
        # description and the card, case-folded), with the folding table search.js needs.
        rows = [
            [
                stored.list,
                stored.entry.title,
                safe_link(stored.entry.url) or "",
                section_label(stored.entry.all_sections),
                shorten(stored.entry.description, DESCRIPTION_SHOWN),
                stored.first_date[:10],
                texts[stored.entry.identity],
            ]
            for state in self.lists()
            for texts in [self.storage.match_texts(state.name)]
            for stored in self.storage.entries(state.name)
        ]
        body = json.dumps(
            {"fold": fold_table(), "entries": rows}, ensure_ascii=False, separators=(",", ":")
        )
        return Document(body.encode() + b"\n", JSON)

    def _index(
        self, lang: str, static: bool = False, number: int = 1, find: str | None = None
    ) -> Document:
        states = self.lists()
        if len(states) > FRONT_SECTIONS:
            return self._front(states, lang, static, number, find)
        if number != 1 or find:
            raise NotFoundError(f"no page {number}" if number != 1 else "no index of lists")
        lists = []
        for state in states:
            # One more than shown, to know whether older days exist.
            events = self.storage.feed_events(
                ["added"], state.name, limit=self.size + 1, upto=self.hold.upto
            )
            lists.append((state, self.storage.entry_count(state.id), events))
        # Each paper's news, shown beside it (newest first, for the entries on the page).
        news = self._news([event for _, _, events in lists for event in events])
        body = page.index_page(
            lists, self.feed_urls(), self.links, self.size, lang, static, news=news
        )
        return Document(body.encode(), HTML)

    def _front(
        self, states: list[ListState], lang: str, static: bool, number: int, find: str | None
    ) -> Document:
        """The front page of many lists: latest additions of all, a page of the index."""
        total = len(states)
        if find:
            words = match_words(find)
            states = [s for s in states if all(w in f"{s.name} {s.repo}".casefold() for w in words)]
        pages = max(1, -(-len(states) // LISTS_PER_PAGE))
        if not 1 <= number <= pages:
            raise NotFoundError(f"no page {number} (1 to {pages})")
        counts = self.storage.entry_counts()
        shown = states[(number - 1) * LISTS_PER_PAGE : number * LISTS_PER_PAGE]
        events = self.storage.feed_events(
            ["added"], None, limit=self.size, by_date=True, upto=self.hold.upto,
            paper_once=True,
        )  # fmt: skip

        def page_href(n: int) -> str:
            if static:  # beside index.html, wherever the export is served
                return paths.file_name(paths.index_page(n))
            return self.links.index_page(n, find)

        body = page.front_page(
            [(state, counts.get(state.id, 0)) for state in shown], total,
            (number, pages), events, [("All lists", self.links.feed(None))], self.links,
            lang, static, news=self._news(events), page_href=page_href, find=find or "",
            found=len(states),
        )  # fmt: skip
        return Document(body.encode(), HTML)

    def index_pages(self) -> int:
        """How many pages the front page's index of lists has (1 with a few lists)."""
        count = len(self.lists())
        return 1 if count <= FRONT_SECTIONS else -(-count // LISTS_PER_PAGE)

    def search_page(self, q: str | None, lang: str = "en") -> Document:
        """Return the HTML search results page (the form and a hint when q is empty)."""
        lang = "zh" if lang == "zh" else "en"
        try:
            q = check_words("q", q) if q is not None and q.strip() else None
        except BadRequestError as error:
            # A person typed it: the page again, saying what is wrong (still a 400).
            body = page.search_page("", [], self.links, lang, problem=str(error))
            return Document(body.encode(), HTML, status=400)
        results = collapse(self.storage.search(q, limit=50)) if q else []
        body = page.search_page(q or "", results, self.links, lang)
        return Document(body.encode(), HTML)

    def updates(self, name: str, fmt: Format = "atom") -> Document:
        """Return the news of a list's papers: new arXiv versions, published versions, code."""
        self._check_list(name)
        return self._cached(("updates", name, fmt), lambda: self._render(self._updates(name), fmt))

    def _updates(self, name: str) -> FeedDoc:
        news = self.storage.follow_up_events(name, limit=self.size)
        return FeedDoc(
            id=tag_id(name, "updates"),
            title=f"{name}: news of its papers",
            subtitle="New versions, published versions and code of the papers in the list (dltbot)",
            self_url=self.links.updates(name),
            alternate_url=self.links.list_page(name),
            items=[follow_up_item(item) for item in news],
            since=self._since(name),
            hub=self.hub,
        )

    def bib(self, name: str, section: str | None = None, q: str | None = None) -> Document:
        """Return the BibTeX of a list's current entries (under `section`, matching `q`)."""
        self._check_list(name)
        section = check_words("section", section)
        q = check_words("q", q)
        return self._cached(
            ("bib", name, section or "", q or ""), lambda: self._bib(name, section, q)
        )

    def _bib(self, name: str, section: str | None, q: str | None) -> Document:
        from .bib import bibtex  # bibtexparser loads only for those who ask

        entries = under_section(self.storage.entries(name), section)
        if q:
            wanted = {r.entry.identity for r in self.storage.search(q, name, limit=100_000)}
            entries = [e for e in entries if e.entry.identity in wanted]
        return Document(bibtex(entries).encode(), BIBTEX)

    def search_json(self, q: str | None, list_name: str | None = None) -> Document:
        """Return search results as JSON: the same objects as `dltbot search --json`."""
        q = check_words("q", q)
        if not q:
            raise BadRequestError("q: give some words to search for")
        self._check_list(list_name)
        found = collapse(self.storage.search(q, list_name, limit=50))
        # A paper once, with where else it stands.
        results = [result_json(r) | {"also": also_json(others)} for r, others in found]
        body = json.dumps({"query": q, "results": results}, ensure_ascii=False, indent=1)
        return Document(body.encode() + b"\n", JSON)

    def health(self, details: bool = False) -> Document:
        """Return the lists' sync health; status 503 if one failed for over 3 intervals.

        One vocabulary for a list and for the whole: "ok"; "degraded" when its last sync
        failed, but not for 3 intervals yet (200); "failing" past that (503, for health
        checks). A list is "healthy" unless it is "failing". By default, counts and the names
        of lists not ok (at most HEALTH_NAMES of each: small with hundreds of lists); with
        `details`, every list's state."""
        now = self.clock()
        lists = []
        states = self.lists()
        left = [state for state in states if state.left_at]  # no longer polled
        for state in states:
            if state.left_at:
                continue
            interval = self.intervals.get(state.name) or self.intervals.get(state.meta or "", 900)
            status = "ok"
            if state.status == "failing":
                status = "degraded"
                if state.failing_since:
                    since = datetime.fromisoformat(state.failing_since)
                    if now - since > timedelta(seconds=3 * interval):
                        status = "failing"
            lists.append((state, status))
        failing = [state.name for state, status in lists if status == "failing"]
        degraded = [state.name for state, status in lists if status == "degraded"]
        body: dict[str, Any] = {
            "status": "failing" if failing else "degraded" if degraded else "ok",
            "count": {
                "lists": len(lists),
                "ok": len(lists) - len(failing) - len(degraded),
                "degraded": len(degraded),
                "failing": len(failing),
            },
            "failing": failing[:HEALTH_NAMES],
            "degraded": degraded[:HEALTH_NAMES],
        }
        metas: dict[str, int] = {}
        for state, _ in lists:
            if state.meta:
                metas[state.meta] = metas.get(state.meta, 0) + 1
        if metas or left:
            body["count"]["left"] = len(left)
            body["lists_from"] = metas  # how many followed lists each list of lists brings
        if details:
            body["lists"] = [
                {
                    "list": state.name,
                    "status": status,
                    "healthy": status != "failing",
                    "head": state.head,
                    "entries": self.storage.entry_count(state.id),
                    "last_sync": state.last_sync_at,
                    "last_success": state.last_success_at,
                    "last_error": redact(state.last_error) if state.last_error else None,
                    "failing_since": state.failing_since,
                    "from": state.meta,
                }
                for state, status in lists
            ]
            body["left"] = [
                {"list": state.name, "from": state.meta, "left": state.left_at} for state in left
            ]
        data = json.dumps(body, ensure_ascii=False, indent=1).encode() + b"\n"
        return Document(data, JSON, status=503 if failing else 200)


__all__ = [
    "ATOM",
    "HTML",
    "JSON",
    "OPML",
    "BadRequestError",
    "Document",
    "NotFoundError",
    "Site",
    "parse_page_number",
]
