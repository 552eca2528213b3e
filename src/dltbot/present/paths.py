"""Every path the web server answers and the static export writes, in one place.

The router (web.py), the documents' own links (site.py), the page's links (page.py) and the
export's file names (export.py) all take their paths from here, so a new kind of document is
added once (as datasette's url_builder does).
"""

from __future__ import annotations

from urllib.parse import quote

INDEX = "/"
OPML = "/feeds.opml"
SEARCH = "/search"
API_SEARCH = "/api/search"
HEALTH = "/healthz"
# The static export's search, which runs in the browser.
STATIC_SEARCH = "/search.html"
STATIC_SEARCH_JS = "/search.js"
STATIC_SEARCH_INDEX = "/search-index.json"

# Router patterns (aiohttp syntax); the functions below build the same paths.
ROUTE_FEED = "/feed.{fmt}"
ROUTE_LIST_PAGE = "/lists/{name}/"  # a list's own page
ROUTE_LIST_FEED = "/lists/{name}/feed.{fmt}"
ROUTE_DIGEST = "/lists/{name}/{period}.{fmt}"
ROUTE_UPDATES = "/lists/{name}/updates.{fmt}"  # news of its papers (before ROUTE_DIGEST)
ROUTE_ARCHIVE = "/archive/{number}.atom"
ROUTE_LIST_ARCHIVE = "/lists/{name}/archive/{number}.atom"
ROUTE_BIB = "/lists/{name}.bib"  # BibTeX of a list (also at its papers.bib, as exported)
ROUTE_LIST_BIB = "/lists/{name}/papers.bib"
ROUTE_HOOK = "/hooks/{forge}"  # POST: a forge's push webhook (dltbot run with webhooks.secret)
TELEGRAM_HOOK = "/telegram/"  # + the secret: Telegram's webhook (telegram.webhook_url)
ROUTE_TELEGRAM = TELEGRAM_HOOK + "{secret}"


def list_prefix(name: str | None) -> str:
    """The path prefix of a list's documents ('' for the documents of every list)."""
    return f"/lists/{quote(name)}" if name else ""


def feed(name: str | None, fmt: str = "atom") -> str:
    """The live feed of one list or of all: /feed.atom, /lists/NAME/feed.rss, …"""
    return f"{list_prefix(name)}/feed.{fmt}"


def digest(name: str, period: str, fmt: str = "atom") -> str:
    """A list's daily or weekly digest."""
    return f"{list_prefix(name)}/{period}.{fmt}"


def archive(name: str | None, number: int) -> str:
    """An RFC 5005 archive page of a feed."""
    return f"{list_prefix(name)}/archive/{number}.atom"


def updates(name: str, fmt: str = "atom") -> str:
    """A list's papers' news: new versions, published versions, code."""
    return f"{list_prefix(name)}/updates.{fmt}"


def bib(name: str) -> str:
    """A list's BibTeX, where the server and the static export both have it."""
    return f"{list_prefix(name)}/papers.bib"


def index_page(number: int) -> str:
    """A page of the front page's index of lists, as the static export writes it (the
    server answers the same at /?page=N)."""
    return INDEX if number == 1 else f"/index-{number}.html"


def list_page(name: str) -> str:
    """A list's own page."""
    return f"{list_prefix(name)}/"


def file_name(path: str) -> str:
    """The export's file for a path: a folder's is its index.html, the rest as they are."""
    return (path.lstrip("/") + "index.html") if path.endswith("/") else path.lstrip("/")
