"""`dltbot run`: scheduler, bot and web server in one event loop, and an orderly shutdown
(`dltbot bot` is the same service without the web server and the polling of lists).

Syncs run in a worker thread (git and parsing never block the bot or the web server), one run
per list at a time, on the list's interval with jitter; a failing list is retried with
exponential backoff capped at its interval. Shutdown order: stop taking updates, let the
current commit's transaction finish, stop the sender, stop the web server, close the database.

Delivery belongs to the service: after each sync (or once the additions' cards came) it hands
the change to every target — the WebSub pinger and the Telegram outbox (fan-out), which the
sender empties on a half-second tick. Both keep what waits in the database and retry it with
the same policy (retry.Retry).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from . import web
from .config import Config
from .errors import DltbotError
from .hold import Hold
from .hooks import Receiver
from .models import ListSource, SyncReport
from .present import paths
from .site import Site
from .storage import Storage
from .sync import WarmLists, event_counts, report_summary, sync_list

log = logging.getLogger(__name__)

FIRST_RETRY = 30.0  # seconds before the first retry of a failed sync


class AlreadyRunningError(DltbotError):
    """Another `dltbot run` holds the database."""


def lock_database(db_path: Path) -> IO[str]:
    """Hold an exclusive lock beside the database, or refuse: two services would double-post."""
    db_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle = open(db_path.with_name(db_path.name + ".lock"), "a+", encoding="utf-8")  # noqa: SIM115
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        other = handle.read().strip() or "?"
        handle.close()
        raise AlreadyRunningError(
            f"database {db_path} is in use by another `dltbot run` or `dltbot bot` "
            f"(pid {other}); "
            "stop it first, or use another storage.path"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


class Service:
    """The running service's parts, started and stopped in a fixed order."""

    def __init__(
        self, config: Config, db_path: Path, serve: bool = True, pacing: Any = None
    ) -> None:
        """`pacing`: the bot's push.Pacing (tests scale Telegram's limits down)."""
        self.config = config
        self.pacing = pacing
        # False: `dltbot bot` — no web server, no enrichment, lists synced only by /sync
        # (or by `dltbot sync` from cron); the bot and delivery run as in `dltbot run`.
        self.serve = serve
        self.storage: Storage | None = None
        self.db_path = db_path
        self.clones = db_path.parent / "clones"
        self.stopping = threading.Event()
        self.warm = WarmLists()  # the lists synced last keep their parser warm
        self.failures: dict[str, int] = {}
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.application: Any = None
        self.sender: Any = None
        self.syncs: set[asyncio.Future[SyncReport]] = set()
        # Syncs run on their own threads, sync.concurrency of them: a hanging remote holds
        # one, not the schedule. One sync per list at a time; a push during it queues one more.
        self.pool = ThreadPoolExecutor(config.sync.concurrency, thread_name_prefix="dltbot-sync")
        self.running: set[str] = set()
        self.again: set[str] = set()
        self.requested: set[asyncio.Task[None]] = set()
        self.reports: dict[str, SyncReport] = {}  # each list's last sync
        self.bot_task: asyncio.Task[None] | None = None
        self.bot_started = False
        self.exported = False  # the first sync exports even when nothing new came
        self.enricher: Any = None
        self.site: Site | None = None
        # Additions after a point wait for their cards: the feeds, the page, the pushes and
        # the bot's /latest all read this one hold.
        self.hold = Hold()
        self.pinger: Any = None  # websub.HubPinger, with feed.websub_hub
        self.telegram_hook: web.TelegramHook | None = None  # with telegram.webhook_url
        self.ping_task: asyncio.Task[None] | None = None
        self.enrichments: set[asyncio.Task[None]] = set()

    async def run(self, ready: Any = None, stop: asyncio.Event | None = None) -> None:
        """Run until SIGTERM or SIGINT (or `stop` is set), then shut down in order."""
        lock = lock_database(self.db_path)
        storage = self.storage = Storage(self.db_path)
        log.info("database %s", self.db_path)
        runner = None
        try:
            if not self.serve:
                self.scheduler.start()
                await self._start_bot(storage)
                log.info("bot running without a web server; lists sync on /sync")
                if self.config.telegram.webhook_url:
                    log.warning("telegram.webhook_url needs `dltbot run` (its web server); "
                                "`dltbot bot` polls Telegram")  # fmt: skip
                if ready is not None:
                    ready(None)
                await self._wait_for_signal(stop)
                return
            site = Site(storage, self.config, hold=self.hold)
            host, port = self.config.web.host_port()
            receiver = None
            if self.config.webhooks.secret:

                def branch_of(name: str) -> str | None:
                    state = storage.list_state(name)
                    return state.branch if state else None

                receiver = Receiver(
                    self.config.webhooks.secret,
                    self.config.sources(),
                    self.request_sync,
                    branch_of,
                )
            token, webhook_url = self.config.telegram.token, self.config.telegram.webhook_url
            if token and webhook_url:
                from .config import webhook_secret

                self.telegram_hook = web.TelegramHook(webhook_secret(token))
            runner = await web.start(
                site, host, port, self.config.web.request_timeout,
                self.config.web.max_connections, receiver, self.config.webhooks.max_body_size,
                self.telegram_hook,
            )  # fmt: skip
            site.base = self.config.base_url(bound=runner.port)
            if not self.config.feed.base_url:
                # Serving every address (a container) means readers elsewhere: say it louder.
                say = log.warning if host in ("0.0.0.0", "::", "") else log.info
                say(
                    "feed.base_url (DLTBOT_BASE_URL) is unset: the feeds and the page link to "
                    "the address each reader asks; the bot shows no page or feed links, and "
                    "export and WebSub pings use %s. Set it to the public address.",
                    site.base,
                )
            if self.config.enrich.enabled:
                from .enrich import Enricher

                self.enricher = Enricher(self.config.enrich, self.db_path, site.base)
            await self._start_bot(storage)
            self.site = site
            if self.config.feed.websub_hub:
                self._start_pinger(self.config.feed.websub_hub, site.base, storage)
            if self.enricher is not None:
                # Additions recorded from now on wait for their cards (up to enrich.wait)
                # before the feeds, the page and the pushes show them.
                self.hold.start(storage.last_event_id())
            for source in self.sources():
                self._schedule(source)
            self.scheduler.start()
            log.info("serving %s/ (feed: %s/feed.atom)", site.base, site.base)
            if ready is not None:
                ready(site.base)
            await self._wait_for_signal(stop)
        finally:
            await self._shutdown(runner, storage)
            lock.close()

    def sources(self) -> list[ListSource]:
        """The lists to follow: the configured ones and those lists of lists bring."""
        from . import metalist

        assert self.storage is not None
        return metalist.sources(self.storage, self.config)

    def _schedule(self, source: ListSource) -> None:
        """Poll the list on its interval, the first time now."""
        self.scheduler.add_job(
            self._poll, "interval", seconds=source.interval_seconds,
            jitter=min(60, source.interval_seconds // 10), id=source.name,
            args=[source], next_run_time=datetime.now(UTC), max_instances=1, coalesce=True,
            misfire_grace_time=None, replace_existing=True,
        )  # fmt: skip

    async def _follow_members(self, meta: str) -> None:
        """A list of lists synced: follow the lists it brings now, stop polling those it
        no longer links (their history stays)."""
        from . import metalist

        item = next(i for i in self.config.lists_from if i.source().name == meta)

        def refresh() -> metalist.Membership:
            with Storage(self.db_path) as storage:
                return metalist.refresh(storage, self.config, item)

        membership = await asyncio.to_thread(refresh)
        for name in membership.left:
            with contextlib.suppress(Exception):
                self.scheduler.remove_job(name)
            with self.warm.lock:  # a sync thread may be storing it
                self.warm.pop(name, None)
        if membership.joined:
            joined = set(membership.joined)
            for source in self.sources():
                if source.name in joined:
                    self._schedule(source)

    async def _start_bot(self, storage: Storage) -> None:
        if not self.config.telegram.token:
            log.info("no telegram.token: running feed-only (no bot)")
            return
        from .bot.app import build_application, post_init, quiet_loggers

        quiet_loggers()
        loop = asyncio.get_running_loop()

        def sync_from_bot() -> str:  # /sync, in a worker thread: the service's own jobs
            return asyncio.run_coroutine_threadsafe(self.sync_now(), loop).result()

        from .bot.push import Pacing

        self.application = build_application(
            self.config, storage, sync_from_bot, self.hold, self.pacing or Pacing()
        )
        self.sender = self.application.bot_data.sender
        # `dltbot bot` fetches no cards: /status then says nothing of enrichment.
        self.application.bot_data.enriching = self.serve and self.config.enrich.enabled
        self.bot_task = asyncio.create_task(self._bot_until_up(post_init))

    async def _bot_until_up(self, post_init: Any) -> None:
        """Start the bot, retrying while Telegram is unreachable: feeds and syncs go on.

        With telegram.webhook_url, Telegram pushes updates to this server; without it, they
        are polled (start_polling deletes a webhook left from before)."""
        from telegram.error import NetworkError

        from .bot.app import start_webhook, update_sink

        delay = 2.0
        while not self.stopping.is_set():
            try:
                await self.application.initialize()
                await post_init(self.application)
                await self.application.start()
                hook = self.telegram_hook
                if hook is not None:
                    url = f"{self.config.telegram.webhook_url}{paths.TELEGRAM_HOOK}{hook.secret}"
                    hook.accept = update_sink(self.application)
                    await start_webhook(self.application, url, hook.secret)
                else:
                    await self.application.updater.start_polling()
            except NetworkError as error:
                log.warning("Telegram unreachable (%s); retrying the bot in %.0fs",
                            error.message, delay)  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(60.0, delay * 2)
                continue
            self.bot_started = True
            log.info("bot started (%s)", "webhook" if self.telegram_hook else "polling")
            self.scheduler.add_job(
                self._deliver, "interval", seconds=0.5, max_instances=1, coalesce=True,
                id="deliver",
            )  # fmt: skip
            return

    def _start_pinger(self, hub: str, base: str, storage: Storage) -> None:
        from .enrich.client import Http
        from .enrich.run import user_agent
        from .websub import HubPinger

        # Its own client: no spacing between pings (one hub, a dozen feeds per change).
        http = Http(user_agent(base), host_spacing=0.0, host_concurrency=4)
        self.pinger = HubPinger(hub, http, storage)
        self.ping_task = asyncio.create_task(self.pinger.run())

    def _feeds_changed(self, name: str) -> None:
        """The list's additions are in its feeds now: tell the WebSub hub."""
        if self.pinger is not None and self.site is not None:
            from .websub import changed_feeds

            self.pinger.publish(changed_feeds(self.site.links, name))

    async def _deliver(self) -> None:
        """Put new additions (up to the release) into the Telegram outbox of every matching
        subscription, then send what may go now. Also on a tick: another process (`dltbot
        sync` from cron) may have recorded additions."""
        if self.sender is None or self.storage is None or self.stopping.is_set():
            return
        self.storage.fan_out(self.hold.upto)
        self.storage.fan_out_news()
        if self.bot_started:
            await self.sender.run_once()

    def request_sync(self, name: str, source: ListSource | None = None) -> bool:
        """Sync a list now (a webhook): coalesced with a sync of it already running, which
        then runs once more. False when stopping or when no list has that name."""
        if source is None:
            source = next((s for s in self.sources() if s.name == name), None)
        if self.stopping.is_set() or source is None:
            return False
        if name in self.running:
            self.again.add(name)
            return True
        self.running.add(name)  # now, not when the task starts: a burst makes one task
        task = asyncio.create_task(self._sync_job(source))
        self.requested.add(task)
        task.add_done_callback(self.requested.discard)
        return True

    async def sync_now(self) -> str:
        """Sync every list now through the same jobs as polls and webhooks (one per list at
        a time, sync.concurrency at once, stopped by shutdown); return what each brought."""
        sources = self.sources()
        for source in sources:
            self.request_sync(source.name, source)
        while any(s.name in self.running for s in sources) and not self.stopping.is_set():
            await asyncio.sleep(0.1)
        if self.stopping.is_set():
            return "stopping: not all lists were synced"
        return report_summary([self.reports[s.name] for s in sources if s.name in self.reports])

    async def _poll(self, source: ListSource) -> None:
        """The list's interval came: sync it, unless a sync of it is running already."""
        if source.name not in self.running:
            self.running.add(source.name)
            await self._sync_job(source)

    async def _sync_job(self, source: ListSource) -> None:
        """Sync the list (its name already in `running`), again while pushes came meanwhile."""
        try:
            while not self.stopping.is_set():
                self.again.discard(source.name)
                await self._sync_once(source)
                if source.name not in self.again:
                    break
        finally:
            self.running.discard(source.name)

    async def _sync_once(self, source: ListSource) -> None:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.pool, self._sync_in_thread, source)
        self.syncs.add(future)
        try:
            report = await future
        finally:
            self.syncs.discard(future)
        self.reports[source.name] = report
        counts = event_counts(report) or "none"
        if report.error:
            failures = self.failures.get(source.name, 0) + 1
            self.failures[source.name] = failures
            delay = min(float(source.interval_seconds), FIRST_RETRY * 2 ** (failures - 1))
            log.warning("list %s sync failed (%d in a row), retrying in %.0fs: %s",
                        source.name, failures, delay, report.error)  # fmt: skip
            with contextlib.suppress(Exception):
                self.scheduler.modify_job(
                    source.name, next_run_time=datetime.now(UTC) + timedelta(seconds=delay)
                )
            return
        self.failures.pop(source.name, None)
        log.info("list %s synced: %d new commits, events: %s, %.1fs",
                 source.name, report.commits, counts, report.seconds)  # fmt: skip
        if any(item.source().name == source.name for item in self.config.lists_from):
            await self._follow_members(source.name)
        if self.config.export.dir is not None and (report.commits or not self.exported):
            await asyncio.to_thread(self._export, self.config.export.dir)
        changed = not set(report.events).isdisjoint(self.config.feed.kinds)  # the feeds
        if self.enricher is not None:
            # Off the sync's path: the next sync of this list need not wait for it.
            task = asyncio.create_task(self._enrich(source.name, changed))
            self.enrichments.add(task)
            task.add_done_callback(self.enrichments.discard)
        else:
            if changed:
                self._feeds_changed(source.name)
            await self._deliver()

    async def _enrich(self, name: str, changed: bool) -> None:
        """Fetch the cards of new additions (and re-check links that are due), then release
        the additions to the feeds and the pushes: they wait for their cards up to
        enrich.wait. `changed`: the sync brought events the feeds show (the hub hears)."""
        top, history = await asyncio.to_thread(self._last_event_id, name)
        if top <= history:  # a first backfill: history, nothing to hold back
            self._release(top)
        run = asyncio.ensure_future(self.enricher.run(name))
        try:
            await asyncio.wait_for(asyncio.shield(run), timeout=self.config.enrich.wait)
        except asyncio.CancelledError:  # shutting down
            run.cancel()
            raise
        except TimeoutError:
            log.warning("list %s: cards not ready after %ds; pushing without them",
                        name, self.config.enrich.wait)  # fmt: skip
        except Exception:  # a failing pass must not hold the pushes
            log.exception("list %s: enrichment failed", name)
        self._release(top)
        if changed:
            self._feeds_changed(name)
        await self._deliver()
        try:
            report = await run
        except asyncio.CancelledError:
            run.cancel()
            raise
        except Exception:
            return  # logged above
        log.info("list %s enriched: %d links checked, %d cards, %d requests, %.1fs",
                 name, report.checked, report.cards, report.requests, report.seconds)  # fmt: skip
        if self.config.export.dir is not None and report.checked:
            await asyncio.to_thread(self._export, self.config.export.dir)

    def _release(self, top: int) -> None:
        """Show events up to `top` in the feeds, the page and the bot, and push them."""
        self.hold.release(top)

    def _last_event_id(self, name: str) -> tuple[int, int]:
        with Storage(self.db_path) as storage:
            return storage.last_event_id(), storage.history_until(name)

    def _export(self, out: Path) -> None:
        """Write the static files again (only those that changed); a failure is logged."""
        from .export import export_site

        try:
            with Storage(self.db_path) as storage:
                site = Site(storage, self.config, hold=self.hold)
                written, unchanged = export_site(site, out)
                site.close()
        except DltbotError as error:
            log.warning("export.dir: %s", error)
            return
        self.exported = True
        log.info("exported to %s: %d files written, %d unchanged", out, written, unchanged)

    def _sync_in_thread(self, source: ListSource) -> SyncReport:
        with Storage(self.db_path) as storage:
            try:
                return sync_list(
                    storage, source, self.clones, warm=self.warm,
                    should_stop=self.stopping.is_set,
                )  # fmt: skip
            except Exception as error:  # a bug in one list's sync must not stop the service
                log.exception("list %s: sync failed unexpectedly", source.name)
                return SyncReport(source.name, error=f"unexpected error: {error!r}")

    async def _wait_for_signal(self, stop: asyncio.Event | None) -> None:
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("shutting down")

    async def _shutdown(self, runner: Any, storage: Storage) -> None:
        self.stopping.set()
        if self.bot_task is not None and not self.bot_task.done():
            self.bot_task.cancel()
        if self.bot_started:
            with contextlib.suppress(Exception):
                await self.application.updater.stop()  # 1. take no more updates
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for task in list(self.requested):
            task.cancel()
        if self.ping_task is not None:  # pings not sent yet wait in the database
            self.ping_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.ping_task
            await self.pinger.http.close()
        if self.syncs:  # 2. the current commit's transaction finishes; the sync stops after it
            await asyncio.wait(self.syncs, timeout=8)
        self.pool.shutdown(wait=False)
        for task in list(self.enrichments):  # enrichment resumes on the next start
            task.cancel()
        if self.enrichments:
            await asyncio.wait(self.enrichments, timeout=5)
        if self.bot_started:  # 3. the sender and the rest of the bot
            with contextlib.suppress(Exception):
                await self.application.bot_data.replies.close(timeout=2.0)
                await self.application.stop()
                await self.application.shutdown()
        if runner is not None:  # 4. the web server
            await runner.cleanup()
        storage.close()  # 5. the database
        log.info("stopped")


def run_service(config: Config, db_path: Path, serve: bool = True) -> None:
    """Run `dltbot run` (serve=False: `dltbot bot`) until interrupted."""
    asyncio.run(Service(config, db_path, serve).run())
