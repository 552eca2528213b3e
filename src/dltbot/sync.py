"""The use case: fetch a list's repository, walk its new commits, store what changed.

One transaction per processed commit: killing the process at any point and syncing again gives
the same events as an uninterrupted run.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import gitsource, urls
from .diff import DiffState, diff_entries
from .errors import ConcurrentSyncError, DltbotError, ListFileMissingError
from .listparse import PARSER_VERSION, ListParser, ParsedList
from .models import Commit, ListSource, ListState, SyncReport
from .storage import Storage
from .untrusted import redact

log = logging.getLogger(__name__)

# Called after each processed version with (done, total).
Progress = Callable[[int, int], None]


def now_iso() -> str:
    """Return the current time as events and statuses record it (UTC, ISO 8601)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def event_counts(report: SyncReport) -> str:
    """Return a report's events as "3 added, 1 removed" ("" for none)."""
    return ", ".join(f"{n} {kind}" for kind, n in sorted(report.events.items()))


def report_summary(reports: Sequence[SyncReport]) -> str:
    """One part per list: its commits and events, or its error (the bot's /sync answer)."""
    return "; ".join(
        f"{r.name}: {r.error}"
        if r.error
        else f"{r.name}: {r.commits} commits, " + (event_counts(r) or "no events")
        for r in reports
    )


def not_text(data: bytes) -> str | None:
    """Say why a version of the list file is not a list's text, or None if it is."""
    if b"\0" in data[:8192]:
        return "is not text"
    if gitsource.is_lfs_pointer(data):
        return "is a Git LFS pointer"
    return None


def sync_all(
    storage: Storage,
    sources: Sequence[ListSource],
    clones: Path,
    progress: Callable[[str], Progress | None] | None = None,
    warm: dict[str, WarmList] | None = None,
) -> list[SyncReport]:
    """Sync every list; one failing list never stops the others."""
    reports = []
    for source in sources:
        reports.append(
            sync_list(storage, source, clones, progress(source.name) if progress else None, warm)
        )
    return reports


def sync_list(
    storage: Storage,
    source: ListSource,
    clones: Path,
    progress: Progress | None = None,
    warm: dict[str, WarmList] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SyncReport:
    """Fetch one list's repository and record the events of every new commit.

    `should_stop` is asked between commits: a shutting-down service lets the current commit's
    transaction finish and resumes from there next time.

    A long-running caller passes `warm` (kept between syncs): a list's parser then still
    holds the last version's chunks and the diff its entries, so an incremental sync parses
    only what changed and reads no entries from the database.
    """
    started = time.monotonic()
    report = SyncReport(source.name)
    state = storage.ensure_list(source.name, source.repo)
    walker: _Walker | None = None
    clone = gitsource.clone_dir_for(clones, source.name, source.repo)
    try:
        if _unchanged(state, source, clone, should_stop):
            # Nothing new upstream: one request to the remote, no fetch, no parse.
            storage.mark_synced(
                state.id, state.head or "", now_iso(), backfilled=True,
                parser_version=PARSER_VERSION,
            )  # fmt: skip
            report.head = state.head
            return report
        repository = gitsource.open_repo(
            source.repo, clone, source.git_timeout_seconds, should_stop, source.max_clone_bytes
        )
        branch = source.branch or gitsource.default_branch(repository)
        head = gitsource.head_commit(repository, branch)
        path = gitsource.find_list_file(repository, head, source.path or state.path)
        # A list file over the limit at the head fails the list before anything is parsed.
        gitsource.check_file_size(repository, head, path, source.max_file_bytes)
        storage.set_tracking(state.id, path, branch)
        base_url = urls.blob_base(source.repo, branch, path)
        kept = (warm or {}).get(source.name)
        if kept is None or kept.parser.base_url != base_url or kept.parser.synced_to != state.head:
            # Its chunks must be those of the version the database holds, or none at all.
            kept = WarmList(ListParser(base_url))
        if warm is not None:
            warm[source.name] = kept
        parser = kept.parser
        walker = _Walker(storage, state.id, kept, state.head)
        rewritten = bool(state.head) and state.head != head
        rewritten = rewritten and not gitsource.is_ancestor(repository, state.head or "", head)
        if state.head and not rewritten and state.parser_version != PARSER_VERSION:
            walker.reread(repository, state.head, path, source.max_file_bytes)
        if state.head == head:
            pass
        elif rewritten:
            # History was rewritten under us: diff what we hold against the new head, so
            # nothing already announced is announced again.
            log.warning(
                "list %s: last processed commit %s is gone; diffing against head %s",
                source.name,
                (state.head or "")[:12],
                head[:12],
            )
            walker.process(
                gitsource.commit_info(repository, head),
                gitsource.read_file(repository, head, path),  # its size was checked above
            )
        else:
            versions = gitsource.list_versions(
                repository, path, head, state.head, source.git_timeout_seconds, should_stop
            )
            if state.head is None:
                storage.defer_index(state.id)
            readable = [v for v in versions if v.blob and v.regular]
            readable = [v for v in readable if v.size <= source.max_file_bytes]
            # Blobs stream in one at a time: a backfill's versions together are gigabytes.
            with gitsource.blob_stream(repository, [v.blob or "" for v in readable]) as blobs:
                report.stopped = _walk(walker, versions, blobs, source, progress, should_stop)
        if not report.stopped:
            walker.finish()
            storage.mark_synced(
                state.id, head, now_iso(), backfilled=True, parser_version=PARSER_VERSION
            )
            parser.synced_to = head
            parser.compact()  # kept warm: the last version, not the history walked
            report.head = head
    except ConcurrentSyncError as error:
        if warm is not None:
            warm.pop(source.name, None)
        report.error = str(error)
        log.warning("list %s: %s", source.name, error)
        return report
    except Exception as error:
        # Every failure marks the list failing with its reason, a bug's included: a list that
        # stays "ok" while it never moves again is the one failure nobody would notice.
        if warm is not None:
            warm.pop(source.name, None)
        if isinstance(error, (DltbotError, OSError)):
            message = redact(str(error))
            if isinstance(error, ListFileMissingError):
                message += " (deleted or renamed?); set the list's path to follow it"
            log.warning("list %s failed: %s", source.name, message)
        else:
            message = redact(f"unexpected error: {type(error).__name__}: {error}")[:500]
            log.exception("list %s: sync failed unexpectedly", source.name)
        storage.mark_failing(state.id, message, now_iso())
        report.error = message
        return report
    finally:
        report.seconds = time.monotonic() - started
        if walker is not None:
            report.commits = walker.commits
            report.events = walker.counts
    return report


def _unchanged(
    state: ListState, source: ListSource, clone: Path, should_stop: Callable[[], bool] | None
) -> bool:
    """Tell whether the remote's branch is still at the commit last processed (asked with
    one ls-remote, before any fetch), with the same file, branch and parser."""
    if not (state.head and state.branch and state.path and (clone / "HEAD").exists()):
        return False
    if state.parser_version != PARSER_VERSION or state.status == "new":
        return False
    if source.path not in (None, state.path) or source.branch not in (None, state.branch):
        return False
    sha = gitsource.remote_head(
        source.repo, clone, state.branch, source.branch is None, source.git_timeout_seconds,
        should_stop,
    )  # fmt: skip
    return sha == state.head


# Commits are stored in transactions of at most this many commits or about this long: one per
# commit would spend much of a backfill writing the same pages again; longer ones would hold
# other writers waiting and lose more work to a crash.
BATCH_COMMITS = 50
BATCH_SECONDS = 0.25


def _walk(
    walker: _Walker,
    versions: Sequence[gitsource.Version],
    blobs: Iterator[bytes],
    source: ListSource,
    progress: Progress | None,
    should_stop: Callable[[], bool] | None,
) -> bool:
    """Process versions in order (`blobs` yields those that can be read); return whether a
    stop was asked before the end. A stop or a crash loses at most the open batch, which the
    next sync processes again: events are the same as an uninterrupted run's."""
    versions_left = iter(enumerate(versions, start=1))
    while True:
        batch_started = time.monotonic()
        with walker.storage.atomic():
            for done, version in versions_left:
                if should_stop is not None and should_stop():
                    return True
                if version.blob is None:
                    walker.skip(version.commit, "deleted")
                elif not version.regular:
                    walker.skip(version.commit, "is a symbolic link or a submodule")
                elif version.size > source.max_file_bytes:
                    walker.skip(version.commit, "is over sync.max_file_size")
                else:
                    walker.process(version.commit, next(blobs))
                if progress:
                    progress(done, len(versions))
                if done % BATCH_COMMITS == 0 or time.monotonic() - batch_started > BATCH_SECONDS:
                    break
            else:
                return False


class WarmLists(collections.OrderedDict[str, "WarmList"]):
    """What a long-running caller keeps warm, for at most `size` lists (the ones synced last):
    with hundreds of lists, memory must not grow with their number."""

    def __init__(self, size: int = 16) -> None:
        super().__init__()
        self.size = size
        self.lock = threading.Lock()  # syncs of different lists run on several threads

    def __setitem__(self, name: str, value: WarmList) -> None:
        with self.lock:
            super().__setitem__(name, value)
            self.move_to_end(name)
            while len(self) > self.size:
                self.popitem(last=False)


@dataclass(slots=True)
class WarmList:
    """What a long-running caller keeps of a list between syncs: the parser (the chunks of
    the version the database holds, `parser.synced_to`) and the diff's state at that version.
    Dropped whenever a sync fails, so it never outlives a rolled-back transaction."""

    parser: ListParser
    state: DiffState | None = None


class _Walker:
    """Diff each version against the last one processed, one transaction per commit."""

    def __init__(self, storage: Storage, list_id: int, warm: WarmList, head: str | None) -> None:
        self.storage = storage
        self.head = head  # the last commit recorded: each commit is recorded after it
        self.list_id = list_id
        self.parser = warm.parser
        if warm.state is None:
            warm.state = DiffState(
                storage.current_entries(list_id), storage.seen_identities(list_id)
            )
        self.state = warm.state
        self.commits = 0
        self.counts: dict[str, int] = {}
        self.last: ParsedList | None = None

    def skip(self, commit: Commit, reason: str) -> None:
        """Record a commit whose version is not a list (deleted, binary, a symlink, too large).

        Such a version is not a list that lost every entry: the next good version is diffed
        against the last good one.
        """
        self.commits += 1
        log.warning("commit %s: list file %s; skipped", commit.sha[:12], reason)
        with self.storage.atomic():
            self.storage.record_commit(self.list_id, commit, (), (), (), self.head)
        self.head = commit.sha
        self.parser.synced_to = commit.sha  # the skipped version changed no state

    def reread(self, repository: gitsource.Repo, sha: str, path: str, max_bytes: int) -> None:
        """Read the version the database holds again with this parser, and store the entries
        as it reads them without events: a parser upgrade is not an edit of the list.

        A head version that cannot be read (deleted, too large, not text) is left as it is.
        """
        commit = gitsource.commit_info(repository, sha)
        try:
            gitsource.check_file_size(repository, sha, path, max_bytes)
            data = gitsource.read_file(repository, sha, path)
        except DltbotError as error:
            log.info("list file at %s not re-read: %s", sha[:12], error)
            data = b""
        if data and not_text(data) is None:
            parsed = self.parser.parse(data)
            new, old = parsed.by_identity, self.state.current
            positions = parsed.positions()
            changed = [(positions[i], entry) for i, entry in new.items() if old.get(i) != entry]
            removed = sorted(old.keys() - new.keys())
            self.parser.synced_to = sha
            self.state.current = new
            self.state.seen.update(new)
            self.last = parsed
        else:
            changed, removed = [], []
        self.storage.reread_entries(self.list_id, commit, changed, removed, PARSER_VERSION)
        log.info("list re-read at %s by parser %d: %d entries updated", sha[:12],
                 PARSER_VERSION, len(changed) + len(removed))  # fmt: skip

    def process(self, commit: Commit, data: bytes) -> None:
        """Record the events of one version of the list file."""
        reason = not_text(data)
        if reason is not None:
            self.skip(commit, reason)
            return
        self.commits += 1
        parsed = self.parser.parse(data)
        new = parsed.by_identity
        old = self.state.current
        events = diff_entries(old, new, self.state.seen, parsed.fresh)
        changed_ids = [
            identity
            for identity in dict.fromkeys(parsed.fresh)
            if (before := old.get(identity)) is not (entry := new[identity]) and before != entry
        ]
        changed = []
        if changed_ids:
            positions = parsed.positions(changed_ids)
            changed = [(positions[identity], new[identity]) for identity in changed_ids]
        removed = sorted(old.keys() - new.keys())
        # Inside the batch's transaction (_walk): if it rolls back, sync_list drops the parser.
        self.parser.synced_to = None
        with self.storage.atomic():
            self.storage.record_commit(self.list_id, commit, events, changed, removed, self.head)
        self.head = commit.sha
        self.parser.synced_to = commit.sha
        self.state.current = new
        self.state.seen.update(changed_ids)
        self.last = parsed
        for event in events:
            self.counts[event.kind] = self.counts.get(event.kind, 0) + 1

    def finish(self) -> None:
        """Store the positions of the entries as the last version orders them."""
        if self.last is not None:
            self.storage.write_positions(self.list_id, self.last.entries())
