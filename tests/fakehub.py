"""A fake WebSub hub on 127.0.0.1: it records publish pings (tests and bench_latency)."""

from __future__ import annotations

import time

from aiohttp import web
from loopserver import LoopServer


class FakeHub(LoopServer):
    """A WebSub hub that records publish pings; the first `failures` answers are 500s."""

    def __init__(self, failures: int = 0) -> None:
        self._init_loop()
        self.failures = failures
        self.pings: list[dict[str, str]] = []
        self.times: list[float] = []  # when each ping came (monotonic)

    async def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/", self._publish)
        return app

    async def _publish(self, request: web.Request) -> web.Response:
        if self.failures:
            self.failures -= 1
            return web.Response(status=500)
        form = await request.post()
        self.pings.append({key: str(value) for key, value in form.items()})
        self.times.append(time.monotonic())
        return web.Response(status=204)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def published(self) -> set[str]:
        return {p["hub.url"] for p in self.pings if p.get("hub.mode") == "publish"}
