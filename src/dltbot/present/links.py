"""Every absolute URL an output shows, under one public base URL, and the one registry of
documents (modelled on datasette's `url_builder.Urls`).

One `Links` is built from the base URL once it is known (the port bound, or the address a reader
asked) and handed to whatever shows a link: the site's documents, the page, the bot, WebSub and
the export. The registry (`Links.documents`) says which live documents each list has — feeds and
digests, in every format — so that the server serves, the export writes, WebSub pings and the
page links one and the same set; a new document is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlencode

from ..urls import forge_web_url
from . import paths

Format = Literal["atom", "rss", "json"]
FORMATS: tuple[Format, ...] = ("atom", "rss", "json")
Period = Literal["daily", "weekly"]
PERIODS: tuple[Period, ...] = ("daily", "weekly")


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """One live document of the registry: what it is and where it lives."""

    kind: Literal["feed", "digest", "updates"]
    list_name: str | None  # None: the document of every list
    fmt: Format
    period: Period | None = None

    @property
    def path(self) -> str:
        if self.kind == "digest":
            assert self.list_name is not None and self.period is not None
            return paths.digest(self.list_name, self.period, self.fmt)
        if self.kind == "updates":
            assert self.list_name is not None
            return paths.updates(self.list_name, self.fmt)
        return paths.feed(self.list_name, self.fmt)


def documents(list_name: str | None) -> list[DocumentRef]:
    """The live documents of one list (its feed, digests and papers' news) or of every list
    (the feed), each in every format: the registry."""
    found = [DocumentRef("feed", list_name, fmt) for fmt in FORMATS]
    if list_name is not None:
        found += [
            DocumentRef("digest", list_name, fmt, period) for period in PERIODS for fmt in FORMATS
        ]
        found += [DocumentRef("updates", list_name, fmt) for fmt in FORMATS]
    return found


class Links:
    """Absolute URLs under one base URL (no trailing slash)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def url(self, path: str) -> str:
        return self.base + path

    def page(self) -> str:
        return self.url(paths.INDEX)

    def index_page(self, number: int, find: str | None = None) -> str:
        """A page of the front page's index of lists (narrowed to lists named with `find`)."""
        params = {"lists": find, "page": str(number) if number > 1 else None}
        query = urlencode({key: value for key, value in params.items() if value})
        return self.page() + (f"?{query}" if query else "")

    def list_page(self, name: str) -> str:
        """A list's own page."""
        return self.url(paths.list_page(name))

    def feed(self, name: str | None, fmt: Format = "atom", **params: str | None) -> str:
        """A live feed; `section` and `q` make a filtered one."""
        query = urlencode({key: value for key, value in params.items() if value})
        return self.url(paths.feed(name, fmt)) + (f"?{query}" if query else "")

    def digest(self, name: str, period: Period, fmt: Format = "atom") -> str:
        return self.url(paths.digest(name, period, fmt))

    def archive(self, name: str | None, number: int) -> str:
        return self.url(paths.archive(name, number))

    def updates(self, name: str, fmt: Format = "atom") -> str:
        return self.url(paths.updates(name, fmt))

    def bib(self, name: str) -> str:
        return self.url(paths.bib(name))

    def opml(self) -> str:
        return self.url(paths.OPML)

    def search(self, q: str | None = None) -> str:
        return self.url(paths.SEARCH) + (f"?{urlencode({'q': q})}" if q else "")

    def documents(self, name: str | None) -> list[str]:
        """The URLs of the registry's documents of a list (or of every list)."""
        return [self.url(ref.path) for ref in documents(name)]


def doi_url(doi: str) -> str:
    """The resolver's page of a DOI (a published version, in every output)."""
    return f"https://doi.org/{quote(doi, safe='/:;()._-')}"


def commit_url(remote: str, sha: str) -> str | None:
    """The web page of a commit on its forge (GitHub, Codeberg/Gitea/Forgejo: /commit/SHA;
    GitLab: /-/commit/SHA), if the remote is on one."""
    web = forge_web_url(remote)
    if web is None:
        return None
    return f"{web}/-/commit/{sha}" if "gitlab" in web else f"{web}/commit/{sha}"
