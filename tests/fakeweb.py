"""Fakes of the services enrichment asks, on loopback (aiohttp, port 0), for tests and the
benchmark: the arXiv API (Atom, `id_list`), the GitHub REST API (ETag, 304, renamed repos,
rate limits), Crossref (`/works/{doi}`) and web pages with any status, header or body.

Like the real services, the arXiv fake answers only the ids it knows and GitHub's answers a
matching If-None-Match with 304. It records every request with its time. It runs in its own
thread and event loop, so the code under test may run in the test's loop or in a process.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from loopserver import LoopServer


@dataclass(frozen=True)
class Seen:
    """One request the fake got."""

    host: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float


@dataclass(frozen=True)
class Page:
    """A canned answer."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0  # seconds before answering (timeouts)


def paper_atom(papers: dict[str, dict[str, Any]]) -> str:
    """An arXiv API answer for these papers."""
    entries = []
    for paper_id, paper in papers.items():
        authors = "".join(
            f"<author><name>{escape(name)}</name></author>" for name in paper["authors"]
        )
        journal = (
            f"<arxiv:journal_ref>{escape(paper['journal'])}</arxiv:journal_ref>"
            if paper.get("journal")
            else ""
        )
        extra = "".join(
            f"<arxiv:{tag}>{escape(paper[key])}</arxiv:{tag}>"
            for key, tag in (("comment", "comment"), ("doi", "doi"))
            if paper.get(key)
        )
        entries.append(
            f"<entry><id>http://arxiv.org/abs/{paper_id}{paper.get('version', 'v2')}</id>"
            f"<updated>{paper.get('updated', '2024-05-02T10:00:00Z')}</updated>{extra}"
            f"<published>{paper.get('published', '2024-04-30T17:58:29Z')}</published>"
            f"<title>{escape(paper['title'])}</title>"
            f"<summary>  {escape(paper['abstract'])}\n</summary>{authors}{journal}"
            f'<link title="pdf" href="http://arxiv.org/pdf/{paper_id}v2" rel="related" '
            f'type="application/pdf"/>'
            f'<arxiv:primary_category term="{paper.get("category", "cs.LG")}" '
            f'scheme="http://arxiv.org/schemas/atom"/></entry>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">'
        f"<title>arXiv Query</title>{''.join(entries)}</feed>"
    )


class FakeWeb(LoopServer):
    """The fake services, their data, and what they were asked."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.papers: dict[str, dict[str, Any]] = {}
        self.repos: dict[str, dict[str, Any]] = {}  # "owner/name" → API JSON
        self.renamed: dict[str, str] = {}  # old "owner/name" → new
        self.works: dict[str, dict[str, Any]] = {}  # DOI → Crossref "message"
        self.pages: dict[str, Page] = {}  # path under /p/ → answer
        self.rate_limited = False  # GitHub answers 403 with X-RateLimit-Remaining: 0
        self.arxiv_delay = 0.0  # seconds the arXiv API takes to answer
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self._init_loop()

    async def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/arxiv/query", self._arxiv)
        app.router.add_get("/github/repos/{owner}/{name}", self._github)
        app.router.add_get("/crossref/works/{doi:.+}", self._crossref)
        app.router.add_get("/p/{name:.+}", self._page)
        app.on_response_prepare.append(self._record)
        return app

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, name: str, host: str | None = None) -> str:
        """The URL of a page (on another host name, when given)."""
        return f"http://{host or self.host}:{self.port}/p/{name}"

    def config(self, **extra: Any) -> dict[str, Any]:
        """The `enrich` settings that point every source at this fake."""
        return {
            "arxiv_api": f"{self.base}/arxiv/query",
            "github_api": f"{self.base}/github",
            "crossref_api": f"{self.base}/crossref",
            "allow_private": True,
            "arxiv_spacing": 0,
            "host_spacing": 0,
            "timeout": 5,
            **extra,
        }

    def requests(self, prefix: str) -> list[Seen]:
        with self.lock:
            return [seen for seen in self.seen if seen.path.startswith(prefix)]

    # --- handlers ------------------------------------------------------------------------

    async def _record(self, request: web.Request, response: web.StreamResponse) -> None:
        seen = Seen(
            request.host, request.path, dict(request.query), dict(request.headers), time.time()
        )
        with self.lock:
            self.seen.append(seen)

    async def _arxiv(self, request: web.Request) -> web.Response:
        ids = [i for i in request.query.get("id_list", "").split(",") if i]
        if self.arxiv_delay:
            await asyncio.sleep(self.arxiv_delay)
        known = {i: self.papers[i] for i in ids if i in self.papers}
        return web.Response(text=paper_atom(known), content_type="application/atom+xml")

    async def _github(self, request: web.Request) -> web.Response:
        if self.rate_limited:
            reset = str(int(time.time()) + 600)
            return web.json_response(
                {"message": "API rate limit exceeded"},
                status=403,
                headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
            )
        repo = f"{request.match_info['owner']}/{request.match_info['name']}"
        if repo in self.renamed:
            raise web.HTTPMovedPermanently(f"/github/repos/{self.renamed[repo]}")
        data = self.repos.get(repo)
        if data is None:
            return web.json_response({"message": "Not Found"}, status=404)
        etag = f'"{abs(hash(json.dumps(data, sort_keys=True)))}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.json_response(data, headers={"ETag": etag})

    async def _crossref(self, request: web.Request) -> web.Response:
        work = self.works.get(request.match_info["doi"])
        if work is None:
            return web.Response(status=404, text="Resource not found.")
        return web.json_response({"status": "ok", "message": work})

    async def _page(self, request: web.Request) -> web.StreamResponse:
        page = self.pages.get(request.match_info["name"])
        if page is None:
            return web.Response(status=404, text="not found")
        if page.delay:
            await asyncio.sleep(page.delay)
        body = page.body.encode() if isinstance(page.body, str) else page.body
        response = web.Response(status=page.status, body=body, headers=page.headers)
        response.content_type = page.content_type.split(";")[0]
        if "charset=" in page.content_type:
            response.charset = page.content_type.split("charset=")[1]
        return response


def repo_json(full_name: str, **extra: Any) -> dict[str, Any]:
    """A GitHub /repos answer."""
    return {
        "full_name": full_name,
        "html_url": f"https://github.com/{full_name}",
        "description": f"The code of {full_name}",
        "stargazers_count": 1234,
        "language": "Python",
        "archived": False,
        "pushed_at": "2026-10-01T12:00:00Z",
        **extra,
    }


class MapResolver(AbstractResolver):
    """Names to addresses from a dict, no DNS server: any other name does not exist."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    async def resolve(self, host: str, port: int = 0, family: Any = 0) -> list[ResolveResult]:
        import socket

        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            ResolveResult(
                hostname=host, host=self.names[host], port=port, family=socket.AF_INET,
                proto=0, flags=socket.AI_NUMERICHOST,
            )
        ]  # fmt: skip

    async def close(self) -> None:
        return None
