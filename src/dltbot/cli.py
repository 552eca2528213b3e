"""The `dltbot` command: parses arguments, calls the library, turns DltbotError into exit 1."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import logging
import os
import re
import shutil
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import __version__, gitsource, logfilter, papers
from .config import DEFAULT_PATH, Config, FeedConfig, ListConfig, load_config, parse_listen
from .errors import ConfigError, DltbotError
from .listparse import parse_entries
from .models import EVENT_KINDS, LINK_STATUSES, EventKind, StoredEntry, StoredEvent
from .present import paths
from .present.data import entry_json, event_json, result_json
from .present.view import EntryView, section_label
from .query import check_words, under_section
from .storage import Storage
from .sync import Progress, event_counts, sync_all
from .untrusted import redact, shorten, terminal_safe

log = logging.getLogger("dltbot")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    commands: dict[str, Any] = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr,assignment]
    command = _command_of(argv)
    if command is None and not {"-h", "--help", "--version"} & set(argv):
        parser.print_help()  # a bare `dltbot`: what it can do
        return 2
    if command is not None and command not in commands:
        close = difflib.get_close_matches(command, list(commands), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        print(f"dltbot: error: no command {terminal_safe(command)!r}{hint} "
              "(dltbot --help lists them)", file=sys.stderr)  # fmt: skip
        return 2
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.log_format)
    try:
        code: int = args.func(args)
        return code
    except DltbotError as error:
        print(f"dltbot: error: {terminal_safe(str(error))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dltbot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


_VALUED = ("--config", "--db", "--log-format")  # global options that take a value


def _command_of(argv: Sequence[str]) -> str | None:
    """The command word of argv (global options may come before it), if any."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in _VALUED:
            skip = True
        elif not word.startswith("-"):
            return word
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:  # set, with secrets removed, by logfilter
            data["error"] = record.exc_text
        elif record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(verbose: bool, form: str) -> None:
    """Log to stderr, as text or JSON; httpx never logs (its URLs carry the bot token)."""
    handler = logging.StreamHandler(sys.stderr)
    if form == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logfilter.install(handler)  # the bot token and URL credentials never reach a log line
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="dltbot",
        description="Follow a curated awesome list's git history: what was added, changed, "
        "moved or removed.",
    )
    parser.add_argument("--version", action="version", version=f"dltbot {__version__}")
    # The global options go before or after the command (`dltbot --db X lists` and `dltbot
    # lists --db X`): the main parser holds their defaults, each command takes them again
    # without defaults of its own, so a value given after the command wins.
    parser.set_defaults(verbose=False, log_format="text", config=None, db=None)
    shared = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    for where in (parser, shared):
        where.add_argument("-v", "--verbose", action="store_true", help="log debug details")
        where.add_argument(
            "--log-format", choices=("text", "json"), help="log lines as text or JSON"
        )
        where.add_argument("--config", metavar="FILE", help="YAML config (default: embedded)")
        where.add_argument("--db", metavar="PATH", help="database file (overrides the config)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help, parents=[shared])
        return sub

    run = command("run", "Run the service: scheduled syncs, the web server and the bot.")
    run.set_defaults(func=cmd_run)

    health = command("healthcheck", "Exit 0 if the service's /healthz answers 200, else 1.")
    health.add_argument("--url", help="health URL (default: http://<web.listen>/healthz)")
    health.set_defaults(func=cmd_healthcheck)

    sync = command("sync", "Fetch each list and record the events of its new commits.")
    sync.add_argument("--repo", help="repository URL, local clone or git bundle (no --config)")
    sync.add_argument("--path", help=f"list file in the repository (default {DEFAULT_PATH})")
    sync.add_argument("--name", help="list name (default: the repository's name)")
    sync.add_argument("--branch", help="branch to follow (default: the remote's HEAD)")
    sync.add_argument(
        "--list", dest="only", metavar="NAME",
        help="sync only this list (a list of lists: and the lists it brings)",
    )  # fmt: skip
    sync.set_defaults(func=cmd_sync)

    events = command("events", "Show recorded events, oldest first.")
    events.add_argument("--list", help="only this list")
    events.add_argument(
        "--kind", action="append", choices=(*EVENT_KINDS, *papers.FOLLOW_UPS),
        help="only this kind (repeatable); revised, published and code are papers' news",
    )  # fmt: skip
    events.add_argument("--limit", type=int, help="at most this many (the newest)")
    events.add_argument("--json", action="store_true", help="one JSON object per line")
    events.set_defaults(func=cmd_events)

    search = command(
        "search",
        "Search current entries: titles, descriptions, headings, then authors and abstracts.",
    )
    search.add_argument("words", nargs="+", help="words to find (literal text)")
    search.add_argument("--list", help="only this list")
    search.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    search.add_argument("--json", action="store_true", help="one JSON object per line")
    search.set_defaults(func=cmd_search)

    random = command("random", "Show one random current entry.")
    random.add_argument("--list", help="only this list")
    random.add_argument("--section", help="only under headings holding these words")
    random.add_argument("--json", action="store_true", help="one JSON object")
    random.set_defaults(func=cmd_random)

    entries = command("entries", "Show a list's current entries, in list order.")
    entries.add_argument("--list", help="only this list")
    entries.add_argument("--section", help="only under headings holding these words")
    entries.add_argument("--json", action="store_true", help="one JSON object per line")
    entries.set_defaults(func=cmd_entries)

    paper_list = command("papers", "Show each paper once, with every list and section it is in.")
    paper_list.add_argument("--list", help="only papers this list holds")
    paper_list.add_argument("--json", action="store_true", help="one JSON object per line")
    paper_list.set_defaults(func=cmd_papers)

    bib = command("bib", "Write the BibTeX of a list's papers (and its other entries).")
    bib.add_argument("--list", help="only this list")
    bib.add_argument("--section", help="only under headings holding these words")
    bib.add_argument("--since", metavar="DATE", help="only entries added on or after (YYYY-MM-DD)")
    bib.add_argument("--out", metavar="FILE", type=Path, help="write here (default: stdout)")
    bib.set_defaults(func=cmd_bib)

    lists = command("lists", "Show each list's sync status.")
    lists.add_argument("--json", action="store_true", help="one JSON object per line")
    lists.set_defaults(func=cmd_lists)

    remove = command("remove", "Delete a list and all its rows (entries, events, pushes).")
    remove.add_argument("name", help="the list's name (see dltbot lists)")
    remove.set_defaults(func=cmd_remove)

    backup = command("backup", "Write a consistent copy of the database (safe while dltbot runs).")
    backup.add_argument("path", type=Path, help="the file to write")
    backup.add_argument("--force", action="store_true", help="replace PATH if it exists")
    backup.set_defaults(func=cmd_backup)

    parse = command("parse", "Parse a Markdown list file and show its entries.")
    parse.add_argument("file", type=Path, help="the Markdown file ('-' for standard input)")
    parse.add_argument("--base-url", help="resolve relative links against this URL")
    parse.add_argument("--json", action="store_true", help="one JSON object per line")
    parse.set_defaults(func=cmd_parse)

    serve = command("serve", "Serve the feeds, the page, search and health over HTTP.")
    serve.add_argument("--listen", metavar="HOST:PORT", help="address (default: web.listen)")
    serve.set_defaults(func=cmd_serve)

    export = command("export", "Write the feeds, OPML and page as static files.")
    export.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder to fill")
    export.add_argument(
        "--base-url", metavar="URL", help="public URL the files are served at (feed.base_url)"
    )
    export.set_defaults(func=cmd_export)

    enrich = command(
        "enrich", "Fetch what each entry's link is (authors, abstract, code) and check links "
        "that are due, once; then exit.",
    )  # fmt: skip
    enrich.add_argument("--list", help="only this list")
    enrich.add_argument("--all", action="store_true", help="every URL now, due or not")
    enrich.set_defaults(func=cmd_enrich)

    links = command(
        "links", "Report link health, one row per current entry URL; exit 1 if any is broken."
    )
    links.add_argument("--list", help="only this list")
    links.add_argument("--status", choices=LINK_STATUSES, help="only links in this status")
    links.add_argument("--json", action="store_true", help="one JSON object per line")
    links.set_defaults(func=cmd_links)

    bot = command("bot", "Run the Telegram bot alone (commands, inline mode, pushes).")
    bot.set_defaults(func=cmd_bot)

    check = command("check-config", "Validate a config file; exit 1 naming the bad key.")
    check.set_defaults(func=cmd_check_config)
    return parser


# --- commands -------------------------------------------------------------------------------


def _open_storage(args: argparse.Namespace) -> Storage:
    """Open the database; a command that only reads refuses to create an empty one (a
    mistyped --db would otherwise print nothing and leave a stray file)."""
    config = load_config(args.config)
    path = Path(args.db) if args.db else config.database_path()
    if not path.exists():
        raise DltbotError(f"no database at {path} (run dltbot sync first)")
    return Storage(path)


def cmd_sync(args: argparse.Namespace) -> int:
    """Sync the lists of the config, or the one given by --repo."""
    if args.repo and args.config:
        raise DltbotError("--repo and --config: give one or the other")
    config = load_config(args.config)
    if args.repo:
        sources = [
            ListConfig(repo=args.repo, name=args.name, path=args.path, branch=args.branch).source()
        ]
    else:
        sources = config.sources()
        if args.only:
            sources = [source for source in sources if source.name == args.only]
    db_path = Path(args.db) if args.db else config.database_path()
    with Storage(db_path) as storage:
        if args.only and not sources and args.only not in {m[0] for m in storage.members()}:
            raise DltbotError(f"--list {args.only}: no such list in the config")
        reports = sync_all(storage, sources, db_path.parent / "clones", _progress_factory())
        if not args.repo:
            reports += _sync_members(storage, config, reports, args.only, db_path)
    failed = 0
    for report in reports:
        if report.error:
            failed += 1
            print(terminal_safe(f"{report.name}: FAILED: {report.error}"), file=sys.stderr)
            continue
        counts = event_counts(report) or "none"
        head = (report.head or "")[:12]
        log.info(
            "list %s synced: %d new commits, events: %s, head %s, %.2fs",
            report.name, report.commits, counts, head, report.seconds,
        )  # fmt: skip
    return 1 if failed else 0


def _sync_members(
    storage: Storage, config: Any, reports: list[Any], only: str | None, db_path: Path
) -> list[Any]:
    """After the lists of lists synced, follow what they link: sync the lists they bring
    (with --list, only a list of lists' own members, or that one list)."""
    from . import metalist

    synced = {report.name for report in reports if not report.error}
    metas = [item for item in config.lists_from if item.source().name in synced]
    for item in metas:  # a bound reached is logged (to stderr) by refresh
        metalist.refresh(storage, config, item)
    members = [s for s in metalist.sources(storage, config) if s.meta is not None]
    if only:
        members = [s for s in members if only in (s.meta, s.name)]
    return sync_all(storage, members, db_path.parent / "clones", _progress_factory())


def _progress_factory() -> Any:
    """Return a per-list progress callback: a bar on a terminal, log lines otherwise."""
    tty = sys.stderr.isatty()

    def for_list(name: str) -> Progress:
        def progress(done: int, total: int) -> None:
            if total < 2:
                return
            if tty:
                width = 30
                filled = width * done // total
                bar = "#" * filled + "-" * (width - filled)
                end = "\n" if done == total else ""
                print(f"\r{name} [{bar}] {done}/{total} versions", end=end, file=sys.stderr)
            elif done == total or done % max(1, total // 10) == 0:
                log.info("list %s: %d/%d versions processed", name, done, total)

        return progress

    return for_list


def cmd_events(args: argparse.Namespace) -> int:
    """Print events (or, for revised/published/code, the news of the lists' papers)."""
    wanted: list[str] = args.kind or []
    news = [kind for kind in wanted if kind in papers.FOLLOW_UPS]
    if news and len(news) != len(wanted):
        raise DltbotError("--kind: papers' news (revised, published, code) go without others")
    if news:
        return _print_follow_ups(args, news)
    kinds: list[EventKind] = args.kind or []
    with _open_storage(args) as storage:
        _check_list(storage, args.list)
        events = storage.events(args.list, kinds, limit=args.limit, newest_first=True)
        total = (
            len(events)
            if args.limit is None
            else storage.count_events(kinds or EVENT_KINDS, args.list)
        )
    for event in reversed(events):
        if args.json:
            _print_json(event_json(event))
        else:
            print(terminal_safe(_event_line(event)))
    if not args.json and len(events) < total:
        print(f"{len(events)} of {total} events shown (the newest); --limit N", file=sys.stderr)
    return 0


def _print_follow_ups(args: argparse.Namespace, kinds: list[str]) -> int:
    with _open_storage(args) as storage:
        _check_list(storage, args.list)
        found = storage.follow_up_events(args.list, kinds, limit=args.limit or 1000)
    for news in reversed(found):
        if args.json:
            _print_json({"id": news.id, "kind": news.kind, "list": news.list,
                         "title": news.title, "url": news.url, "value": news.value,
                         "detail": news.detail, "date": news.found_at})  # fmt: skip
        else:
            line = f"{news.found_at[:10]} {news.kind:<9} {news.list}: {news.title} ({news.value})"
            print(terminal_safe(line))
    return 0


def _event_line(event: StoredEvent) -> str:
    """One event as text; a change or move shows what it was before: `old → new`."""
    entry, old = event.entry, event.old
    line = f"{event.commit.date[:10]} {event.kind:<8} {event.list}: {entry.title} <{entry.url}>"
    line += _section(entry.section)
    if old is not None and event.kind == "moved":
        line += f" (from{_section(old.section) or ' no heading'})"
    elif old is not None:
        changes = [
            f"{label} {before!r} → {after!r}"
            for label, before, after in (
                ("title", old.title, entry.title),
                ("url", old.url, entry.url),
                ("description", shorten(old.description, 60), shorten(entry.description, 60)),
            )
            if before != after
        ]
        line += f" ({'; '.join(changes)})" if changes else ""
    return line


def _section(section: Sequence[str]) -> str:
    return f" [{section_label([section])}]" if section else ""


def cmd_search(args: argparse.Namespace) -> int:
    """Print entries matching the words."""
    words = check_words("WORDS", " ".join(args.words)) or ""
    with _open_storage(args) as storage:
        # One more page than asked, to say how many there are (up to 1,000).
        results = papers.collapse(storage.search(words, args.list, limit=max(args.limit, 1000)))
    if not results:
        if not args.json:
            print("no match", file=sys.stderr)
        return 1  # nothing found: 1, as `random` and grep say it
    for result, others in results[: args.limit]:  # a paper once, with where else it stands
        _print_entry(result, args.json, others)
    if not args.json and len(results) > args.limit:
        total = f"{len(results)}+" if len(results) == 1000 else str(len(results))
        print(f"{args.limit} of {total} shown; --limit N for more", file=sys.stderr)
    return 0


def cmd_random(args: argparse.Namespace) -> int:
    """Print one random entry."""
    section = check_words("--section", args.section)
    with _open_storage(args) as storage:
        result = storage.random_entry(args.list, section)
    if result is None:
        print("no entries", file=sys.stderr)
        return 1
    _print_entry(result, args.json)
    return 0


def cmd_entries(args: argparse.Namespace) -> int:
    """Print the current entries of one list or all, in list order."""
    section = check_words("--section", args.section)
    with _open_storage(args) as storage:
        found = _current(args, storage)
    for result in under_section(found, section):
        _print_entry(result, args.json)
    return 0


def _check_list(storage: Storage, name: str | None) -> None:
    """Refuse a --list the database does not hold."""
    if name and storage.list_state(name) is None:
        raise DltbotError(f"--list {name}: no such list in the database")


def _current(args: argparse.Namespace, storage: Storage) -> list[StoredEntry]:
    """The current entries of --list (or of every list), in list order."""
    _check_list(storage, args.list)
    names = [args.list] if args.list else [state.name for state in storage.list_states()]
    return [e for name in names for e in storage.entries(name)]


def cmd_papers(args: argparse.Namespace) -> int:
    """Print each paper once: key, title, authors, year, venue, links, where it stands."""
    with _open_storage(args) as storage:
        _check_list(storage, args.list)
        # Every list's entries: a paper of --list shows all the lists that hold it.
        everything = [e for s in storage.list_states() for e in storage.entries(s.name)]
    found = papers.group(everything)
    if args.list:
        found = [p for p in found if any(e.list == args.list for e in p.entries)]
    for paper in found:
        if args.json:
            _print_json(paper.to_json())
            continue
        data = paper.to_json()
        authors = ", ".join(data["authors"][:3]) + (" et al." if len(data["authors"]) > 3 else "")
        facts = " · ".join(part for part in (authors, data["year"], data["venue"]) if part)
        print(terminal_safe(f"{paper.key}  {paper.title}"))
        if facts:
            print(terminal_safe(f"  {facts}"))
        for name, section in paper.places():
            print(terminal_safe(f"  in {name}" + (f" › {section}" if section else "")))
    if not found:
        print("no papers", file=sys.stderr)
        return 1
    return 0


def cmd_bib(args: argparse.Namespace) -> int:
    """Write BibTeX of the current entries (papers once each)."""
    from .bib import bibtex

    section = check_words("--section", args.section)
    since = args.since or ""
    if since and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", since):
        raise DltbotError(f"--since {since!r}: a date as YYYY-MM-DD")
    with _open_storage(args) as storage:
        found = _current(args, storage)
    found = [e for e in under_section(found, section) if e.first_date[:10] >= since]
    text = bibtex(found)
    if args.out is None:
        sys.stdout.write(text)
    else:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as error:
            raise DltbotError(f"--out {args.out}: {error.strerror or error}") from error
        print(f"dltbot: wrote {len(found)} entries to {args.out}", file=sys.stderr)
    return 0 if found else 1


def cmd_remove(args: argparse.Namespace) -> int:
    """Delete a list, its rows and its clone."""
    with _open_storage(args) as storage:
        state = storage.list_state(args.name)
        removed = storage.remove_list(args.name)
        clones = storage.path.parent / "clones"
    if state is None or removed is None:
        raise DltbotError(f"{args.name}: no such list in the database (see dltbot lists)")
    shutil.rmtree(gitsource.clone_dir_for(clones, state.name, state.repo), ignore_errors=True)
    counts = ", ".join(f"{count} {table}" for table, count in removed.items())
    print(terminal_safe(f"removed {state.name} ({redact(state.repo)}): {counts}"))
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Copy the database with SQLite's online backup, then say how to restore it."""
    target: Path = args.path
    if target.is_dir():
        raise DltbotError(f"{target}: is a directory; name the backup file")
    if target.exists() and not args.force:
        raise DltbotError(f"{target} exists; add --force to replace it")
    # Written beside the target, then renamed: a failed backup never replaces a good one.
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with _open_storage(args) as storage:
            counts = storage.backup(partial)
            source = storage.path
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    summary = ", ".join(f"{count} {table}" for table, count in counts.items())
    print(terminal_safe(f"backup of {source} written to {target} ({summary}; integrity ok)"))
    print(
        terminal_safe(
            f"to restore: stop dltbot, delete {source}-wal and {source}-shm if present, "
            f"copy {target} to {source}, start dltbot"
        )
    )
    return 0


def cmd_lists(args: argparse.Namespace) -> int:
    """Print each list's status."""
    with _open_storage(args) as storage:
        for state in storage.list_states():
            count = storage.entry_count(state.id)
            if args.json:
                _print_json(
                    {
                        "list": state.name,
                        "repo": redact(state.repo),
                        "path": state.path,
                        "branch": state.branch,
                        "head": state.head,
                        "status": state.status,
                        "entries": count,
                        "last_sync": state.last_sync_at,
                        "last_success": state.last_success_at,
                        "last_error": redact(state.last_error or "") or None,
                        "from": state.meta,
                        "left": state.left_at,
                        "links_lists": state.linked,
                    }
                )
            else:
                error = f" ({redact(state.last_error)})" if state.last_error else ""
                head = (state.head or "-")[:12]
                origin = f", from {state.meta}" if state.meta else ""
                if state.left_at:
                    origin += f" (left it {state.left_at[:10]}; not followed)"
                if state.linked is not None:
                    origin += f", links {state.linked} repositories"
                print(
                    terminal_safe(
                        f"{state.name}: {state.status}{error}, {count} entries, head {head}{origin}"
                    )
                )
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    """Print the entries of a Markdown file."""
    try:
        data = sys.stdin.buffer.read() if str(args.file) == "-" else args.file.read_bytes()
    except OSError as error:
        raise DltbotError(f"{args.file}: cannot read: {error.strerror or error}") from error
    for position, entry in enumerate(parse_entries(data, args.base_url)):
        if args.json:
            _print_json({**entry_json(entry), "position": position})
        else:
            text = f"{entry.title} <{entry.url}>{_section(entry.section)} {entry.description}"
            print(terminal_safe(text.rstrip()))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the HTTP server until interrupted."""
    from . import web  # aiohttp, feedgen and lxml load only for the commands that serve
    from .site import Site

    config = load_config(args.config)
    host, port = parse_listen(args.listen) if args.listen else config.web.host_port()
    storage = _open_storage(args)
    site = Site(storage, config)

    def ready(bound: int) -> None:
        site.base = config.base_url(args.listen, bound)
        print(f"dltbot: serving {site.base}/ (all lists: {site.base}/feed.atom)", flush=True)

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        try:
            await web.serve_forever(
                site, host, port, ready, request_timeout=config.web.request_timeout,
                max_connections=config.web.max_connections,
            )  # fmt: skip
        except OSError as error:
            raise DltbotError(f"--listen {host}:{port}: {error.strerror or error}") from error

    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        pass
    finally:
        storage.close()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write every document as a static file."""
    from .export import export_site
    from .site import Site

    config = load_config(args.config)
    if args.base_url:
        try:  # validated as feed.base_url is
            config = config.model_copy(
                update={"feed": FeedConfig.model_validate(
                    {**config.feed.model_dump(), "base_url": args.base_url}
                )}
            )  # fmt: skip
        except ValidationError:
            raise DltbotError(
                f"--base-url {args.base_url!r}: must be an absolute http(s) URL"
            ) from None
    with _open_storage(args) as storage:
        site = Site(storage, config)
        written, unchanged = export_site(site, args.out)
        site.close()
    print(f"dltbot: wrote {written} files to {args.out} ({unchanged} unchanged)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the service until SIGTERM or Ctrl-C."""
    from .service import run_service

    config = load_config(args.config)
    run_service(config, _writable_db(args, config))
    return 0


def _writable_db(args: argparse.Namespace, config: Config) -> Path:
    """The database path, its directory created and writable (or a clear error now, not a
    traceback from the first sync)."""
    db = Path(args.db) if args.db else config.database_path()
    try:
        db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = db.parent / ".dltbot-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise DltbotError(f"storage.path: {db.parent} is not writable: {error.strerror}") from None
    return db


def cmd_healthcheck(args: argparse.Namespace) -> int:
    """Ask /healthz; exit 0 on 200."""
    import urllib.error
    import urllib.request

    config = load_config(args.config)
    host, port = config.web.host_port()
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    url = args.url or f"http://{host}:{port}{paths.HEALTH}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        print(f"dltbot: healthcheck: {url}: {getattr(error, 'reason', error)}", file=sys.stderr)
        return 1
    print(f"dltbot: healthcheck: {url}: HTTP {status}")
    return 0 if status == 200 else 1


def cmd_enrich(args: argparse.Namespace) -> int:
    """Run one enrichment pass."""
    from .enrich import Enricher

    config = load_config(args.config)
    if not config.enrich.enabled:
        raise DltbotError("enrich.enabled is false in the config; nothing to do")
    with _open_storage(args) as storage:
        path = storage.path
        _check_list(storage, args.list)
        every = [s.identity for s in storage.card_states(args.list)] if args.all else None
    enricher = Enricher(config.enrich, path, config.feed.base_url)
    report = asyncio.run(enricher.run(args.list, every))
    sources = ", ".join(f"{name} {n}" for name, n in sorted(report.sources.items()))
    statuses = ", ".join(f"{n} {name}" for name, n in sorted(report.statuses.items()))
    print(
        f"checked {report.checked} links ({sources or 'none due'}): {statuses or 'nothing'}; "
        f"{report.cards} cards; {report.requests} requests in {report.seconds:.1f}s"
    )
    if report.offline:
        print("no host answered: is this machine offline? nothing was marked broken",
              file=sys.stderr)  # fmt: skip
    return 0


def cmd_links(args: argparse.Namespace) -> int:
    """Print link health; exit 1 if a shown link is broken (for a list's CI)."""
    with _open_storage(args) as storage:
        _check_list(storage, args.list)
        states = storage.card_states(args.list)
    broken = 0
    for state in states:
        link = state.link
        status = link.status if link else "unchecked"
        if args.status and status != args.status:
            continue
        broken += status == "broken"
        row = {
            "url": state.url,
            "status": status,
            "http_status": link.http_status if link else None,
            "checked": link.checked if link else None,
            "since": link.since if link else None,
            "target": link.target if link else None,
            "reason": link.reason if link else "",
        }
        if args.json:
            _print_json(row)
        else:
            since = f" since {link.since[:10]}" if link and status != "ok" else ""
            why = f" ({link.reason})" if link and link.reason else ""
            print(terminal_safe(f"{status:<10} {state.url}{since}{why}"))
    if states and all(state.link is None for state in states) and not args.json:
        print("no link has been checked yet: run `dltbot enrich` (or `dltbot run`) first",
              file=sys.stderr)  # fmt: skip
    return 1 if broken else 0


def cmd_bot(args: argparse.Namespace) -> int:
    """Run the Telegram bot until interrupted."""
    from .service import run_service

    config = load_config(args.config)
    if not config.telegram.token:
        raise ConfigError("telegram.token: not set (or set TELEGRAM_BOT_TOKEN)")
    run_service(config, _writable_db(args, config), serve=False)
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate the config."""
    config = load_config(args.config)
    names = ", ".join(source.name for source in config.sources())
    print(f"config ok: {len(config.lists)} list(s): {names}; database {config.database_path()}")
    return 0


# --- output ---------------------------------------------------------------------------------


def _print_entry(
    result: StoredEntry, as_json: bool, others: Sequence[StoredEntry] | None = None
) -> None:
    entry = result.entry
    if as_json:
        data = result_json(result)
        if others is not None:
            data["also"] = papers.also_json(others)
        _print_json(data)
        return
    headings = section_label(entry.all_sections)
    where = [result.list, headings, f"added {result.first_date[:10]}"]
    print(terminal_safe(f"{entry.title} <{entry.url}>"))
    print(terminal_safe("  " + " · ".join(part for part in where if part)))
    if result.card is not None and result.card.authors:
        print(terminal_safe(f"  {EntryView(entry, result.card).authors()}"))
    if entry.description:
        print(terminal_safe(f"  {shorten(entry.description, 200)}"))
    for other in others or ():
        print(terminal_safe(f"  also in {section_label([[other.list, *other.entry.section]])}"))


def _print_json(data: dict[str, Any]) -> None:
    line = json.dumps(data, ensure_ascii=False)
    # A C1 control or bidi override in a title would reach the terminal raw: \u-escape them.
    print(line if line.isprintable() else json.dumps(data))


CONTAINER_CONFIG = Path("/data/config.yaml")


def container_main() -> int:
    """The image's entrypoint: `dltbot run`, with /data/config.yaml when it exists."""
    args = sys.argv[1:] or ["run"]
    if args[0] in ("run", "healthcheck") and CONTAINER_CONFIG.exists() and "--config" not in args:
        args = [args[0], "--config", str(CONTAINER_CONFIG), *args[1:]]
    return main(args)


if __name__ == "__main__":
    sys.exit(main())
