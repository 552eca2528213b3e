"""The HTTP server (aiohttp): feeds, archives, digests, OPML, the page, search, health."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging
import re
import resource
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache, partial
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .hooks import FORGES, HookError, Receiver, same_secret
from .present import paths
from .present.links import FORMATS, Format
from .site import (
    BadRequestError,
    Document,
    NotFoundError,
    Site,
    parse_page_number,
)
from .untrusted import clean_line

log = logging.getLogger(__name__)

SITE: web.AppKey[Site] = web.AppKey("site", Site)
HOOKS: web.AppKey[Receiver | None] = web.AppKey("hooks")
TELEGRAM: web.AppKey[TelegramHook | None] = web.AppKey("telegram")
TELEGRAM_BODY = 1_000_000  # an update is a few KB
MAX_HOOK_BODY: web.AppKey[int] = web.AppKey("max_hook_body", int)
BODIES: web.AppKey[BodyBudget] = web.AppKey("bodies")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")

# A connection must send a whole request within this many seconds of connecting (or of its
# last response): a client trickling headers (slowloris) is cut off, not waited for forever.
REQUEST_TIMEOUT = 15.0
MAX_CONNECTIONS = 1000
# What the bodies of requests not yet authenticated (webhooks, Telegram updates) may hold in
# memory at once, across every connection: a hundred clients each trickling most of a
# megabyte are refused (503) once it is spent, instead of holding a hundred megabytes.
BODY_BUDGET = 8_000_000
# Searches run on their own two threads: twenty heavy ones queue there, while feeds, pages
# and /healthz are read on the default pool.
_SEARCHES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dltbot-search")
_HTML_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


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
        if document.hub:  # WebSub discovery: the hub and the topic (self)
            headers["Link"] = f'<{document.hub}>; rel="hub", ' + headers["Link"]
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


async def _read(request: web.Request, render: Callable[[], T], searching: bool = False) -> T:
    """Render off the event loop (a database read never stalls the other requests or the
    bot), with links under the address the reader asked for when feed.base_url is unset."""
    site, base = _site(request), request_base(request)

    def run() -> T:
        with site.links_for(base):
            return render()

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_SEARCHES if searching else None, run)


_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+|\[[0-9A-Fa-f:.]+\]")


def request_base(request: web.Request) -> str | None:
    """The base URL a reader reached us at, from `Host` (and, with web.trust_proxy, from
    `X-Forwarded-Proto` and `-Host`), when feed.base_url is unset; None otherwise, or when
    the header is not a plain host[:port] (the configured address is used then)."""
    site = _site(request)
    if site.fixed_base:
        return None
    scheme, host = request.scheme, request.headers.get("Host", "")
    if site.trust_proxy:
        forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        scheme = forwarded if forwarded in ("http", "https") else scheme
        host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip() or host
    name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if not name or (port and not port.isdigit()) or (port and int(port) > 65535):
        name, port = host, ""
    if not _HOST.fullmatch(name) or len(name) > 253 or name.strip("[]") in ("0.0.0.0", "::"):
        return None
    return f"{scheme}://{host.lower()}"


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


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response, errors included: no sniffing, and pages that run no script."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.content_type == "text/html":
        response.headers["Content-Security-Policy"] = _HTML_POLICY
        response.headers["Referrer-Policy"] = "no-referrer"


def _site(request: web.Request) -> Site:
    return request.app[SITE]


def page_lang(request: web.Request) -> str:
    """The page's language: ?lang=zh|en, else the first of Accept-Language that is one."""
    chosen = request.query.get("lang", "")
    if chosen in ("en", "zh"):
        return chosen
    ranked = []
    for position, part in enumerate(request.headers.get("Accept-Language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower()))
    for quality, _, tag in sorted(ranked):
        if quality < 0 and tag.startswith(("zh", "en")):
            return tag[:2]
    return "en"


async def index(request: web.Request) -> web.Response:
    """The HTML page, in the reader's language (?page=N: the index of many lists, paged)."""
    number = parse_page_number(request.query.get("page", "1"), "page")
    find = request.query.get("lists")
    render = partial(_site(request).index, page_lang(request), False, number, find)
    document = await _read(request, render)
    response = respond(request, document)
    response.headers["Vary"] = "Accept-Encoding, Accept-Language"
    return response


async def list_page(request: web.Request) -> web.Response:
    """A list's own page, in the reader's language."""
    name = request.match_info["name"]
    document = await _read(request, partial(_site(request).list_page, name, page_lang(request)))
    response = respond(request, document)
    response.headers["Vary"] = "Accept-Encoding, Accept-Language"
    return response


def _format(request: web.Request) -> Format:
    fmt = request.match_info["fmt"]
    for known in FORMATS:
        if fmt == known:
            return known
    raise NotFoundError(f"no format {fmt!r} (atom, rss or json)")


async def feed(request: web.Request) -> web.Response:
    """The feed of every list, or of one, as Atom, RSS 2.0 or JSON Feed."""
    query = request.query
    name = request.match_info.get("name")
    render = partial(
        _site(request).feed, name, query.get("section"), query.get("q"), _format(request)
    )
    return respond(request, await _read(request, render, searching="q" in query))


async def digest(request: web.Request) -> web.Response:
    """A list's daily or weekly digest."""
    period = request.match_info["period"]
    if period not in ("daily", "weekly"):
        raise NotFoundError(f"no digest {period!r}")
    name = request.match_info["name"]
    render = partial(
        _site(request).digest, name, "daily" if period == "daily" else "weekly", _format(request)
    )
    return respond(request, await _read(request, render))


async def archive(request: web.Request) -> web.Response:
    """An RFC 5005 archive page (it never changes: cache it long)."""
    number = parse_page_number(request.match_info["number"])
    name = request.match_info.get("name")
    document = await _read(request, partial(_site(request).archive, name, number))
    return respond(request, document, max_age=86400)


async def updates(request: web.Request) -> web.Response:
    """A list's papers' news: new versions, published versions, code."""
    render = partial(_site(request).updates, request.match_info["name"], _format(request))
    return respond(request, await _read(request, render))


async def bib(request: web.Request) -> web.Response:
    """A list's BibTeX (?section=, ?q= narrow it), for a reference manager."""
    query = request.query
    render = partial(
        _site(request).bib, request.match_info["name"], query.get("section"), query.get("q")
    )
    return respond(request, await _read(request, render, searching="q" in query))


async def opml(request: web.Request) -> web.Response:
    """Every feed, for import into a reader."""
    return respond(request, await _read(request, _site(request).opml))


async def search(request: web.Request) -> web.Response:
    """Search results as HTML."""
    render = partial(_site(request).search_page, request.query.get("q"), page_lang(request))
    response = respond(request, await _read(request, render, searching=True), max_age=0)
    response.headers["Vary"] = "Accept-Encoding, Accept-Language"
    return response


async def api_search(request: web.Request) -> web.Response:
    """Search results as JSON."""
    query = request.query
    render = partial(_site(request).search_json, query.get("q"), query.get("list"))
    return respond(request, await _read(request, render, searching=True), max_age=0)


async def healthz(request: web.Request) -> web.Response:
    """Sync health: counts and the lists not ok (`?details=1`: every list), 503 when one has
    failed for too long."""
    details = request.query.get("details", "") not in ("", "0")
    document = await _read(request, partial(_site(request).health, details))
    return web.Response(
        status=document.status,
        body=document.body,
        headers={"Content-Type": document.content_type, "Cache-Control": "no-store"},
    )


class BodyBudget:
    """Bytes that unauthenticated bodies hold at once, and how long one may take to arrive."""

    def __init__(self, total: int = BODY_BUDGET, deadline: float = REQUEST_TIMEOUT) -> None:
        self.total = total
        self.deadline = deadline
        self.held = 0
        self.peak = 0  # the most ever held (tests, benchmarks)

    def take(self, size: int) -> bool:
        if self.held + size > self.total:
            return False
        self.held += size
        self.peak = max(self.peak, self.held)
        return True

    def give(self, size: int) -> None:
        self.held -= size


class BodyRefused(Exception):
    """A body not read whole: too large (413), too slow (408), or the budget spent (503)."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status

    def response(self) -> web.Response:
        # Closed, not kept alive: aiohttp would otherwise read (and wait for) the rest.
        response = web.Response(status=self.status, text=f"{self}\n")
        if self.status == 503:
            response.headers["Retry-After"] = "10"
        response.force_close()
        return response


async def _body(request: web.Request, limit: int) -> bytes:
    """The request's body, read whole within the deadline and the shared budget; raise
    BodyRefused otherwise (nothing past `limit` is read)."""
    if (request.content_length or 0) > limit:
        raise BodyRefused(413, f"body over {limit} bytes")
    budget = request.app[BODIES]
    if (request.content_length or 0) > budget.total - budget.held:
        raise BodyRefused(503, "too many request bodies in flight; try again")
    body = bytearray()
    try:
        async with asyncio.timeout(budget.deadline):
            # read() returns what has arrived, not all of it
            while len(body) <= limit and (
                more := await request.content.read(limit + 1 - len(body))
            ):
                if not budget.take(len(more)):
                    raise BodyRefused(503, "too many request bodies in flight; try again")
                body += more
    except TimeoutError:
        raise BodyRefused(408, f"body not sent within {budget.deadline:g}s") from None
    finally:
        budget.give(len(body))
    if len(body) > limit:
        raise BodyRefused(413, f"body over {limit} bytes")
    return bytes(body)


async def hook(request: web.Request) -> web.Response:
    """A forge's push webhook: 202 and a sync started (never run inside the request)."""
    receiver, forge = request.app[HOOKS], request.match_info["forge"]
    if receiver is None or forge not in FORGES:
        raise NotFoundError("no webhooks here (webhooks.secret is not set)")
    try:
        body = await _body(request, request.app[MAX_HOOK_BODY])
    except BodyRefused as refused:
        _FLOOD.note(f"webhook {forge} refused", f"{refused.status} {refused}")
        return refused.response()
    try:
        status, done = receiver.receive(forge, request.headers, body, request.query.get("list"))
    except HookError as error:
        return _refused(forge, error)
    log.info("webhook %s: %s", forge, done)
    return web.json_response({"status": done}, status=status)


@dataclass
class TelegramHook:
    """Where Telegram's webhook updates go: `accept` is set once the bot is up (until then
    Telegram is answered 503 and retries)."""

    secret: str
    accept: Callable[[Any], Awaitable[None]] | None = None


async def telegram_update(request: web.Request) -> web.Response:
    """An update pushed by Telegram (telegram.webhook_url): the path and the header both
    carry the secret; the update joins the bot's queue."""
    hook = request.app[TELEGRAM]
    if hook is None or not same_secret(request.match_info["secret"], hook.secret):
        _FLOOD.note("telegram webhook refused", "no such path")
        return web.Response(status=404, text="not found\n")
    if not same_secret(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), hook.secret):
        _FLOOD.note("telegram webhook refused", "wrong secret header")
        return web.Response(status=403)
    if hook.accept is None:
        return web.Response(status=503)
    try:
        body = await _body(request, TELEGRAM_BODY)
    except BodyRefused as refused:
        _FLOOD.note("telegram webhook refused", f"{refused.status} {refused}")
        return refused.response()
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than json can read
        data = None
    if not isinstance(data, dict):
        return web.Response(status=400)
    await hook.accept(data)
    return web.Response(status=200)


def _refused(forge: str, error: HookError) -> web.Response:
    # Counted, one line a minute: a flood of forged deliveries must not flood the log.
    _FLOOD.note(f"webhook {forge} refused", f"{error.status} {error}")
    return web.json_response({"error": str(error)}, status=error.status)


def build_app(
    site: Site,
    receiver: Receiver | None = None,
    max_hook_body: int = 1_000_000,
    telegram: TelegramHook | None = None,
    bodies: BodyBudget | None = None,
) -> web.Application:
    """Return the aiohttp application serving a site (and webhooks: the forges', with a
    receiver; Telegram's, with a hook)."""
    app = web.Application(middlewares=[_errors])
    app.on_response_prepare.append(_security_headers)
    app[SITE] = site
    app[HOOKS] = receiver
    app[MAX_HOOK_BODY] = max_hook_body
    app[TELEGRAM] = telegram
    app[BODIES] = bodies or BodyBudget()
    app.router.add_post(paths.ROUTE_HOOK, hook)
    app.router.add_post(paths.ROUTE_TELEGRAM, telegram_update)
    for path, handler in (
        (paths.INDEX, index),
        (paths.ROUTE_LIST_PAGE, list_page),
        (paths.ROUTE_FEED, feed),
        (paths.ROUTE_ARCHIVE, archive),
        (paths.ROUTE_LIST_FEED, feed),
        (paths.ROUTE_LIST_BIB, bib),
        (paths.ROUTE_UPDATES, updates),
        (paths.ROUTE_DIGEST, digest),
        (paths.ROUTE_BIB, bib),
        (paths.ROUTE_LIST_ARCHIVE, archive),
        (paths.OPML, opml),
        (paths.SEARCH, search),
        (paths.API_SEARCH, api_search),
        (paths.HEALTH, healthz),
    ):
        app.router.add_get(path, handler)
    return app


class Server:
    """The listening socket: aiohttp's handler behind a cap on open connections."""

    def __init__(self, runner: web.AppRunner, server: asyncio.Server, port: int) -> None:
        self.runner = runner
        self.server = server
        self.port = port

    async def cleanup(self) -> None:
        """Stop listening, finish or drop open connections, release the site's threads."""
        self.server.close()
        site = self.runner.app[SITE]
        await self.runner.cleanup()
        site.close()


def connection_cap(limit: int = MAX_CONNECTIONS) -> int:
    """Return the cap on open connections: the limit, kept well under the process's file
    descriptor limit (the database, git, the bot, and a burst of accepts need some too)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return limit
    return max(16, min(limit, soft - 256))


async def start(
    site: Site,
    host: str,
    port: int,
    request_timeout: float = REQUEST_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
    receiver: Receiver | None = None,
    max_hook_body: int = 1_000_000,
    telegram: TelegramHook | None = None,
    body_budget: int = BODY_BUDGET,
) -> Server:
    """Start serving; return the server (port 0 picks a free port: see Server.port).

    A request's headers must come within `request_timeout` (aiohttp's keep-alive timer), and
    an unauthenticated body within `request_timeout` more; such bodies share `body_budget`."""
    bodies = BodyBudget(body_budget, request_timeout)
    runner = web.AppRunner(
        build_app(site, receiver, max_hook_body, telegram, bodies), access_log=None,
        keepalive_timeout=request_timeout,
        handler_cancellation=True, shutdown_timeout=1.0,
        # A body refused part-way is not drained for aiohttp's default 10 s: the connection
        # closes with the answer (a slow client must not hold it after its deadline).
        lingering_time=0,
    )  # fmt: skip
    await runner.setup()
    handler = runner.server
    assert handler is not None
    cap = connection_cap(max_connections)

    def protocol() -> asyncio.BaseProtocol:
        # At the cap, the oldest connections make room: during a flood of clients that never
        # finish a request, a real one still gets in (and is served in milliseconds).
        live = [conn for conn in handler.connections if conn.transport is not None]
        if len(live) >= cap:
            _FLOOD.note("connection cap reached", f"{cap} open; closing the oldest")
            for conn in live[: len(live) - cap + 1]:
                conn.force_close()
        return handler()

    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, host, port, reuse_address=True, backlog=128)
    bound: int = server.sockets[0].getsockname()[1]
    quiet_floods(loop)
    return Server(runner, server, bound)


class _FloodLog:
    """Log a repeated complaint once a minute with a count, not once per connection.

    `kind` is one of a few fixed sentences (the count is kept per kind; at most KINDS of them);
    `detail` is the latest instance, which may carry request text: it is only ever an
    argument of the log line, never its format."""

    KINDS = 64

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def note(self, kind: str, detail: str = "") -> None:
        now = self.clock()
        if kind not in self.counts and len(self.counts) >= self.KINDS:
            oldest = min(self.last, key=self.last.__getitem__)
            del self.last[oldest], self.counts[oldest]
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if now - self.last.get(kind, -60.0) >= 60.0:
            log.warning("%s: %s (%d in the last minute)", kind, clean_line(detail, 300),
                        self.counts[kind])  # fmt: skip
            self.last[kind] = now
            self.counts[kind] = 0


_FLOOD = _FloodLog()


class _BadRequestLog(logging.Filter):
    """aiohttp logs a traceback for every request its parser refuses (a raw UTF-8 query,
    a malformed header): the client got its 400; the log gets one counted line a minute."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            _FLOOD.note("refused malformed requests", type(error).__name__)
            return False
        return True


def quiet_floods(loop: asyncio.AbstractEventLoop) -> None:
    """Route the loop's own errors (EMFILE on accept, resets) through the flood log, and
    aiohttp's tracebacks for malformed requests too."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _BadRequestLog) for f in server_log.filters):
        server_log.addFilter(_BadRequestLog())

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, OSError):  # a client's doing (EMFILE, resets): count, don't dump
            _FLOOD.note("event loop error", f"{context.get('message', '')}: {error!r}")
        else:  # a bug: keep its traceback
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)


async def serve_forever(
    site: Site, host: str, port: int, ready: Callable[[int], None], **limits: Any
) -> None:
    """Serve until cancelled (Ctrl-C or SIGTERM); limits: request_timeout, max_connections."""
    server = await start(site, host, port, **limits)
    ready(server.port)
    try:
        await asyncio.Event().wait()
    finally:
        await server.cleanup()
