"""The bot as a new user meets it (issue 13): pushes in the subscriber's language with a
header, sections and a footer; delivery modes and quiet hours; subscriptions managed with
buttons; the "did you mean" on /subscribe; inline mode's empty and no-match answers; every
message rendered in both languages."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import GitRepo
from fakebot import TOKEN, FakeTelegram, Sent, parse_html
from test_bot import ADMIN, last_to, run_app, sync

from dltbot.bot.compose import compose_push
from dltbot.bot.handlers import ago, lists_page
from dltbot.bot.subs import _parse_quiet, covers
from dltbot.config import Config, parse_config
from dltbot.models import Delivery, Entry, Subscription
from dltbot.present.catalogue import CATALOGUE, LANGS, MESSAGE_LIMIT, t, visible_length
from dltbot.present.links import Links, commit_url
from dltbot.schedule import due_at
from dltbot.storage import Storage

BASE = "https://feeds.example.org"
ZH_USER = 3001  # Telegram in Chinese, never used /lang
GROUP = -4001


def listing(sections: dict[str, list[str]]) -> str:
    out = ["# Awesome\n"]
    for heading, names in sections.items():
        out.append(f"\n## {heading}\n\n")
        out += [f"- [{n} paper](https://e.org/{n}) about {n}\n" for n in names]
    return "".join(out)


OLD = {"Optimization 优化": ["O1"], "Generalization 泛化": ["G1"]}
NEW = {
    "Optimization 优化": ["O1", "O2", "O3"],
    "Generalization 泛化": ["G1", "G2"],
    "Grokking": ["K1"],
}


def config_for(fake: FakeTelegram, db: Path) -> Config:
    return parse_config({
        "storage": {"path": str(db)},
        "lists": [{"name": "dlt", "repo": "unused"}],
        "feed": {"base_url": BASE},
        "telegram": {"token": TOKEN, "api_base_url": fake.base_url, "admins": [ADMIN]},
    })  # fmt: skip


def ask(fake: FakeTelegram, text: str, chat: int, **kwargs: object) -> Sent:
    before = len([s for s in fake.sent if s.chat_id == chat])
    fake.message(text, chat_id=chat, **kwargs)  # type: ignore[arg-type]
    return fake.wait_for(last_to(fake, chat, before + 1))  # type: ignore[no-any-return]


def press(fake: FakeTelegram, message: Sent, text: str, **kwargs: object) -> None:
    data = [b["callback_data"] for row in message.reply_markup["inline_keyboard"] for b in row
            if b["text"] == text]  # fmt: skip
    assert data, (text, message.reply_markup)
    fake.callback(data[0], message, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def db(repo: GitRepo, tmp_path: Path) -> Path:
    """A database holding the list's first version (a backfill: nothing to push)."""
    repo.commit({"README.md": listing(OLD)}, "start")
    path = tmp_path / "db.sqlite3"
    with Storage(path) as storage:
        sync(storage, repo, tmp_path)
    return path


def test_pushes_speak_the_subscribers_language_with_header_sections_and_footer(
    fake: FakeTelegram, repo: GitRepo, tmp_path: Path, db: Path
) -> None:
    fake.admins[GROUP] = {ADMIN}
    zh = {"language": "zh-hans"}

    def scenario() -> None:
        reply = ask(fake, "/subscribe", ZH_USER, user_id=ZH_USER, **zh)
        assert reply.text == "已订阅所有列表的新条目，会推送到这里。"
        group = {"chat_type": "supergroup", "user_id": ADMIN, **zh}
        assert ask(fake, "/subscribe dlt 优化", GROUP, **group).text == (
            "已订阅 dlt 中包含“优化”的新条目，会推送到这里。"
        )
        assert ask(fake, "/subscribe", 1001).text.startswith("Subscribed to new additions")
        with Storage(db) as storage:
            repo.commit({"README.md": listing(NEW)}, "six new")
            sync(storage, repo, tmp_path)
        for chat in (ZH_USER, GROUP, 1001):
            fake.wait_for(lambda chat=chat: [s for s in fake.sent if s.chat_id == chat][1:])

    run_app(config_for(fake, db), db, scenario)
    push_zh = [s for s in fake.sent if s.chat_id == ZH_USER][1]
    today = datetime.now(UTC).date().isoformat()
    assert push_zh.text.startswith(f"🆕 新增 4 条 · {today} · dlt\n\nOptimization 优化\n• O2 paper")
    # Entries under their section (said once), in list order; the footer links page and feed.
    assert push_zh.text.count("Optimization 优化") == 1 and "Grokking\n• K1 paper" in push_zh.text
    assert push_zh.text.endswith("网页 · Atom 订阅 · /subscriptions")
    assert f'<a href="{BASE}/lists/dlt/feed.atom">Atom 订阅</a>' in push_zh.html
    push_group = [s for s in fake.sent if s.chat_id == GROUP][1]
    assert push_group.text.startswith(f"🆕 新增 2 条 · {today} · dlt · 筛选：优化\n\n")
    assert "G2" not in push_group.text  # the filter: why the group got 2 of 4
    push_en = [s for s in fake.sent if s.chat_id == 1001][1]
    assert push_en.text.startswith(f"🆕 4 new · {today} · dlt\n\n")
    assert push_en.text.endswith("Web page · Atom feed · /subscriptions")


def test_subscriptions_have_buttons_modes_quiet_hours_and_say_what_they_cover(
    fake: FakeTelegram, db: Path
) -> None:
    chat = 1001

    def scenario() -> None:
        # /start's buttons, as a user whose Telegram is in Chinese presses them.
        zh_user = 3002
        welcome = ask(fake, "/start", zh_user, user_id=zh_user, language="zh-hans")
        assert [[b.get("url", b["text"]) for b in row]
                for row in welcome.reply_markup["inline_keyboard"]] == [
            ["🔔 订阅", "🆕 最新"], ["📂 章节", f"{BASE}/", f"{BASE}/feed.atom"]
        ]  # fmt: skip
        press(fake, welcome, "🔔 订阅", user_id=zh_user, language="zh-hans")
        assert fake.wait_for(last_to(fake, zh_user, 2)).text == (
            "已订阅所有列表的新条目，会推送到这里。"
        )
        press(fake, welcome, "🆕 最新", user_id=zh_user, language="zh-hans")
        assert fake.wait_for(last_to(fake, zh_user, 3)).text.startswith("最新添加的条目\n\n📅 ")
        lists = ask(fake, "/lists", zh_user, user_id=zh_user, language="zh-hans")
        assert lists.text.startswith("📚 dlt — 2 个条目，更新于 20")
        assert f'<a href="{BASE}/lists/dlt/feed.atom">Atom 订阅</a>' in lists.html
        warned = ask(fake, "/subscribe nosuchlist", chat)
        assert warned.text == (
            "No entry mentions “nosuchlist” today, and no list has that name. Lists: dlt. "
            "Subscribe anyway, to hear of future entries that mention it?"
        )
        with Storage(db) as storage:
            assert storage.subscriptions(chat) == []  # not until the user insists
        press(fake, warned, "🔔 Subscribe anyway")
        insisted = fake.wait_for(last_to(fake, chat, 2))
        assert insisted.text == (
            "Subscribed to new additions to every list matching “nosuchlist”: they will be "
            "posted here."
        )
        ask(fake, "/subscribe", chat)
        found = ask(fake, "/search paper", chat)
        press(fake, found, "🔔 Notify me of new matches")
        fake.wait_for(lambda: "matching “paper”" in fake.sent[-1].text)
        listed = ask(fake, "/subscriptions", chat)
        since = datetime.now(UTC).date().isoformat()
        assert listed.text.startswith(
            "This chat follows:\n"
            f"1. new additions to every list matching “nosuchlist”\n   since {since} · at once\n"
            "   ⚠️ Also brought by subscription 2, which covers it.\n"
            f"2. new additions to every list\n   since {since} · at once\n"
        )
        rows = listed.reply_markup["inline_keyboard"]
        assert [[b["text"] for b in row] for row in rows][1] == [
            "❌ 2",
            "⏱ daily digest",
            "🌙 Quiet hours",
        ]
        edits = len(fake.calls_of("editMessageText"))
        press(fake, listed, "❌ 1")
        fake.wait_for(lambda: len(fake.calls_of("editMessageText")) == edits + 1)
        edited = fake.sent[-1]
        assert edited.message_id == listed.message_id and "nosuchlist" not in edited.text
        # The mode button cycles at once → daily → weekly; quiet hours follow /quiet.
        press(fake, edited, "⏱ daily digest")
        fake.wait_for(lambda: len(fake.calls_of("editMessageText")) == edits + 2)
        assert "1. new additions to every list\n   since " in fake.sent[-1].text
        assert " · daily digest\n" in fake.sent[-1].text
        assert ask(fake, "/quiet 25-8", chat).text.startswith("Usage: /quiet 22-8")
        assert ask(fake, "/quiet 23-7 +8", chat).text == (
            "Quiet hours 23:00–7:00 UTC+8: pushes that come then wait until they end."
        )
        now = ask(fake, "/subscriptions", chat)
        assert " · daily digest · quiet 23:00–7:00 UTC+8\n" in now.text
        assert ask(fake, "/unsubscribe", chat).text == (
            "Unsubscribed from new additions to every list; new additions to every list "
            "matching “paper”."
        )

    run_app(config_for(fake, db), db, scenario)
    with Storage(db) as storage:
        assert storage.quiet_hours(chat) == (23, 7, 480)


def test_held_pushes_wait_for_their_digest_or_the_end_of_quiet_hours(
    repo: GitRepo, tmp_path: Path
) -> None:
    repo.commit({"README.md": listing(OLD)}, "start")
    with Storage(tmp_path / "db.sqlite3") as storage:
        sync(storage, repo, tmp_path)
        for chat in (1, 2, 3, 4):
            storage.subscribe(chat, 0, "", "")
        [daily] = storage.subscriptions(2)
        storage.set_subscription(2, daily.id, mode="daily")
        [weekly] = storage.subscriptions(3)
        storage.set_subscription(3, weekly.id, mode="weekly")
        storage.set_quiet_hours(4, 22, 8, 60)  # UTC+1
        repo.commit({"README.md": listing(NEW)}, "six new")
        sync(storage, repo, tmp_path)
        # Friday 2026-11-27 23:30 UTC = Saturday 00:30 in UTC+1: in chat 4's quiet hours.
        now = datetime(2026, 11, 27, 23, 30, tzinfo=UTC).timestamp()
        assert storage.fan_out(now=now) == 4 * 4
        due = dict(storage.db.execute("SELECT chat_id, max(next_attempt) FROM outbox GROUP BY 1"))
        stamp = {chat: datetime.fromtimestamp(at, UTC).isoformat() for chat, at in due.items()}
    assert stamp == {
        1: "2026-11-27T23:30:00+00:00",  # at once
        2: "2026-11-28T08:00:00+00:00",  # the next daily digest (08:00)
        3: "2026-11-30T08:00:00+00:00",  # Monday's weekly digest
        4: "2026-11-28T07:00:00+00:00",  # 08:00 in UTC+1, when quiet hours end
    }
    with Storage(tmp_path / "db.sqlite3") as storage:
        storage.migrate_chat(4, -1004)  # a group upgraded to a supergroup keeps its hours
        assert storage.quiet_hours(-1004) == (22, 8, 60)
        assert [s.quiet for s in storage.subscriptions(-1004)] == [True]


def test_due_times_and_quiet_hours() -> None:
    monday_9 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC).timestamp()
    assert due_at("now", False, monday_9) == monday_9
    assert due_at("now", True, monday_9) == monday_9  # not quiet at 09:00
    daily = due_at("daily", False, monday_9)
    assert datetime.fromtimestamp(daily, UTC) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    weekly = due_at("weekly", False, monday_9)
    assert datetime.fromtimestamp(weekly, UTC) == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    # A digest that falls in quiet hours 06–10 waits for their end.
    held = due_at("daily", True, monday_9, start=6, end=10)
    assert datetime.fromtimestamp(held, UTC) == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert _parse_quiet(["22-8", "+5:30"]) == (22, 8, 330)
    for bad in (["22"], ["22-8", "+x"], ["8-8"], ["２２-8"], ["22-8", "+15"], ["1-2", "+1", "x"]):
        assert _parse_quiet(bad) is None, bad


def test_covering_subscriptions() -> None:
    def sub(n: int, name: str, words: str, thread: int = 0) -> Subscription:
        return Subscription(n, 1, thread, name, words, "user")

    assert covers(sub(1, "", ""), sub(2, "dlt", "optimization"))
    assert covers(sub(1, "dlt", "optim"), sub(2, "dlt", "Optim theory"))
    assert not covers(sub(1, "dlt", "theory"), sub(2, "", "theory"))
    assert not covers(sub(1, "", ""), sub(2, "dlt", "x", thread=5))  # another topic


def test_a_long_push_is_cut_between_sections() -> None:
    rows = [
        Delivery(i, 1, 0, 0, "dlt", Entry(f"e/{i}", f"https://e.org/{i}", f"Paper {i}",
                 "d" * 180, (f"Section {i // 10}",)), lang="en")
        for i in range(60)
    ]  # fmt: skip
    push = compose_push(rows, "en", "2026-11-27", Links(BASE))
    text = parse_html(push.html)
    assert visible_length(text) <= MESSAGE_LIMIT
    taken = len(push.rows)
    assert taken % 10 == 0 and 0 < taken < 60  # whole sections only
    assert text.startswith(f"🆕 {taken} new · 2026-11-27 · dlt\n\nSection 0\n• Paper 0")
    assert f"{60 - taken} more follow.\nWeb page · Atom feed · /subscriptions" in text
    rest = compose_push(rows[taken:], "en", "2026-11-27", None)
    assert parse_html(rest.html).startswith(
        f"🆕 {len(rest.rows)} new · 2026-11-27 · dlt\n\nSection"
    )
    # One section longer than a message is cut between its entries.
    long = [
        Delivery(i, 1, 0, 0, "dlt", Entry(f"e/{i}", f"https://e.org/{i}", f"P{i}", "d" * 190,
                 ("Big",)), lang="zh", filter="泛化")
        for i in range(40)
    ]  # fmt: skip
    cut = compose_push(long, "zh", "2026-11-27", None)
    assert 0 < len(cut.rows) < 40 and visible_length(parse_html(cut.html)) <= MESSAGE_LIMIT
    assert parse_html(cut.html).startswith(
        f"🆕 新增 {len(cut.rows)} 条 · 2026-11-27 · dlt · 筛选：泛化"
    )


def test_inline_mode_answers_empty_and_unmatched_queries(
    fake: FakeTelegram, repo: GitRepo, tmp_path: Path
) -> None:
    repo.commit({"README.md": listing(NEW)}, "start")
    db = tmp_path / "db.sqlite3"
    with Storage(db) as storage:
        sync(storage, repo, tmp_path)

    def scenario() -> None:
        fake.inline("")
        empty = fake.wait_for(lambda: fake.calls_of("answerInlineQuery"))[0]
        assert empty.params["results"].count('"type": "article"') == 6  # the latest additions
        fake.inline("zzzz")
        none = fake.wait_for(lambda: fake.calls_of("answerInlineQuery")[1:])[0]
        assert none.params["results"] == "[]"
        assert '"start_parameter": "help"' in none.params["button"]
        assert '"text": "No match \\u2014 open the bot"' in none.params["button"]

    run_app(config_for(fake, db), db, scenario)


def test_status_says_times_as_people_do_and_links_the_commit() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert ago("en", "2026-11-27T11:57:00+00:00", now) == "3 min ago"
    assert ago("zh", "2026-11-27T09:00:00+00:00", now) == "3 小时前"
    assert ago("en", "2026-11-20T12:00:00+00:00", now) == "7 days ago"
    assert ago("en", None, now) == "never"
    sha = "a" * 40
    assert commit_url("https://github.com/foocker/deeplearningtheory.git", sha) == (
        f"https://github.com/foocker/deeplearningtheory/commit/{sha}"
    )
    assert commit_url("https://gitlab.com/o/r", sha) == f"https://gitlab.com/o/r/-/commit/{sha}"
    assert commit_url("/srv/lists/dlt", sha) is None


SAMPLES = {"en": ["deeplearningtheory", "12", "泛化"], "zh": ["deeplearningtheory", "12", "泛化"]}
CHINESE_PUNCTUATION = "，。：；！？）」』、“”"


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_renders_cleanly_in_both_languages(lang: str) -> None:
    """Each catalogue string, filled with a Latin, a number and a Chinese value in turn: no
    placeholder left, no double space, no space before Chinese punctuation or between two
    Chinese characters, and valid Telegram HTML."""
    for key, texts in CATALOGUE.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(texts[lang]) if f}
        for sample in SAMPLES[lang]:
            text = t(lang, key, **dict.fromkeys(fields, sample))
            if not key.startswith("page_"):
                parse_html(text)  # valid Telegram HTML
            # Command examples in <code> are typed as they are (`/subscribe dlt 泛化`).
            plain = re.sub(r"<code>.*?</code>", "<code></code>", text)
            assert "{" not in plain and "}" not in plain, (key, plain)
            assert "  " not in plain.replace("\n   ", "\n"), (key, plain)
            punctuation = CHINESE_PUNCTUATION if lang == "zh" else CHINESE_PUNCTUATION[:-2]
            assert not re.search(f" [{punctuation}]", plain), (key, plain)
            if lang == "zh":
                assert not re.search(r"[\u4e00-\u9fff] [\u4e00-\u9fff]", plain), (key, plain)
                assert "的 的" not in plain and "的新条目 的" not in plain, (key, plain)


def test_a_chinese_user_meets_every_command_in_chinese(fake: FakeTelegram, db: Path) -> None:
    """A user whose Telegram is zh-hans, never having used /lang, through the fake Bot API."""
    me = 3003
    fake.admins[GROUP] = {ADMIN}

    def scenario() -> None:
        def zh(text: str, chat: int = me, user: int = me) -> Sent:
            kind = "supergroup" if chat < 0 else "private"
            return ask(fake, text, chat, user_id=user, language="zh-hans", chat_type=kind)

        assert zh("/help").text.startswith("浏览\n/search 关键词 — 搜索条目，例如/search 泛化")
        assert "现有列表：dlt。" in zh("/help").text
        found = zh("泛化")
        assert found.text.startswith("“泛化”的搜索结果（第 1–1 条，共 1 条）：")
        assert found.reply_markup["inline_keyboard"][-1][0]["text"] == "🔔 有新的匹配条目时通知我"
        assert zh("/search zzzz").text == "没有找到包含“zzzz”的条目。换个关键词试试，或按章节浏览。"
        assert zh("/random about G1").text.startswith(
            "没有名称包含“about G1”的章节，随机挑了一条提到它的条目：\n\n• G1 paper"
        )
        assert zh("/random 量子").text == "没有章节或条目包含“量子”。要不要按章节浏览？"
        sections = zh("/sections")
        assert sections.text == (
            "dlt 的章节\n2 个章节，共 2 个条目；当前显示第 1–2 个。点一个章节查看其中的条目。"
        )
        assert [b["text"] for b in sections.reply_markup["inline_keyboard"][0]] == [
            "Optimization 优化 (1)", "Generalization 泛化 (1)"
        ]  # fmt: skip
        assert zh("/latest").text.startswith("最新添加的条目\n\n📅 20")
        assert zh("/foo").text == "我不认识“/foo”这个命令，/help 里有我能做的事。"
        assert zh("/subscribe 量子").text.startswith(
            "目前没有条目包含“量子”，也没有这个名字的列表。"
        )
        assert zh("/subscribe dlt").text == "已订阅 dlt 的新条目，会推送到这里。"
        assert zh("/subscribe dlt").text == "已经订阅过 dlt 的新条目。"
        listed = zh("/subscriptions")
        assert listed.text.startswith("本聊天的订阅：\n1. dlt 的新条目\n   ")
        assert " 起 · 即时推送\n" in listed.text
        assert zh("/quiet 23-7 +8").text == (
            "免打扰时段为 23:00–7:00（UTC+8），期间的推送会在结束后发送。"
        )
        assert zh("/unsubscribe").text == "已取消订阅 dlt 的新条目。"
        assert zh("/unsubscribe").text == "这里没有这项订阅。"
        group = zh("/subscribe", chat=GROUP, user=55)
        assert group.text == "只有本群管理员可以更改订阅。"
        assert zh("/sync").text == "抱歉，只有机器人管理员可以这样做。"
        status = zh("/status", chat=ADMIN, user=ADMIN)
        assert status.text.startswith("dlt：ok，2 个条目，head ")
        assert "，刚刚同步" in status.text or "分钟前同步" in status.text
        assert "发送队列：待发送 0，已发送 0，搁置 0，已丢弃 0" in status.text

    run_app(config_for(fake, db), db, scenario)


def test_with_300_lists_start_and_lists_fit_and_page(db: Path, fake: FakeTelegram) -> None:
    """A newcomer to an instance following 300 lists gets /start, /help and /lists answered,
    each message within Telegram's 4,096 characters, every list reachable by paging."""
    with Storage(db) as storage:
        for number in range(299):  # with the synced one: 300
            name = f"awesome-{number:03d}-" + "x" * 40
            storage.ensure_list(name, f"https://github.com/owner{number}/{name}")

    def scenario() -> None:
        start = ask(fake, "/start", 1001)
        assert visible_length(start.text) <= MESSAGE_LIMIT
        assert "300 lists" in start.text and "awesome-250" not in start.text
        help_text = ask(fake, "/help", 1001).text
        assert visible_length(help_text) <= MESSAGE_LIMIT and "and 280 more" in help_text
        status = ask(fake, "/status", ADMIN, user_id=ADMIN).text  # a summary, not 300 lines
        assert visible_length(status) <= MESSAGE_LIMIT
        assert status.startswith("300 lists: 1 ok, 299 not synced yet, 0 failing")
        page = ask(fake, "/lists", 1001)
        for number in range(3):  # through the buttons (a user's pace: the bot limits rates)
            assert visible_length(page.text) <= MESSAGE_LIMIT
            assert f"Lists {number * 10 + 1}–{number * 10 + 10} of 300" in page.text
            count = len(fake.sent)
            press(fake, page, "More »")
            page = fake.wait_for(lambda c=count: fake.sent[c] if len(fake.sent) > c else None)
        # The welcome's button opens the pages too.
        count = len(fake.sent)
        press(fake, start, "📚 Lists")
        first = fake.wait_for(lambda: fake.sent[count] if len(fake.sent) > count else None)
        assert "Lists 1–10 of 300" in first.text

    run_app(config_for(fake, db), db, scenario)
    # Every page, as the buttons reach it: each list on exactly one, each page within limits.
    seen = []
    with Storage(db) as storage:
        for number in range(31):  # one past the end shows the last page again
            text, keyboard = lists_page(storage, number, "en", Links(BASE))
            assert visible_length(parse_html(text)) <= MESSAGE_LIMIT
            if number < 30:
                seen += re.findall(r"📚 (awesome-\d{3}|dlt)\b", parse_html(text))
            else:
                assert "Lists 291–300 of 300" in text and keyboard is not None
    assert len(seen) == 300 and len(set(seen)) == 300


def test_latest_and_inline_honour_the_hold(
    db: Path, repo: GitRepo, tmp_path: Path, fake: FakeTelegram
) -> None:
    """Additions waiting for their cards are not shown by /latest or an empty inline query
    until the hold lets them go, as the feeds and the pushes wait."""
    from dltbot.bot.browse import latest_html
    from dltbot.hold import Hold

    repo.commit({"README.md": listing(OLD) + "- [Held back](https://held.org) new\n"}, "new")
    with Storage(db) as storage:
        before = storage.last_event_id()
        sync(storage, repo, tmp_path)
        hold = Hold()
        hold.start(before)
        held = latest_html(storage, "en", 50, hold.upto) or ""
        hold.release(storage.last_event_id())
        released = latest_html(storage, "en", 50, hold.upto) or ""
    assert "Held back" not in held and "Held back" in released


def test_bib_sends_a_bibtex_document_of_the_matching_papers(db: Path, fake: FakeTelegram) -> None:
    from dltbot.bib import parse

    def scenario() -> None:
        fake.message("/bib o1", chat_id=1001)
        fake.wait_for(lambda: fake.documents)
        fake.message("/bib", chat_id=1001, language="zh")
        fake.wait_for(lambda: len(fake.documents) == 2)
        none = ask(fake, "/bib nothingmatchesthis", 1001)
        assert "nothingmatchesthis" in none.text

    run_app(config_for(fake, db), db, scenario)
    (chat, name, data, caption), (_, latest_name, latest, zh_caption) = fake.documents
    from dltbot.bot.browse import bib_file_name

    assert bib_file_name("../../etc/passwd <x> \u202e") == "dltbot-etcpasswd-x.bib"
    assert (chat, name) == (1001, "dltbot-o1.bib") and caption.startswith("📚 BibTeX of 1 entries")
    assert [e["title"] for e in parse(data.decode())] == ["{O1 paper}"]
    assert latest_name == "dltbot-latest.bib" and zh_caption.startswith("📚 2 个条目的 BibTeX")
    assert {e["title"] for e in parse(latest.decode())} == {"{O1 paper}", "{G1 paper}"}


def test_updates_subscriptions_hear_of_their_papers_news(db: Path, fake: FakeTelegram) -> None:
    """`/subscribe … +updates` also brings the papers' news (off by default); a first
    record of a paper is no news."""
    from dltbot.models import Card, CardState

    def record(version: str) -> None:
        with Storage(db) as storage:
            entry = next(e.entry for e in storage.entries("dlt") if e.entry.title == "O1 paper")
            card = Card(source="arxiv", title="O1 paper", authors=("A. Author",),
                        version=version, updated="2026-12-01", comment="camera-ready")  # fmt: skip
            storage.save_card_states([CardState(entry.identity, entry.url, card)], 0.0)

    def scenario() -> None:
        record("v1")  # before anyone asked: no news for them later either
        answer = ask(fake, "/subscribe dlt +updates", 1001)
        assert "papers' news" in answer.text
        assert "papers" not in ask(fake, "/subscribe dlt", 2002, user_id=2002).text.split("\n")[-1]
        record("v2")
        news = fake.wait_for(
            lambda: [s for s in fake.sent if s.chat_id == 1001 and "Papers' news" in s.text]
        )
        assert "new version v2: O1 paper (dlt)" in news[0].text and "camera-ready" in news[0].text
        record("v2")  # the same record again: nothing more

    run_app(config_for(fake, db), db, scenario)
    assert len([s for s in fake.sent if "Papers' news" in s.text]) == 1  # chat 2002: none
