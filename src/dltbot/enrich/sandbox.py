"""Parse untrusted pages in a child process of their own, each within a deadline.

An HTML parser's work is not linear in its input: lexbor takes time quadratic in nesting depth
(100,000 nested `<div>` parse in ~25 s), and the HTML5 tree builder has other quadratic corners
(the adoption agency, reconstructing formatting elements). Counting depth before parsing means
writing a second HTML tokenizer, and the stdlib's is quadratic on some inputs itself. A deadline
bounds every such case at once: the page is parsed in a worker process, and a worker that has not
answered in time is killed (and another started for the next page). Being a process, it shares
no thread pool and no GIL with the web server: `/healthz` never waits for a page.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection

from ..models import Card
from .page import card_from_html

log = logging.getLogger(__name__)

DEADLINE = 2.0  # seconds one page may take (a real 2 MB page parses in ~0.15 s)
STARTUP = 60.0  # seconds the worker may take to import (a busy machine, a cold disk)
_ENVIRONMENT = ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "TZ")
_CARD_FIELDS = {field.name for field in dataclasses.fields(Card)}


class PageTooComplex(Exception):
    """A page the parser could not finish within the deadline (or that crashed it)."""


def _card_json(card: Card | None) -> bytes:
    return json.dumps(None if card is None else dataclasses.asdict(card)).encode()


def _card_of(data: bytes) -> Card | None:
    """Read the worker's answer as data (JSON, never pickle: the worker reads hostile pages)."""
    value = json.loads(data)
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != _CARD_FIELDS:
        raise ValueError("not a card")
    value["authors"] = tuple(value["authors"])
    value["related"] = tuple(value["related"])
    return Card(**value)


def main() -> None:  # pragma: no cover - runs in the worker process
    """The worker: parse the pages the parent sends until it hangs up."""
    requests = Connection(os.dup(0))
    answers = Connection(os.dup(1))
    os.dup2(2, 1)  # nothing printed by accident can corrupt the answers
    answers.send_bytes(b"ready")  # imports done: the deadline counts parsing only
    while True:
        try:
            request = json.loads(requests.recv_bytes())
            body = requests.recv_bytes()
            answer = b"card" + _card_json(card_from_html(body, request["url"], request["type"]))
        except EOFError:
            return
        except Exception as error:  # a bug in the parser: the parent logs it
            answer = b"fail" + f"{type(error).__name__}: {error}".encode()
        answers.send_bytes(answer)


class PageParser:
    """One worker process, one page at a time; `parse` is awaited from the event loop."""

    def __init__(self, deadline: float = DEADLINE) -> None:
        self.deadline = deadline
        self._process: subprocess.Popen[bytes] | None = None
        self._send: Connection | None = None
        self._receive: Connection | None = None
        self._lock = threading.Lock()
        # Waits for the worker happen on this thread: the default pool serves the web.
        self._waiter = ThreadPoolExecutor(1, thread_name_prefix="dltbot-pages")
        self.killed = 0  # workers killed at the deadline (tests, logs)

    async def parse(self, body: bytes, url: str, content_type: str = "") -> Card | None:
        """Return the page's card; raise PageTooComplex when it cannot be read in time."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._waiter, self._parse, body, url, content_type)

    def _parse(self, body: bytes, url: str, content_type: str) -> Card | None:
        request = json.dumps({"url": url, "type": content_type}).encode()
        with self._lock:
            send, receive = self._start()
            try:
                send.send_bytes(request)
                send.send_bytes(body)
                answer = receive.recv_bytes() if receive.poll(self.deadline) else None
            except (EOFError, OSError):  # the worker died (a crash in the C parser)
                self._stop()
                raise PageTooComplex("the page crashed the HTML parser") from None
            if answer is None:
                self._stop()
                self.killed += 1
                raise PageTooComplex(f"page not parsed within {self.deadline:g}s")
        if answer.startswith(b"fail"):
            raise PageTooComplex(f"HTML parser failed: {answer[4:].decode(errors='replace')}")
        try:
            return _card_of(answer[4:])
        except (ValueError, TypeError) as error:
            raise PageTooComplex(f"unreadable answer from the parser: {error}") from None

    def _start(self) -> tuple[Connection, Connection]:
        if self._process is None or self._process.poll() is not None:
            self._stop()
            self._process = subprocess.Popen(
                [sys.executable, "-c", "from dltbot.enrich.sandbox import main; main()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
                # No secrets (the bot token, GITHUB_TOKEN) for a process that reads hostile pages.
                env={k: v for k, v in os.environ.items() if k in _ENVIRONMENT},
            )
            assert self._process.stdin is not None and self._process.stdout is not None
            self._send = Connection(os.dup(self._process.stdin.fileno()), readable=False)
            self._receive = Connection(os.dup(self._process.stdout.fileno()), writable=False)
            self._process.stdin.close()
            self._process.stdout.close()
            try:
                ready = self._receive.poll(STARTUP) and self._receive.recv_bytes() == b"ready"
            except (EOFError, OSError):
                ready = False
            if not ready:
                self._stop()
                raise PageTooComplex("the HTML parser's worker did not start")
        assert self._send is not None and self._receive is not None
        return self._send, self._receive

    def _stop(self) -> None:
        for conn in (self._send, self._receive):
            if conn is not None:
                conn.close()
        self._send = self._receive = None
        if self._process is not None:
            self._process.kill()
            self._process.wait(5)
            self._process = None

    def close(self) -> None:
        """Stop the worker (the next parse starts another)."""
        with self._lock:
            self._stop()
