"""Plain data passed between the modules: entries of a list, commits, events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal["added", "changed", "moved", "removed", "restored"]
EVENT_KINDS: tuple[EventKind, ...] = ("added", "changed", "moved", "removed", "restored")


@dataclass(frozen=True, slots=True)
class Entry:
    """One linked item of a list, as it stands in one version of the list file."""

    identity: str  # normalised URL (urls.identity); the key across versions
    url: str  # as written (resolved when relative)
    title: str
    description: str = ""
    section: tuple[str, ...] = ()  # heading path, outermost first
    parents: tuple[str, ...] = ()  # labels of link-less parent items
    parent: str | None = None  # identity of the parent entry, for nested items
    extra_links: tuple[str, ...] = ()
    # An entry's position is its index in the parsed list, not a field: inserting one entry
    # must not make every entry after it a different value.
    occurrences: int = 1
    # The heading paths of the URL's other occurrences (an entry listed in several sections),
    # so every section it stands in finds it.
    sections: tuple[tuple[str, ...], ...] = ()
    # The links inside the description, as (start, end, url) spans of it: shown as links
    # where the output can show them. Not compared by same_text: wrapping words in a link
    # changes no text.
    text_links: tuple[tuple[int, int, str], ...] = ()

    @property
    def all_sections(self) -> tuple[tuple[str, ...], ...]:
        """Every heading path the URL stands under, its first occurrence's first."""
        return (self.section, *self.sections)

    def same_text(self, other: Entry) -> bool:
        """Tell whether title and description are equal (what "changed" compares)."""
        return self.title == other.title and self.description == other.description


@dataclass(frozen=True, slots=True)
class Commit:
    """A commit of the tracked branch, as events record it."""

    sha: str
    date: str  # committer date, ISO 8601 with offset
    author: str
    summary: str


@dataclass(frozen=True, slots=True)
class Event:
    """What one commit did to one entry."""

    kind: EventKind
    entry: Entry  # the entry after the commit; for "removed", the entry before it
    old: Entry | None = None  # the entry before the commit, for changed and moved


@dataclass(frozen=True, slots=True)
class ListSource:
    """A list to follow: where its repository is and which file holds the list."""

    name: str
    repo: str
    path: str | None = None  # None: README.md, found case-insensitively
    branch: str | None = None  # None: the remote's HEAD branch
    interval_seconds: int = 900
    git_timeout_seconds: int = 600  # a clone or fetch running longer is killed
    max_file_bytes: int = 5_000_000  # a list file larger than this is not parsed
    max_clone_bytes: int = 500_000_000  # a clone growing past this on disk is killed
    meta: str | None = None  # the list of lists it comes from (None: the configuration)


@dataclass(slots=True)
class SyncReport:
    """What one sync of one list did."""

    name: str
    commits: int = 0
    events: dict[str, int] = field(default_factory=dict)
    head: str | None = None
    error: str | None = None
    seconds: float = 0.0
    stopped: bool = False  # asked to stop between commits; the next sync resumes


@dataclass(frozen=True, slots=True)
class ListState:
    """A followed list as the database knows it."""

    id: int
    name: str
    repo: str
    path: str | None
    branch: str | None
    head: str | None
    status: str  # new | ok | failing
    last_error: str | None
    last_sync_at: str | None
    last_success_at: str | None
    failing_since: str | None
    backfilled_at: str | None
    created_at: str | None = None  # when dltbot first followed it (an empty feed's date)
    parser_version: int = 0  # the listparse.PARSER_VERSION its entries were read with
    meta: str | None = None  # the list of lists it came from (None: the configuration)
    left_at: str | None = None  # when it left that list of lists (no longer polled)
    linked: int | None = None  # a list of lists: the repositories it linked when last read


CardSource = Literal["arxiv", "github", "doi", "page"]
LinkStatus = Literal["ok", "redirected", "broken", "blocked", "error"]
# What `dltbot links --status` takes: a status, or "unchecked" (not looked at yet).
LINK_STATUSES = ("ok", "redirected", "broken", "blocked", "error", "unchecked")


@dataclass(frozen=True, slots=True)
class Card:
    """What an entry's link is, as enrichment found it (an arXiv paper, a repository, …).

    Every text field is cleaned untrusted text; links are http(s) or None.
    """

    source: CardSource
    title: str = ""
    authors: tuple[str, ...] = ()
    abstract: str = ""  # the abstract, a repository's or a page's description
    published: str = ""  # ISO date (YYYY-MM-DD or a full timestamp), "" when unknown
    venue: str = ""  # journal, arXiv primary category, a site's name, a repo's language
    pdf: str | None = None
    code: str | None = None
    stars: int | None = None  # GitHub repositories
    archived: bool = False  # GitHub repositories
    fetched: str = ""  # when it was fetched (UTC ISO)
    doi: str = ""  # the work's DOI, when known
    version: str = ""  # arXiv: the latest version ("v3"), and when it came, and its comment
    updated: str = ""
    comment: str = ""
    related: tuple[str, ...] = ()  # DOIs of the work's other versions (Crossref's relations)

    def to_json(self) -> dict[str, Any]:
        """The card as the JSON outputs and the database keep it."""
        return {
            "source": self.source,
            "title": self.title,
            "authors": list(self.authors),
            "abstract": self.abstract,
            "published": self.published,
            "venue": self.venue,
            "pdf": self.pdf,
            "code": self.code,
            "stars": self.stars,
            "archived": self.archived,
            "fetched": self.fetched,
            "doi": self.doi,
            "version": self.version,
            "updated": self.updated,
            "comment": self.comment,
            "related": list(self.related),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Card:
        return cls(
            source=data["source"],
            title=data.get("title") or "",
            authors=tuple(data.get("authors") or ()),
            abstract=data.get("abstract") or "",
            published=data.get("published") or "",
            venue=data.get("venue") or "",
            pdf=data.get("pdf"),
            code=data.get("code"),
            stars=data.get("stars"),
            archived=bool(data.get("archived")),
            fetched=data.get("fetched") or "",
            doi=data.get("doi") or "",
            version=data.get("version") or "",
            updated=data.get("updated") or "",
            comment=data.get("comment") or "",
            related=tuple(data.get("related") or ()),
        )


@dataclass(frozen=True, slots=True)
class LinkHealth:
    """Whether an entry's link lives, as its last checks found."""

    status: LinkStatus
    http_status: int | None = None
    checked: str = ""  # when last checked (UTC ISO)
    since: str = ""  # when the link entered this status
    target: str | None = None  # where a permanent redirect points
    reason: str = ""  # what the last check saw, for people ("HTTP 404", "timed out", …)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "http_status": self.http_status,
            "checked": self.checked,
            "since": self.since,
            "target": self.target,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinkHealth:
        return cls(
            status=data["status"],
            http_status=data.get("http_status"),
            checked=data.get("checked") or "",
            since=data.get("since") or "",
            target=data.get("target"),
            reason=data.get("reason") or "",
        )


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """A current entry of a list, with when it first appeared (and its card, if known)."""

    list: str
    entry: Entry
    position: int
    first_commit: str
    first_date: str
    card: Card | None = None
    link: LinkHealth | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the log keeps it, with its commit."""

    id: int
    list: str
    kind: EventKind
    entry: Entry
    old: Entry | None
    commit: Commit
    card: Card | None = None
    link: LinkHealth | None = None


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """An event as a feed shows it: the entry's text as later edits left it."""

    id: int
    list: str
    repo: str
    kind: EventKind
    seq: int  # this is the seq-th event of this kind for this entry
    entry: Entry
    commit: Commit
    updated: str  # the event's date, or that of the last edit of the entry's text since
    card: Card | None = None
    link: LinkHealth | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """A chat (or forum topic) that wants a list's additions, optionally filtered."""

    id: int
    chat_id: int
    thread_id: int  # 0: not a forum topic
    list_name: str  # "": every list
    filter: str  # "": everything; else words a heading or the entry must hold
    origin: str  # "user" (subscribed in Telegram) or "config" (telegram.channels)
    lang: str | None = None  # the language pushes are written in (None: the chat's)
    mode: str = "now"  # "now", "daily" or "weekly"
    quiet: bool = False  # held during the chat's quiet hours
    created_at: str | None = None
    updates: bool = False  # also its papers' news (/subscribe … +updates)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A pending outbox row: one addition for one chat (topic)."""

    id: int
    chat_id: int
    thread_id: int
    attempts: int
    list: str
    entry: Entry
    card: Card | None = None
    lang: str = "en"  # the subscription's language
    filter: str = ""  # the subscription's words ("" for none)
    mode: str = "now"
    # The same paper in other lists: (list, section) of each (a chat gets a paper once).
    also: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class FollowUp:
    """News of a paper a list holds: a new version, a published version, or its code."""

    id: int
    list: str
    identity: str
    url: str
    title: str
    kind: str  # revised | published | code
    value: str  # the version, the DOI, the repository
    detail: dict[str, Any]
    found_at: str


@dataclass(frozen=True, slots=True)
class NewsDelivery:
    """A pending piece of a paper's news for one chat (topic)."""

    id: int
    chat_id: int
    thread_id: int
    attempts: int
    news: FollowUp
    lang: str = "en"


@dataclass(slots=True)
class CardState:
    """Enrichment's record of one URL (by identity): its card, its health and its schedule."""

    identity: str
    url: str
    card: Card | None = None
    link: LinkHealth | None = None
    fetched_at: float = 0.0  # unix time the card was fetched
    next_check: float = 0.0  # unix time to look again
    hard_count: int = 0  # consecutive hard answers (404, 410, unknown host), a day apart
    hard_last: float = 0.0
    failures: int = 0  # consecutive errors (backoff)
    etag: str | None = None
    last_modified: str | None = None
