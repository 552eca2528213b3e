"""An aiohttp app on loopback (port 0), served from a thread and event loop of its own: the
fakes' common part, so code under test may run in the test's loop or in a process."""

from __future__ import annotations

import asyncio
import threading
from typing import Self

from aiohttp import web


class LoopServer:
    """Subclasses build the app in `make_app` (run in the server's loop)."""

    host = "127.0.0.1"

    def _init_loop(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0

    async def make_app(self) -> web.Application:
        raise NotImplementedError

    def start(self) -> Self:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result(10)
        return self

    async def _serve(self) -> None:
        # A handler still running at stop (a long poll) gets a second, not aiohttp's minute.
        self.runner = web.AppRunner(await self.make_app(), access_log=None, shutdown_timeout=1.0)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.host, 0).start()
        self.port = self.runner.addresses[0][1]

    async def before_stop(self) -> None:
        """End what would hold the shutdown (a fake's long polls); subclasses override."""

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.before_stop(), self.loop).result(10)
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
