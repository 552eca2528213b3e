"""Plain data passed between the modules: entries of a list, commits, events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """A current entry of a list, with when it first appeared."""

    list: str
    entry: Entry
    position: int
    first_commit: str
    first_date: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the log keeps it, with its commit."""

    id: int
    list: str
    kind: EventKind
    entry: Entry
    old: Entry | None
    commit: Commit


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


@dataclass(frozen=True, slots=True)
class Subscription:
    """A chat (or forum topic) that wants a list's additions, optionally filtered."""

    id: int
    chat_id: int
    thread_id: int  # 0: not a forum topic
    list_name: str  # "": every list
    filter: str  # "": everything; else words a heading or the entry must hold
    origin: str  # "user" (subscribed in Telegram) or "config" (telegram.channels)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A pending outbox row: one addition for one chat (topic)."""

    id: int
    chat_id: int
    thread_id: int
    attempts: int
    list: str
    entry: Entry
