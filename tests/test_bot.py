"""The Telegram bot end to end: the real Application, polling the fake Bot API server."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import string
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from conftest import GitRepo
from fakebot import FAST, TOKEN, FakeTelegram, Sent, parse_html

from dltbot.bot.compose import compose_push
from dltbot.bot.push import Pacing
from dltbot.config import Config, parse_config
from dltbot.models import Delivery, Entry, ListSource
from dltbot.present.catalogue import CATALOGUE, LANGS, MESSAGE_LIMIT, visible_length
from dltbot.service import Service
from dltbot.storage import Storage
from dltbot.sync import sync_list

ADMIN = 7


def readme(count: int, prefix: str = "E") -> str:
    lines = ["# Awesome\n\n## 泛化 Generalization\n\n"]
    lines += [
        f"- [{prefix}{i} entry](https://e.org/{prefix}/{i}) about entry {i}\n" for i in range(count)
    ]
    return "".join(lines)


def make_config(fake: FakeTelegram, db: Path) -> Config:
    return parse_config({
        "storage": {"path": str(db)},
        "lists": [{"name": "dlt", "repo": "unused"}],
        "telegram": {"token": TOKEN, "api_base_url": fake.base_url, "admins": [ADMIN]},
    })  # fmt: skip


def run_app(config: Config, db: Path, scenario: Callable[[], None], pace: float = FAST) -> None:
    """Run the bot as `dltbot bot` runs it (the service without its web server: polling,
    fan-out and delivery) while scenario() drives the fake from a thread; Telegram's limits
    scaled by `pace`, as the `fake` fixture enforces them."""

    async def main() -> None:
        service = Service(config, db, serve=False, pacing=Pacing(pace))
        stop = asyncio.Event()
        running = asyncio.create_task(service.run(stop=stop))
        try:
            await asyncio.to_thread(scenario)
        finally:
            stop.set()
            await running

    asyncio.run(main())


def sync(storage: Storage, repo: GitRepo, tmp_path: Path) -> None:
    report = sync_list(storage, ListSource("dlt", str(repo.path)), tmp_path / "clones")
    assert report.error is None, report.error


def test_catalogue_has_every_string_in_every_language() -> None:
    for key, texts in CATALOGUE.items():
        assert set(texts) == set(LANGS), key
        fields = {
            lang: sorted(f for _, f, _, _ in string.Formatter().parse(text) if f)
            for lang, text in texts.items()
        }
        assert fields["en"] == fields["zh"], key
        for text in texts.values():
            parse_html(text.replace("{bot}", "x"))  # valid Telegram HTML in every language


def test_pushes_are_cut_under_the_limit_and_carry_every_row_once() -> None:
    rows = [
        Delivery(i, 1, 0, 0, "dlt", Entry(f"e.org/{i}", f"https://e.org/{i}",
                 f"Title {i} 泛化", "d" * 300, (f"S{i // 7}",)))
        for i in range(40)
    ]  # fmt: skip
    sent: list[int] = []
    while len(sent) < len(rows):
        push = compose_push(rows[len(sent) :], "en", "2026-11-27", None)
        assert visible_length(parse_html(push.html)) <= MESSAGE_LIMIT
        sent += [row.id for row in push.rows]
    assert sent == list(range(40))


def last_to(fake: FakeTelegram, chat_id: int, count: int) -> Callable[[], Sent | None]:
    """Return a predicate: the newest message to chat_id once it received `count` messages."""

    def check() -> Sent | None:
        mine = [s for s in fake.sent if s.chat_id == chat_id]
        return mine[-1] if len(mine) >= count else None

    return check


def test_commands_buttons_and_inline_mode(
    fake: FakeTelegram, repo: GitRepo, tmp_path: Path
) -> None:
    repo.commit({"README.md": readme(60)}, "sixty entries")
    db = tmp_path / "db.sqlite3"
    with Storage(db) as storage:
        sync(storage, repo, tmp_path)
        # Left by a `dltbot run` whose hub was down (`dltbot bot` never pings).
        storage.queue_pings("https://hub.example.org/", ["https://f.org/a", "https://f.org/b"], 0)
    fake.admins[-2001] = {ADMIN}
    config = make_config(fake, db)

    def scenario() -> None:
        chat = 1001
        n = 0

        def ask(text: str, **kwargs: object) -> Sent:
            nonlocal n
            target = int(kwargs.get("chat_id", chat))  # type: ignore[call-overload]
            # Counted before asking: at the suite's pace the answer may come at once.
            n_before = len([s for s in fake.sent if s.chat_id == target])
            fake.message(text, **kwargs)  # type: ignore[arg-type]
            return fake.wait_for(last_to(fake, target, n_before + 1))

        welcome = ask("/start", language="zh")
        assert welcome.text.startswith("👋 我会关注精选阅读列表")
        assert "📚 dlt — 60 个条目，更新于 20" in welcome.text
        assert [[b["text"] for b in row] for row in welcome.reply_markup["inline_keyboard"]] == [
            ["🔔 订阅", "🆕 最新"],
            ["📂 章节"],
        ]  # no Web/RSS buttons: feed.base_url is not set
        help_en = ask("/help")
        assert help_en.text.startswith("Browse\n/search words")
        assert "every word, in any order and case" in help_en.text and "Lists: dlt." in help_en.text
        assert ask("/search").text == "Usage: /search words, e.g. /search generalization"
        results = ask("/search entry")
        assert results.text.startswith("Results for “entry” (1–5 of 60):")
        assert results.text.count("• ") == 5 and "dlt ·" not in results.text  # one list
        [[more], [notify]] = results.reply_markup["inline_keyboard"]
        assert more["text"] == "More »" and len(more["callback_data"].encode()) <= 64
        assert notify["text"] == "🔔 Notify me of new matches"
        fake.callback(more["callback_data"], results)
        page2 = fake.wait_for(
            lambda: [s for s in fake.sent if s.text.startswith("Results for “entry” (6–10 of 60)")]
        )
        assert [b["text"] for b in page2[0].reply_markup["inline_keyboard"][0]] == [
            "« Back",
            "More »",
        ]
        assert fake.wait_for(lambda: fake.calls_of("answerCallbackQuery"))
        nothing = ask("/search zzzz")
        assert nothing.text == "Nothing matches “zzzz”. Try other words, or browse the sections."
        assert nothing.reply_markup["inline_keyboard"][0][0]["callback_data"] == "a:3"
        # Plain text in a private chat is a search; an unknown command points at /help.
        assert ask("E7 entry").text.startswith("Results for “E7 entry” (1–1 of 1)")
        assert ask("/foo").text == "I don't know /foo. /help lists what I can do."
        picked = ask("/random 泛化")
        assert picked.text.startswith("• E")
        assert picked.reply_markup["inline_keyboard"][0][0]["text"] == "🎲 Another one"
        edits = len(fake.calls_of("editMessageText"))
        mine = len([s for s in fake.sent if s.chat_id == chat])
        fake.callback(picked.reply_markup["inline_keyboard"][0][0]["callback_data"], picked)
        assert fake.wait_for(last_to(fake, chat, mine + 1)).text.startswith("• E")
        assert len(fake.calls_of("editMessageText")) == edits  # a new message, not an edit
        fallback = ask("/random about entry 37")  # no heading says that: a matching entry
        assert fallback.text.startswith("No section is named “about entry 37”; here is a random")
        assert "• E37 entry" in fallback.text
        none = ask("/random 优化")
        assert none.text == "No section or entry matches “优化”. Browse the sections instead?"
        latest = ask("/latest 2")
        assert latest.text.startswith("The newest additions\n\n📅 2024-01-01\n• E")
        assert latest.text.count("• ") == 2 and latest.text.count("📅") == 1
        assert ask("/latest 99").text == "Usage: /latest [n] with n from 1 to 50"
        sections = ask("/sections")
        assert sections.text.startswith("Sections of dlt\n60 entries in 1 sections; showing 1–1.")
        [[section]] = sections.reply_markup["inline_keyboard"]
        assert section["text"] == "泛化 Generalization (60)"
        edits = len(fake.calls_of("editMessageText"))
        fake.callback(section["callback_data"], sections)
        listed = fake.wait_for(
            lambda: [s for s in fake.sent if s.text.startswith("泛化 Generalization (1–10 of 60)")]
        )
        assert listed[0].text.count("• ") == 10 and listed[0].message_id == sections.message_id
        assert len(fake.calls_of("editMessageText")) == edits + 1  # edited in place
        back = listed[0].reply_markup["inline_keyboard"]
        assert [b["text"] for row in back for b in row] == ["More »", "⬅ Sections"]
        fake.callback(back[1][0]["callback_data"], listed[0])
        fake.wait_for(lambda: len(fake.calls_of("editMessageText")) == edits + 2)
        assert fake.sent[-1].text == sections.text
        assert (
            ask("/subscribe dlt 泛化").text
            == "Subscribed to new additions to dlt matching “泛化”: they will be posted here."
        )
        assert ask("/subscribe dlt 泛化").text == (
            "Already subscribed to new additions to dlt matching “泛化”."
        )
        assert ask("/unsubscribe").text == "Unsubscribed from new additions to dlt matching “泛化”."
        group = {"chat_id": -2001, "chat_type": "supergroup"}
        assert (
            ask("/subscribe", user_id=55, **group).text
            == "Only this group's admins can change its subscriptions."
        )
        assert (
            ask("/subscribe", user_id=ADMIN, **group).text
            == "Subscribed to new additions to every list: they will be posted here."
        )
        # In a group, only a command that names this bot is answered as unknown.
        fake.message("/foo", user_id=55, **group)
        in_group = len([s for s in fake.sent if s.chat_id == -2001])
        assert ask("/foo@dlt_test_bot", user_id=55, **group).text.startswith("I don't know /foo.")
        assert len([s for s in fake.sent if s.chat_id == -2001]) == in_group + 1
        assert ask("/lang zh").text == "好的，我在这里会用中文回复。"
        assert ask("/help", language="en").text.startswith("浏览\n/search 关键词")
        assert ask("/lang en").text == "I will reply in English here."
        assert ask("/sync").text == "Sorry, only the bot's admins can do that."
        status = ask("/status", user_id=ADMIN, chat_id=ADMIN)
        assert status.text.startswith("dlt: ok, 60 entries, head ")
        assert ", synced just now" in status.text or " min ago" in status.text
        assert status.text.endswith(
            # `dltbot bot` fetches no cards: nothing said of enrichment.
            "Outbox: 0 pending, 0 sent, 0 parked, 0 dropped\nWebSub pings: 2 waiting, 0 parked"
        )
        fake.inline("entry")
        first = fake.wait_for(lambda: fake.calls_of("answerInlineQuery"))[0]
        assert (
            first.params["next_offset"] == "50"
            and first.params["results"].count('"type": "article"') == 50
        )
        fake.inline("entry", offset="50")
        second = fake.wait_for(lambda: fake.calls_of("answerInlineQuery")[1:])[0]
        assert (
            second.params.get("next_offset", "") == ""
            and second.params["results"].count('"type": "article"') == 10
        )

    run_app(config, db, scenario)
    assert [c.params.get("language_code", "") for c in fake.calls_of("setMyCommands")] == ["", "zh"]
    # Replies came fast in one chat: 429s happened and were waited out (every answer arrived).
    assert {(c.method, c.status) for c in fake.calls if c.status != 200} <= {("sendMessage", 429)}


def delivered(fake: FakeTelegram) -> dict[int, list[str]]:
    """Return, per chat, the entry URLs of every accepted message, in order."""
    out: dict[int, list[str]] = {}
    for sent in fake.sent:
        out.setdefault(sent.chat_id, []).extend(re.findall(r'href="([^"]+)"', sent.html))
    return out


def prepare_push(
    fake: FakeTelegram, repo: GitRepo, tmp_path: Path
) -> tuple[Path, list[int], list[str]]:
    """A backfilled list, 50 subscribed chats (one blocked, one migrating), 300 new additions."""
    repo.commit({"README.md": readme(5, "Old")}, "history")
    db = tmp_path / "db.sqlite3"
    private = list(range(2001, 2041))
    groups = list(range(-3001, -3011, -1))
    with Storage(db) as storage:
        sync(storage, repo, tmp_path)
        for chat in private + groups:
            storage.subscribe(chat, 0, "", "")
        repo.commit({"README.md": readme(5, "Old") + readme(300).split("\n\n", 2)[2]}, "300 new")
        sync(storage, repo, tmp_path)
    fake.blocked.add(2005)
    fake.migrated[-3003] = -1003003
    urls = [f"https://e.org/E/{i}" for i in range(300)]
    return db, private + groups, urls


def pending(db: Path) -> int:
    with Storage(db) as storage:
        return storage.outbox_counts().get("pending", 0)


def check_exactly_once(fake: FakeTelegram, chats: list[int], urls: list[str]) -> None:
    got = delivered(fake)
    expected = {chat: urls for chat in chats if chat not in (2005, -3003)}
    expected[-1003003] = urls
    assert {chat: got.get(chat, []) for chat in expected} == expected
    assert set(got) == set(expected)  # nothing to the blocked or the old group id
    errors = [
        (c.method, c.status, c.params.get("chat_id"))
        for c in fake.calls
        if c.status not in (200, 499)
    ]
    assert sorted(errors) == [("sendMessage", 400, "-3003"), ("sendMessage", 403, "2005")]
    pace = fake.pace
    for chat in expected:  # Telegram's limits (scaled by the fake's pace), as it recorded
        times = [s.at for s in fake.sent if s.chat_id == chat]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap >= (1.0 if chat > 0 else 2.9) * pace for gap in gaps), (chat, gaps)
    stamps = sorted(s.at for s in fake.sent)
    window = 1.0 * pace
    assert max(sum(1 for t in stamps if start <= t < start + window) for start in stamps) <= 30


def test_push_300_additions_to_50_chats_exactly_once(
    fake: FakeTelegram, repo: GitRepo, tmp_path: Path
) -> None:
    db, chats, urls = prepare_push(fake, repo, tmp_path)
    started = time.monotonic()
    run_app(
        make_config(fake, db),
        db,
        lambda: fake.wait_for(lambda: pending(db) == 0 and fake.sent, timeout=90),
    )
    check_exactly_once(fake, chats, urls)
    assert all(
        "Old" not in url for urls_ in delivered(fake).values() for url in urls_
    )  # history is not news
    with Storage(db) as storage:
        assert storage.outbox_counts() == {"sent": 300 * 48 + 300, "dropped": 300}
        assert {s.chat_id for s in storage.subscriptions()} == set(chats) - {2005, -3003} | {
            -1003003
        }
    assert time.monotonic() - started < 90


def test_push_resumes_after_the_bot_is_killed(
    fake: FakeTelegram, repo: GitRepo, tmp_path: Path
) -> None:
    db, chats, urls = prepare_push(fake, repo, tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"storage:\n  path: {db}\nlists:\n  - name: dlt\n    repo: unused\n"
        f"telegram:\n  token: '{TOKEN}'\n  api_base_url: {fake.base_url}\n",
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "dltbot.cli", "bot", "--config", str(config)]
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": ""}
    first = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    fake.wait_for(lambda: len(fake.sent) >= 40, timeout=60)
    fake.hold = True  # new sends wait; those already answered get stored by the bot
    time.sleep(1.0)
    first.send_signal(signal.SIGKILL)
    _, log = first.communicate(timeout=10)
    assert TOKEN not in log and TOKEN.split(":")[1] not in log
    assert 0 < pending(db) < 300 * 50
    time.sleep(0.5)  # let the fake's loop see the dead connections before it lets them through
    fake.hold = False
    second = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        fake.wait_for(lambda: pending(db) == 0, timeout=90)
    finally:
        second.send_signal(signal.SIGTERM)
        _, log = second.communicate(timeout=20)
    assert TOKEN.split(":")[1] not in log
    check_exactly_once(fake, chats, urls)
