"""Hostile Telegram users, through the real Application and the fake Bot API server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import GitRepo
from fakebot import TOKEN, FakeTelegram, Sent, parse_html
from test_bot import make_config, run_app, sync

from dltbot.bot.flow import UserLimit
from dltbot.storage import Storage

LONG = "L" * 5000
LIST = (
    "# Awesome\n\n## Papers\n\n"
    "- [Script link](javascript:alert(1)) bad\n"
    "- [Data link](data:text/html,x) bad\n"
    "- [Proxy link](tg://proxy?server=evil) bad\n"
    "- [Local file](file:///etc/passwd) bad\n"
    f"- [{LONG}](https://long.example.org) {LONG}\n"
    "- [Good link](https://good.example.org) fine\n"
)


@pytest.fixture
def db(repo: GitRepo, tmp_path: Path) -> Path:
    repo.commit({"README.md": LIST}, "hostile")
    path = tmp_path / "db.sqlite3"
    with Storage(path) as storage:
        sync(storage, repo, tmp_path)
    return path


def replies_to(fake: FakeTelegram, chat: int, count: int) -> list[Sent]:
    return fake.wait_for(
        lambda: (
            [s for s in fake.sent if s.chat_id == chat][count - 1 :]
            and [s for s in fake.sent if s.chat_id == chat]
        )
    )


def test_only_http_links_are_links(fake: FakeTelegram, db: Path) -> None:
    def scenario() -> None:
        fake.message("/search link")
        [reply] = replies_to(fake, 1001, 1)
        hrefs = re.findall(r'href="([^"]+)"', reply.html)
        assert hrefs == ["https://good.example.org"]
        for title in ("Script link", "Data link", "Proxy link"):
            assert title in reply.text
        fake.inline("link")
        [answer] = fake.wait_for(lambda: fake.calls_of("answerInlineQuery"))
        results = answer.params["results"]
        assert "javascript:" not in results.replace('"Script link', "")
        assert '"url": "tg:' not in results and '"url": "data:' not in results
        assert 'href=\\"javascript' not in results and 'href=\\"tg:' not in results

    run_app(make_config(fake, db), db, scenario)


def test_a_5000_character_title_still_gets_answered(fake: FakeTelegram, db: Path) -> None:
    def scenario() -> None:
        fake.message("/search long")
        fake.message("/latest 10")
        replies = replies_to(fake, 1001, 2)
        for reply in replies:
            assert len(parse_html(reply.html)) <= 4096
        assert any("L" * 200 in r.text and "…" in r.text for r in replies)

    run_app(make_config(fake, db), db, scenario)
    assert {c.status for c in fake.calls_of("sendMessage")} <= {200, 429}  # never a 400


def test_hostile_plain_text_quiet_hours_and_subscriptions(fake: FakeTelegram, db: Path) -> None:
    """Plain text is a search now: huge or control-laden text gets the search rule, never a
    query; /quiet and /subscribe refuse what they cannot read; nothing is stored from it."""
    bad = "Please search with at most 12 words and 200 characters of plain text."
    cases = [
        ("x" * 4000, bad),
        ("grok\x00king \u202eevil", bad),
        ("/subscribe " + "w " * 500, bad),
        ("/quiet 99999999999999999999-1", "Usage: /quiet 22-8"),
        ("/quiet 22-8 +99999", "Usage: /quiet 22-8"),
        ("/quiet 22-8 +8 extra", "Usage: /quiet 22-8"),
        ("/nosuchcommand\u202e", "I don't know /nosuchcommand"),
    ]

    def scenario() -> None:
        for number, (text, answer) in enumerate(cases, start=1):
            fake.message(text)
            reply = replies_to(fake, 1001, number)[number - 1]
            assert reply.text.startswith(answer), (text, reply.text)
            assert "\u202e" not in reply.text and "\x00" not in reply.text

    run_app(make_config(fake, db), db, scenario)
    with Storage(db) as storage:
        assert storage.subscriptions(1001) == []
        assert storage.quiet_hours(1001) == (22, 8, 0)
        kept = storage.db.execute("SELECT count(*) FROM queries").fetchone()[0]
        assert kept == 0  # refused words are never kept


def test_forged_and_malformed_button_data_find_nothing(fake: FakeTelegram, db: Path) -> None:
    def scenario() -> None:
        fake.message("/search bad", chat_id=1001, user_id=1001)
        [results] = replies_to(fake, 1001, 1)
        fake.message("/subscribe", chat_id=1001, user_id=1001)
        replies_to(fake, 1001, 2)
        fake.message("/search good", chat_id=2002, user_id=2002)
        [own] = replies_to(fake, 2002, 1)
        query_id = int(fake.wait_for(lambda: _kept_ids(db))[0])
        with Storage(db) as storage:
            [theirs] = storage.subscriptions(1001)
        # User 2002 presses buttons whose data name user 1001's query and subscription, in
        # their own chat: to page it, pick from it, subscribe to it, end or change it.
        forged = [f"s:{query_id}:0", f"r:{query_id}", f"n:{query_id}", f"f:{query_id}",
                  f"t:{query_id}:0", f"c:{query_id}:0:0", f"u:{theirs.id}", f"m:{theirs.id}",
                  f"q:{theirs.id}"]  # fmt: skip
        malformed = ["s:x:y", "zzz", "s:1:99999999999", "c:", "s:1:2:3", "r:-1", "c:²", "a:",
                     "c:1:2", "u:1:1", ""]  # fmt: skip
        for data in forged + malformed:
            fake.callback(data, own, user_id=2002)
        total = len(forged) + len(malformed)
        answers = fake.wait_for(lambda: len(fake.calls_of("answerCallbackQuery")) >= total and
                                fake.calls_of("answerCallbackQuery"))  # fmt: skip
        assert len(answers) == total
        edits = fake.wait_for(lambda: len(fake.calls_of("editMessageText")) >= 3 and
                              fake.calls_of("editMessageText"))  # fmt: skip
        time_out = [s for s in fake.sent if s.chat_id == 2002][1:]  # the random pick's reply
        for text in [edit.params["text"] for edit in edits] + [s.html for s in time_out]:
            assert "bad" not in text  # 1001's search is not shown to 2002
            assert "expired" in text
        with Storage(db) as storage:
            assert storage.subscriptions(1001) == [theirs]  # unchanged
            assert storage.subscriptions(2002) == []
        assert results.chat_id == 1001

    run_app(make_config(fake, db), db, scenario)


def _kept_ids(db: Path) -> list[int]:
    with Storage(db) as storage:
        rows = storage.db.execute(
            "SELECT id FROM queries WHERE chat_id = 1001 AND kind = 'search'"
        ).fetchall()
    return [row[0] for row in rows]


def test_one_users_flood_does_not_stall_another(fake: FakeTelegram, db: Path) -> None:
    fake.pace = 0.2  # a fifth of Telegram's pace: the flood must still be draining below

    def scenario() -> None:
        for _ in range(30):
            fake.message("/search link", chat_id=1001, user_id=1001)
        fake.wait_for(lambda: [s for s in fake.sent if s.chat_id == 1001])
        fake.message("/help", chat_id=3003, user_id=3003)
        fake.wait_for(lambda: [s for s in fake.sent if s.chat_id == 3003])
        # Telegram allows a chat about one message a second: most of the flood's replies are
        # still to come when the other user has had their answer.
        flooded = [s for s in fake.sent if s.chat_id == 1001]
        assert len(flooded) < 10, len(flooded)
        # The flood was cut down to the user's rate, and they were told once.
        slow = fake.wait_for(
            lambda: [s for s in fake.sent if s.chat_id == 1001 and "Too many" in s.text],
            timeout=40,
        )
        assert len(slow) == 1

    run_app(make_config(fake, db), db, scenario, pace=0.2)


def test_user_limit_refills() -> None:
    limit = UserLimit(burst=2, rate=1.0)
    assert [limit.check(1, now=0.0) for _ in range(4)] == ["ok", "ok", "warn", "drop"]
    assert limit.check(2, now=0.0) == "ok"  # another user is not affected
    assert limit.check(1, now=1.5) == "ok"


def test_lang_in_a_group_is_for_its_admins(fake: FakeTelegram, db: Path) -> None:
    fake.admins[-2001] = {7}

    def scenario() -> None:
        fake.message("/lang zh", chat_id=-2001, user_id=55, chat_type="supergroup")
        [reply] = replies_to(fake, -2001, 1)
        assert reply.text == "Only this group's admins can change its subscriptions."
        fake.message("/lang zh", chat_id=-2001, user_id=7, chat_type="supergroup")
        assert replies_to(fake, -2001, 2)[1].text == "好的，我在这里会用中文回复。"

    run_app(make_config(fake, db), db, scenario)


def test_inline_offsets_are_bounded(fake: FakeTelegram, db: Path) -> None:
    def scenario() -> None:
        for offset in ("99999999999999999999", "-5", "１", "abc"):
            fake.inline("link", offset=offset)
        answers = fake.wait_for(lambda: len(fake.calls_of("answerInlineQuery")) >= 4 and
                                fake.calls_of("answerInlineQuery"))  # fmt: skip
        assert all(a.status == 200 for a in answers)

    run_app(make_config(fake, db), db, scenario)


def test_the_token_never_reaches_a_log_line(fake: FakeTelegram, db: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"storage:\n  path: {db}\nlists:\n  - name: dlt\n    repo: unused\n"
        f"telegram:\n  token: '{TOKEN}'\n  api_base_url: {fake.base_url}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": ""}
    bot = subprocess.Popen(
        [sys.executable, "-m", "dltbot.cli", "-v", "bot", "--config", str(config)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=30)
    time.sleep(0.5)
    bot.terminate()
    _, log = bot.communicate(timeout=20)
    assert "Set Bot API URL" in log or "getUpdates" in log  # the debug lines are there …
    assert TOKEN.split(":")[1] not in log  # … without the token

    broken = tmp_path / "broken.yaml"
    broken.write_text(f"telegram:\n  token: '{TOKEN}\n  admins: [1\n", encoding="utf-8")
    checked = subprocess.run(
        [sys.executable, "-m", "dltbot.cli", "check-config", "--config", str(broken)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert checked.returncode == 1
    assert "not valid YAML at line" in checked.stderr
    assert TOKEN.split(":")[1] not in checked.stderr + checked.stdout
