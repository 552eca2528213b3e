"""A strict fake Telegram Bot API server on 127.0.0.1 (aiohttp, port 0), for tests.

It behaves as Telegram documents the methods dltbot uses: form-encoded POSTs, getUpdates long
polling, HTML entity parsing that rejects unknown or unclosed tags and raw "<" or "&", the
4096-character limit counted after entity parsing, 429 with retry_after when a chat gets more
than one message a second or a group more than 20 a minute, 403 for a chat that blocked the
bot, and 400 with migrate_to_chat_id for a group upgraded to a supergroup. It records every call.
It runs in its own thread and event loop, so a bot may run in the test's loop or in a process.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from loopserver import LoopServer

TOKEN = "123456:TEST-token-for-the-fake-server-0000"
ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                "tg-spoiler", "span", "blockquote", "tg-emoji"}  # fmt: skip
LIMIT = 4096
# The pace the suite runs the bot and this fake at: Telegram's limits times 1/50, the same on
# both sides, so the bot must still keep under them (tests of the pacing itself use 1).
FAST = 0.02


class EntityError(ValueError):
    """The text is not valid Telegram HTML."""


def parse_html(text: str) -> str:
    """Return the visible text of Telegram HTML, or raise EntityError as Telegram would."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            end = text.find(">", i)
            if end < 0:
                raise EntityError(f"Unclosed start tag at byte offset {i}")
            tag = text[i + 1 : end].strip()
            if tag.startswith("/"):
                name = tag[1:].strip().lower()
                if not stack or stack[-1] != name:
                    raise EntityError(
                        f'Unmatched end tag at byte offset {i}, expected "</{stack[-1] if stack else ""}>", found "</{name}>"'
                    )
                stack.pop()
            else:
                name = tag.split()[0].lower() if tag else ""
                if name not in ALLOWED_TAGS:
                    raise EntityError(f'Unsupported start tag "{name}" at byte offset {i}')
                if name == "a" and 'href="' not in tag:
                    raise EntityError(f"Link without href at byte offset {i}")
                stack.append(name)
            i = end + 1
        elif char == "&":
            end = text.find(";", i)
            entity = text[i + 1 : end] if end > 0 else ""
            if end < 0 or not (entity in ("lt", "gt", "amp", "quot") or entity.startswith("#")):
                raise EntityError(f"Character & is reserved; use &amp; (byte offset {i})")
            out.append(html.unescape(text[i : end + 1]))
            i = end + 1
        else:
            out.append(char)
            i += 1
    if stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, str]
    at: float
    status: int = 200
    response: Any = None
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name → (file, bytes)


@dataclass
class Sent:
    """A message Telegram accepted."""

    chat_id: int
    message_id: int
    html: str
    text: str
    thread_id: int | None
    at: float
    reply_markup: Any = None


@dataclass
class FakeTelegram(LoopServer):
    """The server, its state, and thread-safe controls for tests."""

    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    documents: list[tuple[int, str, bytes, str]] = field(default_factory=list)  # chat, file, …
    blocked: set[int] = field(default_factory=set)
    migrated: dict[int, int] = field(default_factory=dict)
    admins: dict[int, set[int]] = field(default_factory=dict)
    down: int = 0  # answer every call with this status (e.g. 502) while set
    hold: bool = False  # accept no sendMessage while set: requests wait, or vanish if the
    # client dies meanwhile (a kill between two messages)
    # Telegram's limits (a private chat: one message a second; a group: 20 a minute), with
    # every interval times `pace`: the tests run the bot with its pacing scaled alike (FAST).
    pace: float = 1.0

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        # setWebhook's url, secret_token and allowed_updates while a webhook is set: updates
        # are then POSTed there (and getUpdates is refused, as Telegram does).
        self.webhook: dict[str, str] | None = None
        self.webhook_answers: list[int] = []  # the webhook's HTTP status for each update
        self.updates: list[dict[str, Any]] = []
        self.next_update = 1
        self.next_message: dict[int, int] = {}
        self._init_loop()

    # --- lifecycle -----------------------------------------------------------------------

    async def before_stop(self) -> None:
        # Long polls end now (Telegram's would run out their timeout): a test's teardown
        # must not wait ten seconds for a getUpdates nobody will read.
        async with self.new_updates:
            self.closing = True
            self.new_updates.notify_all()

    async def make_app(self) -> web.Application:
        self.closing = False
        self.new_updates = asyncio.Condition()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- controls ------------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; return its update_id."""

        async def add() -> int:
            async with self.new_updates:
                update_id = self.next_update
                self.next_update += 1
                if self.webhook is not None:
                    self.loop.create_task(self._post({"update_id": update_id, **update}))
                    return update_id
                self.updates.append({"update_id": update_id, **update})
                self.new_updates.notify_all()
                return update_id

        return asyncio.run_coroutine_threadsafe(add(), self.loop).result(10)

    def message(self, text: str, chat_id: int = 1001, user_id: int = 1001, chat_type: str = "private",
                language: str = "en", thread_id: int | None = None) -> int:  # fmt: skip
        """Queue a text message (a command when it starts with /) from a user."""
        message: dict[str, Any] = {
            "message_id": self.next_update + 10_000,
            "date": int(time.time()),
            "chat": {
                "id": chat_id,
                "type": chat_type,
                **({"title": "G"} if chat_id < 0 else {"first_name": "U"}),
            },
            "from": {"id": user_id, "is_bot": False, "first_name": "U", "language_code": language},
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if thread_id:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        return self.push_update({"message": message})

    def callback(self, data: str, message: Sent, user_id: int = 1001, language: str = "en") -> int:
        """Queue a button press on a message the bot sent."""
        return self.push_update({
            "callback_query": {
                "id": f"cb{self.next_update}",
                "from": {"id": user_id, "is_bot": False, "first_name": "U", "language_code": language},
                "chat_instance": "ci",
                "data": data,
                "message": {"message_id": message.message_id, "date": int(message.at),
                            "chat": {"id": message.chat_id, "type": "private", "first_name": "U"},
                            "text": message.text},
            }
        })  # fmt: skip

    def inline(self, query: str, offset: str = "", user_id: int = 1001) -> int:
        """Queue an inline query."""
        return self.push_update({
            "inline_query": {"id": f"iq{self.next_update}", "query": query, "offset": offset,
                             "from": {"id": user_id, "is_bot": False, "first_name": "U"}}
        })  # fmt: skip

    def calls_of(self, method: str) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.method == method]

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> Any:
        """Wait (in the caller's thread) until predicate() is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError("timed out waiting for the bot")

    # --- the API -------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        form = await request.post() if request.method == "POST" else request.query
        files = {
            key: (value.filename, value.file.read())
            for key, value in form.items()
            if isinstance(value, web.FileField)
        }
        params = {key: str(value) for key, value in form.items() if key not in files}
        call = Call(method, params, time.time(), files=files)
        with self.lock:
            self.calls.append(call)
        if request.match_info["token"] != self.token:
            return self._error(call, 401, "Unauthorized")
        if self.down:
            return self._error(call, self.down, "Bad Gateway")
        if method == "sendMessage":
            while self.hold:
                await asyncio.sleep(0.01)
            if request.transport is None or request.transport.is_closing():
                # The client died while we held its request: as if it never reached us.
                call.status = 499
                return web.Response(status=499)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return self._error(call, 404, "Not Found: method not found")
        return await handler(call)

    def _ok(self, call: Call, result: Any) -> web.Response:
        call.response = result
        return web.json_response({"ok": True, "result": result})

    def _error(self, call: Call, status: int, description: str, **parameters: Any) -> web.Response:
        call.status = status
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        call.response = body
        return web.json_response(body, status=status)

    async def _api_getMe(self, call: Call) -> web.Response:
        return self._ok(call, {"id": 4242, "is_bot": True, "first_name": "dltbot", "username": "dlt_test_bot",
                               "can_join_groups": True, "can_read_all_group_messages": False,
                               "supports_inline_queries": True})  # fmt: skip

    async def _post(self, update: dict[str, Any]) -> None:
        """Deliver an update to the webhook as Telegram does (JSON, the secret header)."""
        assert self.webhook is not None
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook.get("secret_token", "")}
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.webhook["url"], json=update, headers=headers) as reply,
        ):
            self.webhook_answers.append(reply.status)

    async def _api_setWebhook(self, call: Call) -> web.Response:
        if not call.params.get("url"):
            return self._error(call, 400, "Bad Request: bad webhook: URL is empty")
        self.webhook = dict(call.params)
        return self._ok(call, True)

    async def _api_deleteWebhook(self, call: Call) -> web.Response:
        self.webhook = None
        return self._ok(call, True)

    async def _api_setMyCommands(self, call: Call) -> web.Response:
        commands = json.loads(call.params.get("commands", "[]"))
        if not commands or any(not c.get("command") or not c.get("description") for c in commands):
            return self._error(call, 400, "Bad Request: BOT_COMMANDS_INVALID")
        return self._ok(call, True)

    async def _api_getUpdates(self, call: Call) -> web.Response:
        if self.webhook is not None:
            return self._error(call, 409, "Conflict: can't use getUpdates method while webhook "
                               "is active; use deleteWebhook to delete the webhook first")  # fmt: skip
        offset = int(call.params.get("offset", 0) or 0)
        timeout = float(call.params.get("timeout", 0) or 0)
        async with self.new_updates:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if not self.updates and timeout and not self.closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.new_updates.wait(), timeout)
            return self._ok(call, list(self.updates[:100]))

    async def _api_getChatMember(self, call: Call) -> web.Response:
        chat_id, user_id = int(call.params["chat_id"]), int(call.params["user_id"])
        status = "administrator" if user_id in self.admins.get(chat_id, set()) else "member"
        user = {"id": user_id, "is_bot": False, "first_name": "U"}
        result: dict[str, Any] = {"status": status, "user": user}
        if status == "administrator":
            result.update({key: False for key in (
                "can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
                "can_manage_video_chats", "can_restrict_members", "can_promote_members",
                "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
                "can_delete_stories")})  # fmt: skip
        return self._ok(call, result)

    async def _api_answerCallbackQuery(self, call: Call) -> web.Response:
        return self._ok(call, True)

    async def _api_answerInlineQuery(self, call: Call) -> web.Response:
        results = json.loads(call.params.get("results", "[]"))
        if len(results) > 50:
            return self._error(call, 400, "Bad Request: RESULTS_TOO_MUCH")
        for result in results:
            content = result.get("input_message_content", {})
            if content.get("parse_mode") == "HTML":
                try:
                    parse_html(content["message_text"])
                except EntityError as error:
                    return self._error(call, 400, f"Bad Request: can't parse entities: {error}")
        return self._ok(call, True)

    def _check_text(self, call: Call) -> tuple[str, web.Response | None]:
        text = call.params.get("text", "")
        if call.params.get("parse_mode") == "HTML":
            try:
                text = parse_html(text)
            except EntityError as error:
                return text, self._error(call, 400, f"Bad Request: can't parse entities: {error}")
        if not text.strip():
            return text, self._error(call, 400, "Bad Request: message text is empty")
        if utf16_length(text) > LIMIT:
            return text, self._error(call, 400, "Bad Request: message is too long")
        return text, None

    async def _api_sendMessage(self, call: Call) -> web.Response:
        chat_id = int(call.params["chat_id"])
        if chat_id in self.blocked:
            return self._error(call, 403, "Forbidden: bot was blocked by the user")
        if chat_id in self.migrated:
            return self._error(call, 400, "Bad Request: group chat was upgraded to a supergroup chat",
                               migrate_to_chat_id=self.migrated[chat_id])  # fmt: skip
        text, error = self._check_text(call)
        if error is not None:
            return error
        now = time.time()
        with self.lock:
            mine = [s.at for s in self.sent if s.chat_id == chat_id]
        if chat_id > 0 and mine and now - mine[-1] < 1.0 * self.pace:
            return self._error(call, 429, "Too Many Requests: retry after 1", retry_after=1)
        recent = [at for at in mine if now - at < 60.0 * self.pace]
        if chat_id < 0 and len(recent) >= 20:
            wait = int(60 * self.pace - (now - recent[0])) + 1
            return self._error(
                call, 429, f"Too Many Requests: retry after {wait}", retry_after=wait
            )
        with self.lock:
            message_id = self.next_message.get(chat_id, 0) + 1
            self.next_message[chat_id] = message_id
            markup = (
                json.loads(call.params["reply_markup"]) if "reply_markup" in call.params else None
            )
            thread = (
                int(call.params["message_thread_id"])
                if "message_thread_id" in call.params
                else None
            )
            self.sent.append(
                Sent(chat_id, message_id, call.params["text"], text, thread, now, markup)
            )
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup",
                **({"first_name": "U"} if chat_id > 0 else {"title": "G"})}  # fmt: skip
        return self._ok(
            call, {"message_id": message_id, "date": int(now), "chat": chat, "text": text}
        )

    async def _api_sendDocument(self, call: Call) -> web.Response:
        chat_id = int(call.params["chat_id"])
        if "document" not in call.files:
            return self._error(call, 400, "Bad Request: there is no document in the request")
        name, data = call.files["document"]
        if len(data) > 50_000_000:
            return self._error(call, 413, "Request Entity Too Large")
        with self.lock:
            self.documents.append((chat_id, name, data, call.params.get("caption", "")))
            message_id = self.next_message.get(chat_id, 0) + 1
            self.next_message[chat_id] = message_id
        chat = {"id": chat_id, "type": "private", "first_name": "U"}
        document = {"file_id": f"f{message_id}", "file_unique_id": f"u{message_id}",
                    "file_name": name, "file_size": len(data)}  # fmt: skip
        return self._ok(call, {"message_id": message_id, "date": int(time.time()), "chat": chat,
                               "document": document})  # fmt: skip

    async def _api_editMessageText(self, call: Call) -> web.Response:
        text, error = self._check_text(call)
        if error is not None:
            return error
        chat_id, message_id = int(call.params["chat_id"]), int(call.params["message_id"])
        markup = json.loads(call.params["reply_markup"]) if "reply_markup" in call.params else None
        with self.lock:
            self.sent.append(
                Sent(chat_id, message_id, call.params["text"], text, None, time.time(), markup)
            )
        chat = {"id": chat_id, "type": "private", "first_name": "U"}
        return self._ok(call, {"message_id": message_id, "date": int(time.time()), "chat": chat, "text": text,
                               "edit_date": int(time.time())})  # fmt: skip
