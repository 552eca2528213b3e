"""One enrichment pass: pick the URLs that are due, ask each source, record cards and health."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .. import __version__
from ..config import EnrichConfig
from ..models import Card, CardState
from ..storage import Storage
from . import arxiv, doi, github, page
from .client import Http, Response
from .health import Observation, advance, iso, observe, spread
from .sandbox import PageParser, PageTooComplex

log = logging.getLogger(__name__)

CHUNK = 200  # URLs checked (and saved) together
T = TypeVar("T")


@dataclass(slots=True)
class EnrichReport:
    """What one pass did."""

    checked: int = 0
    cards: int = 0  # cards found or refreshed
    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    offline: bool = False  # nothing answered: the network is down, nothing counted broken
    seconds: float = 0.0


def source_of(url: str) -> str:
    """Which source describes this URL: arxiv, github, doi or page."""
    if arxiv.arxiv_id(url):
        return "arxiv"
    if github.repo_of(url):
        return "github"
    if doi.doi_of(url):
        return "doi"
    return "page"


def user_agent(base_url: str | None) -> str:
    """Name dltbot, its version and the instance, so a site owner can find who asks."""
    return f"dltbot/{__version__} (+{base_url or 'https://github.com/dltbot'})"


class Enricher:
    """Runs enrichment passes against one database."""

    def __init__(
        self,
        config: EnrichConfig,
        db_path: Path,
        base_url: str | None = None,
        clock: Callable[[], float] = time.time,
        **http_options: Any,
    ) -> None:
        """`http_options` go to the HTTP client (tests: a resolver without DNS)."""
        self.config = config
        self.http_options = http_options
        self.db_path = db_path
        self.base_url = base_url
        self.clock = clock
        self.lock = asyncio.Lock()  # one pass at a time
        # Its worker starts on the first page of a pass and stops at the pass's end.
        self.pages = PageParser(config.parse_timeout)

    async def _db(self, work: Callable[[Storage], T]) -> T:
        """Run storage work in a thread (never on the event loop), on its own connection."""

        def run() -> T:
            with Storage(self.db_path) as storage:
                return work(storage)

        return await asyncio.to_thread(run)

    async def run(
        self, list_name: str | None = None, identities: Collection[str] | None = None
    ) -> EnrichReport:
        """Check every URL that is due (or just `identities`, due or not: new additions)."""
        async with self.lock:
            return await self._run(list_name, identities)

    async def _run(self, list_name: str | None, identities: Collection[str] | None) -> EnrichReport:
        started = time.monotonic()
        report = EnrichReport()
        # Newest entries first: what readers see first gets the API budget (GitHub allows
        # 60 requests an hour without a token) before old entries do.
        states = await self._db(lambda s: s.card_states(list_name, newest_first=True))
        now = self.clock()
        if identities is not None:
            wanted = set(identities)
            due = [s for s in states if s.identity in wanted]
        else:
            due = [s for s in states if s.next_check <= now]
        # Bounded: the rest stays due for the next pass (/status says how many wait).
        due = due[: self.config.max_per_pass]
        config = self.config
        http = Http(
            user_agent(self.base_url),
            timeout=config.timeout,
            allow_private=config.allow_private,
            host_spacing=config.host_spacing,
            host_concurrency=config.host_concurrency,
            concurrency=config.concurrency,
            **self.http_options,
        )
        http.set_spacing(config.arxiv_api, config.arxiv_spacing)
        for api in (config.github_api, config.crossref_api):
            http.set_spacing(api, 0.0)
        try:
            for start in range(0, len(due), CHUNK):
                chunk = due[start : start + CHUNK]
                checked = await self._check(http, chunk, report)
                await self._db(lambda s, c=checked: s.save_card_states(c, self.clock()))  # type: ignore[misc]
                report.checked += len(checked)
                report.statuses.update(s.link.status for s in checked if s.link)
        finally:
            report.requests = http.requests
            await http.close()
            self.pages.close()
        report.seconds = time.monotonic() - started
        return report

    async def _check(
        self, http: Http, states: list[CardState], report: EnrichReport
    ) -> list[CardState]:
        """Check a chunk of URLs; return their new states."""
        by_source: dict[str, list[CardState]] = {}
        for state in states:
            by_source.setdefault(source_of(state.url), []).append(state)
        report.sources.update({name: len(items) for name, items in by_source.items()})
        results: list[tuple[CardState, Card | None, Observation, Response | None]] = []
        jobs: list[Any] = []
        if by_source.get("arxiv"):
            jobs.append(self._arxiv(http, by_source["arxiv"], results))
        if by_source.get("github"):
            # One at a time: the first rate-limit answer pauses the rest of the pass.
            jobs.append(self._github_all(http, by_source["github"], results))
        jobs += [self._guarded(self._doi, http, s, results) for s in by_source.get("doi", [])]
        jobs += [self._guarded(self._page, http, s, results) for s in by_source.get("page", [])]
        await asyncio.gather(*jobs)
        offline = _offline(results)
        report.offline = report.offline or offline
        now = self.clock()
        out = []
        for state, card, seen, _ in results:
            if offline and seen.kind == "hard":
                seen = Observation("error", reason="no network: no host answered")
            new = advance(
                state, seen, now, broken_after=self.config.broken_after,
                recheck=float(self.config.recheck),
            )  # fmt: skip
            if card is not None:
                new.card = replace(card, fetched=iso(now))
                new.fetched_at = now
                report.cards += 1
                if card.source in ("arxiv", "doi"):
                    # A paper's record does not change: look again when metadata is due.
                    new.next_check = max(
                        new.next_check, now + spread(state.identity, float(self.config.refresh))
                    )
            out.append(new)
        return out

    async def _arxiv(self, http: Http, states: list[CardState], results: list[Any]) -> None:
        ids = {state.identity: arxiv.arxiv_id(state.url) or "" for state in states}
        cards, response = await arxiv.fetch(http, self.config.arxiv_api, sorted(set(ids.values())))
        for state in states:
            card = cards.get(ids[state.identity])
            if card is not None:
                results.append((state, card, Observation("ok", 200), response))
            elif response is not None and response.status == 200:
                seen = Observation("hard", 404, reason="arXiv has no such paper")
                results.append((state, None, seen, response))
            else:
                seen = _api_error("arXiv API", response)
                results.append((state, None, seen, response))

    async def _guarded(
        self,
        check: Callable[..., Any],
        http: Http,
        state: CardState,
        results: list[Any],
        *args: Any,
    ) -> None:
        """Run one URL's check; a bug or a surprise in one answer marks that link, never
        the pass."""
        try:
            await check(http, state, results, *args)
        except Exception as error:
            log.exception("enrich %s: unexpected error", state.url)
            seen = Observation("error", reason=f"unexpected error: {type(error).__name__}")
            results.append((state, None, seen, None))

    async def _github_all(self, http: Http, states: list[CardState], results: list[Any]) -> None:
        pause = _Pause()
        for state in states:
            await self._guarded(self._github, http, state, results, pause)

    async def _github(
        self, http: Http, state: CardState, results: list[Any], pause: _Pause
    ) -> None:
        if pause.until > self.clock():
            seen = Observation("error", reason="GitHub API rate limit", retry_after=pause.wait)
            results.append((state, None, seen, None))
            return
        repo = github.repo_of(state.url)
        etag = state.etag if state.card is not None else None
        response = await http.get(
            f"{self.config.github_api}/repos/{repo}",
            headers=github.api_headers(self.config.github_token, etag),
            trusted=True,
        )
        card: Card | None = None
        if response.status == 304:
            seen = Observation("ok", 200)
        elif response.status == 200 and (card := github.card_from_api(response.body)):
            seen = Observation("ok", 200)
            if response.redirects and card.code:  # renamed or transferred
                seen = Observation("redirected", 301, target=card.code,
                                   reason=f"moved to {card.code}")  # fmt: skip
            state.etag = response.headers.get("ETag")
        elif response.status in (404, 410, 451):
            seen = Observation("hard", response.status, reason=f"GitHub: HTTP {response.status}")
        elif response.status in (403, 429):
            reset = response.headers.get("X-RateLimit-Reset", "")
            wait = max(60.0, float(reset) - self.clock()) if reset.isdigit() else 3600.0
            pause.until, pause.wait = self.clock() + wait, wait
            seen = Observation("error", response.status, reason="GitHub API rate limit",
                               retry_after=wait)  # fmt: skip
        else:
            seen = _api_error("GitHub API", response)
        results.append((state, card, seen, response))

    async def _crossref(self, http: Http, found: str) -> tuple[Card | None, Response]:
        """Crossref's record of a DOI (None: Crossref does not know it, or failed)."""
        response = await http.get(
            doi.works_url(self.config.crossref_api, found),
            headers={"Accept": "application/json"},
            trusted=True,
        )
        card = doi.card_from_crossref(response.body) if response.status == 200 else None
        return card, response

    async def _doi(self, http: Http, state: CardState, results: list[Any]) -> None:
        card, response = await self._crossref(http, doi.doi_of(state.url) or "")
        if card is not None:
            results.append((state, card, Observation("ok", 200), response))
        else:  # not a Crossref DOI (DataCite, …) or Crossref is down: ask the page itself
            await self._page(http, state, results)

    async def _page(self, http: Http, state: CardState, results: list[Any]) -> None:
        headers = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"}
        if state.card is not None and state.card.source == "page":
            if state.etag:
                headers["If-None-Match"] = state.etag
            if state.last_modified:
                headers["If-Modified-Since"] = state.last_modified
        response = await http.get(state.url, headers=headers, max_size=self.config.max_page_size)
        seen = observe(response)
        card: Card | None = None
        content_type = response.headers.get("Content-Type", "")
        if response.status == 200 and page.is_html(content_type):
            # Parsed in a worker process, within a deadline: see sandbox.py.
            try:
                card = await self.pages.parse(response.body, response.url, content_type)
            except PageTooComplex as error:
                log.warning("enrich: no card for %s: %s", response.url, error)
            state.etag = response.headers.get("ETag")
            state.last_modified = response.headers.get("Last-Modified")
            if card is not None and card.doi and not card.authors:
                # A publisher's page that names its DOI but not its authors: ask Crossref.
                found, _ = await self._crossref(http, card.doi)
                if found is not None:
                    card = replace(found, pdf=found.pdf or card.pdf)
        results.append((state, card, seen, response))


@dataclass(slots=True)
class _Pause:
    until: float = 0.0
    wait: float = 0.0


def _api_error(name: str, response: Response | None) -> Observation:
    if response is None:
        return Observation("error", reason=f"{name}: no answer")
    if response.status is None:
        return Observation("error", reason=f"{name}: {response.error}")
    return Observation("error", response.status, reason=f"{name}: HTTP {response.status}")


def _offline(results: list[tuple[CardState, Card | None, Observation, Response | None]]) -> bool:
    """True when requests went to two or more hosts and none gave an HTTP answer: the
    network (or DNS) is down, and a "no such host" then says nothing of the link."""
    hosts = {urlsplit(r.url).hostname for _, _, _, r in results if r is not None}
    answered = any(r is not None and r.status is not None for _, _, _, r in results)
    return len(hosts) >= 2 and not answered
