"""Lists of lists: which repositories a list's entries link, and the lists they become.

A list of lists (`lists_from:` in the config, e.g. sindresorhus/awesome) is followed like any
list; after each of its syncs, every repository its entries link on a known forge becomes a
list of its own. Its entries are untrusted (anyone can open a pull request): links are read
as data, names are made safe and unique, and what one list of lists brings is bounded.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from .config import Config, ListConfig, ListsFromConfig
from .models import Entry, ListSource
from .storage import Storage
from .sync import now_iso

log = logging.getLogger(__name__)

# Forges whose https://host/owner/repo links are repositories (lists_from[].forges adds more).
FORGES = frozenset({"github.com", "gitlab.com", "codeberg.org", "gitea.com", "bitbucket.org"})
# First path parts on github.com that are pages, not owners.
_NOT_OWNERS = frozenset(
    {"about", "apps", "collections", "contact", "customer-stories", "enterprise", "events",
     "explore", "features", "login", "marketplace", "new", "notifications", "orgs",
     "organizations", "pricing", "pulls", "issues", "search", "settings", "site", "sponsors",
     "topics", "trending", "users", "readme", "security", "codespaces"}
)  # fmt: skip
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,98})$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
NAME_LIMIT = 64  # config._NAME: list names are used in URLs


@dataclass(frozen=True, slots=True)
class Linked:
    """A repository a list of lists links: where to clone it, and the name it is known by."""

    repo: str  # https://host/owner/repo (no .git, no trailing slash)
    slug: str  # owner/repo, as the link spelled it


def repository_of(url: str, forges: Iterable[str] = ()) -> Linked | None:
    """Return the repository a link points at (its home, a file or a folder in it), or None
    for anything else: another host, a user's page, a forge's own pages."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower().removeprefix("www.")
    if parts.scheme.lower() not in ("https", "http") or parts.username or parts.password:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    where = f"{host}:{port}" if port else host
    if host not in FORGES and where not in forges and host not in forges:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2:
        return None
    owner, name = segments[0], segments[1].removesuffix(".git")
    if host == "github.com" and owner.lower() in _NOT_OWNERS:
        return None
    if not _OWNER.match(owner) or not _REPO.match(name) or name in (".", ".."):
        return None
    return Linked(f"https://{where}/{owner}/{name}", f"{owner}/{name}")


def linked_repositories(
    entries: Iterable[Entry], own_repo: str, forges: Iterable[str] = ()
) -> list[Linked]:
    """Return the repositories the entries link, in list order, each once (compared without
    case: GitHub's owner and repository names are case-insensitive); never the list's own."""
    forges = tuple(forges)
    own = repository_of(own_repo, forges)
    seen = {own.repo.casefold()} if own else set()
    found = []
    for entry in entries:
        linked = repository_of(entry.url, forges)
        if linked is None or linked.repo.casefold() in seen:
            continue
        seen.add(linked.repo.casefold())
        found.append(linked)
    return found


def safe_name(slug: str) -> str:
    """Return a list name (letters, digits, '.', '_', '-'; used in URLs) from owner/repo."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", slug.replace("/", "--"))
    name = re.sub(r"^[^A-Za-z0-9]+", "", name)
    return name[:NAME_LIMIT].rstrip("-.") or "list"


def unique_name(slug: str, repo: str, taken: set[str]) -> str:
    """Return safe_name(slug), or with a short digest of the repository when it is taken
    (two slugs that are equal once made safe, a configured list of that name)."""
    name = safe_name(slug)
    if name.casefold() not in taken:
        return name
    digest = hashlib.sha1(repo.encode()).hexdigest()
    for size in (6, 10, 40):
        candidate = f"{name[: NAME_LIMIT - size - 1]}-{digest[:size]}"
        if candidate.casefold() not in taken:
            return candidate
    raise ValueError(f"no free name for {repo}")  # 40 hex digits of sha1 taken: never


@dataclass(frozen=True, slots=True)
class Membership:
    """The lists a list of lists brought and dropped since it was last read."""

    joined: list[str]
    left: list[str]


def plan_members(
    linked: Sequence[Linked],
    known: dict[str, str],
    taken: set[str],
    max_lists: int,
) -> tuple[list[tuple[str, str]], int]:
    """Name the first `max_lists` repositories: `known` maps a repository (casefolded) to
    the name it had before (names never change), `taken` holds every other list's name
    (casefolded; a new name avoids them). Return (name, repo) pairs and how many were linked."""
    taken = set(taken)
    chosen = []
    for item in linked[:max_lists]:
        name = known.get(item.repo.casefold())
        if name is None:
            name = unique_name(item.slug, item.repo, taken)
        taken.add(name.casefold())
        chosen.append((name, item.repo))
    return chosen, len(linked)


def refresh(storage: Storage, config: Config, item: ListsFromConfig) -> Membership:
    """Read what the list of lists `item` links now (its entries as last synced) and make
    those the lists it brings: new ones join, missing ones leave (their history stays)."""
    meta = item.source().name
    linked = linked_repositories(
        (stored.entry for stored in storage.entries(meta)), item.repo, item.forges
    )
    # A new name avoids every list's, configured ones not yet synced included.
    taken = storage.list_names() | {source.name.casefold() for source in config.sources()}
    follow, count = plan_members(linked, storage.member_names(), taken, item.max_lists)
    joined, left = storage.set_members(meta, follow, count, now_iso())
    if count > item.max_lists:
        log.warning("%s: links %d repositories; following the first %d (max_lists)",
                    meta, count, item.max_lists)  # fmt: skip
    if joined or left:
        log.info("list of lists %s: %d lists joined, %d left", meta, len(joined), len(left))
    return Membership(joined, left)


def sources(storage: Storage, config: Config) -> list[ListSource]:
    """Return every list to follow: the configured ones, then those lists of lists bring
    (each with its list of lists' interval, branch-less, its readme found at its head)."""
    metas = {item.source().name: item for item in config.lists_from}
    found = config.sources()
    for name, repo, meta in storage.members():
        item = metas.get(meta)
        if item is None:  # its list of lists left the configuration: not followed
            continue
        found.append(
            replace(
                ListConfig(name=name, repo=repo, interval=item.interval).source(config.sync),
                meta=meta,
            )
        )
    return found
