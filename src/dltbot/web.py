"""The HTTP server (aiohttp): feeds, archives, digests, OPML, the page, search, health."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
from collections.abc import Awaitable, Callable
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache

from aiohttp import web

from .site import (
    BadRequestError,
    Document,
    NotFoundError,
    Site,
    parse_archive_number,
)

log = logging.getLogger(__name__)

SITE: web.AppKey[Site] = web.AppKey("site", Site)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@lru_cache(maxsize=256)
def _encoded(body: bytes) -> tuple[str, bytes]:
    """Return the strong ETag of a body and its gzip form (cached: bodies are reused)."""
    digest = hashlib.sha256(body).hexdigest()[:32]
    return digest, gzip.compress(body, compresslevel=6, mtime=0)


def respond(request: web.Request, document: Document, max_age: int = 60) -> web.Response:
    """Answer with a document: ETag, Last-Modified, 304s, gzip, Cache-Control, Link: self."""
    digest, gzipped = _encoded(document.body)
    use_gzip = "gzip" in request.headers.get("Accept-Encoding", "").lower()
    etag = f'"{digest}-gz"' if use_gzip else f'"{digest}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age}",
        "Vary": "Accept-Encoding",
    }
    if document.updated is not None:
        headers["Last-Modified"] = format_datetime(document.updated, usegmt=True)
    if document.self_url:
        headers["Link"] = f'<{document.self_url}>; rel="self"'
    if document.status == 200 and _not_modified(request, document, digest):
        return web.Response(status=304, headers=headers)
    body = document.body
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
        body = gzipped
    return web.Response(
        status=document.status,
        body=body,
        headers={**headers, "Content-Type": document.content_type},
    )


def _not_modified(request: web.Request, document: Document, digest: str) -> bool:
    match = request.headers.get("If-None-Match")
    if match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        return "*" in tags or f'"{digest}"' in tags or f'"{digest}-gz"' in tags
    since = request.headers.get("If-Modified-Since")
    if since and document.updated is not None:
        try:
            return document.updated.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NotFoundError as error:
        return web.Response(status=404, text=f"not found: {error}\n")
    except BadRequestError as error:
        return web.Response(status=400, text=f"bad request: {error}\n")


def _site(request: web.Request) -> Site:
    return request.app[SITE]


async def index(request: web.Request) -> web.Response:
    """The HTML page."""
    return respond(request, _site(request).index())


async def all_feed(request: web.Request) -> web.Response:
    """The feed of every list."""
    query = request.query
    return respond(request, _site(request).feed(None, query.get("section"), query.get("q")))


async def list_feed(request: web.Request) -> web.Response:
    """One list's feed."""
    query = request.query
    name = request.match_info["name"]
    return respond(request, _site(request).feed(name, query.get("section"), query.get("q")))


async def digest(request: web.Request) -> web.Response:
    """A list's daily or weekly digest."""
    period = request.match_info["period"]
    if period not in ("daily", "weekly"):
        raise NotFoundError(f"no digest {period!r}")
    name = request.match_info["name"]
    return respond(request, _site(request).digest(name, "daily" if period == "daily" else "weekly"))


async def archive(request: web.Request) -> web.Response:
    """An RFC 5005 archive page (it never changes: cache it long)."""
    number = parse_archive_number(request.match_info["number"])
    name = request.match_info.get("name")
    return respond(request, _site(request).archive(name, number), max_age=86400)


async def opml(request: web.Request) -> web.Response:
    """Every feed, for import into a reader."""
    return respond(request, _site(request).opml())


async def search(request: web.Request) -> web.Response:
    """Search results as HTML."""
    return respond(request, _site(request).search_page(request.query.get("q")), max_age=0)


async def api_search(request: web.Request) -> web.Response:
    """Search results as JSON."""
    query = request.query
    document = _site(request).search_json(query.get("q"), query.get("list"))
    return respond(request, document, max_age=0)


async def healthz(request: web.Request) -> web.Response:
    """Sync health of every list, 503 when one has failed for too long."""
    document = _site(request).health()
    return web.Response(
        status=document.status,
        body=document.body,
        headers={"Content-Type": document.content_type, "Cache-Control": "no-store"},
    )


def build_app(site: Site) -> web.Application:
    """Return the aiohttp application serving a site."""
    app = web.Application(middlewares=[_errors])
    app[SITE] = site
    app.router.add_get("/", index)
    app.router.add_get("/feed.atom", all_feed)
    app.router.add_get("/archive/{number}.atom", archive)
    app.router.add_get("/lists/{name}/feed.atom", list_feed)
    app.router.add_get("/lists/{name}/{period}.atom", digest)
    app.router.add_get("/lists/{name}/archive/{number}.atom", archive)
    app.router.add_get("/feeds.opml", opml)
    app.router.add_get("/search", search)
    app.router.add_get("/api/search", api_search)
    app.router.add_get("/healthz", healthz)
    return app


async def start(site: Site, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving; return the runner (to clean up) and the port bound (port 0 picks one)."""
    runner = web.AppRunner(build_app(site), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound: int = runner.addresses[0][1]
    return runner, bound


async def serve_forever(site: Site, host: str, port: int, ready: Callable[[int], None]) -> None:
    """Serve until cancelled (Ctrl-C or SIGTERM)."""
    runner, bound = await start(site, host, port)
    ready(bound)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
