"""Subscriptions: /subscribe, /unsubscribe, /subscriptions (a row of buttons each: end it,
its delivery mode, quiet hours), /quiet, and the search results' "notify me" button."""

from __future__ import annotations

import html
import json

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode

from ..models import Subscription
from ..present.catalogue import t
from ..schedule import next_mode
from ..storage import Storage
from .common import (
    Keyboard,
    bad_query,
    button,
    changeable_chat,
    chat_of,
    checked_words,
    esc,
    lang_of,
    reply,
    storage_of,
    thread_of,
)
from .context import Context
from .flow import NO_PREVIEW


def describe(lang: str, list_name: str, words: str) -> str:
    """What a subscription brings, as a phrase: "new additions to X matching “w”"."""
    key = ("sub_list" if list_name else "sub_all") + ("_words" if words else "")
    return t(lang, key, list=esc(list_name), words=esc(words))


def covers(wide: Subscription, narrow: Subscription) -> bool:
    """Whether every addition `narrow` brings is brought by `wide` already."""
    if wide.id == narrow.id or wide.thread_id != narrow.thread_id:
        return False
    same_list = wide.list_name in ("", narrow.list_name)
    wide_words = set(wide.filter.casefold().split())
    return same_list and wide_words <= set(narrow.filter.casefold().split())


def _target(storage: Storage, args: list[str]) -> tuple[str, str]:
    """Split the words of /subscribe into a list name (if the first word is one) and a filter."""
    names = {state.name for state in storage.list_states()}
    list_name = args.pop(0) if args and args[0] in names else ""
    return list_name, " ".join(args)


def _subscribe(update: Update, context: Context, chat_id: int, list_name: str, words: str) -> str:
    lang = lang_of(update, context)
    new = storage_of(context).subscribe(chat_id, thread_of(update), list_name, words, lang=lang)
    return t(lang, "subscribed" if new else "already", what=describe(lang, list_name, words))


async def subscribe_command(update: Update, context: Context) -> None:
    """Post new additions (of a list, matching words) to this chat or topic. Words that
    match nothing today, and name no list, are asked about first (a typo'd list name would
    make a subscription that never fires)."""
    lang = lang_of(update, context)
    chat_id = await changeable_chat(update, context, lang)
    if chat_id is None:
        return
    storage = storage_of(context)
    args = list(context.args or [])
    # `+updates`: the papers' news too (new versions, published versions, code).
    updates = "+updates" in args
    list_name, words = _target(storage, [a for a in args if a != "+updates"])
    if words and checked_words("subscribe", words) is None:
        reply(update, context, bad_query(lang))
        return
    if updates:
        answer = _subscribe(update, context, chat_id, list_name, words)
        storage.want_updates(chat_id, thread_of(update), list_name, words)
        reply(update, context, answer + "\n" + t(lang, "subscribed_updates"))
        return
    if words and not storage.search(words, list_name or None, limit=1):
        names = ", ".join(state.name for state in storage.list_states())
        query_id = storage.save_query("subscribe", json.dumps([list_name, words]), chat_id)
        keyboard = InlineKeyboardMarkup([[button(t(lang, "subscribe_anyway"), f"f:{query_id}")]])
        text = t(lang, "nothing_matches_yet", q=esc(words), lists=esc(names))
        reply(update, context, text, keyboard)
        return
    reply(update, context, _subscribe(update, context, chat_id, list_name, words))


async def unsubscribe_command(update: Update, context: Context) -> None:
    """End the chat's subscriptions: all, or the one named; say which."""
    lang = lang_of(update, context)
    chat_id = await changeable_chat(update, context, lang)
    if chat_id is None:
        return
    storage = storage_of(context)
    thread = thread_of(update)
    before = storage.subscriptions(chat_id, thread)
    list_name, words = _target(storage, list(context.args or [])) if context.args else (None, None)
    if not storage.unsubscribe(chat_id, thread, list_name, words):
        reply(update, context, t(lang, "not_subscribed"))
        return
    left = {s.id for s in storage.subscriptions(chat_id, thread)}
    ended = [describe(lang, s.list_name, s.filter) for s in before if s.id not in left]
    reply(update, context, t(lang, "unsubscribed", what=t(lang, "and").join(ended)))


def subscriptions_answer(
    storage: Storage, chat_id: int, thread: int, lang: str
) -> tuple[str, Keyboard]:
    """The chat's subscriptions, each with its start date, mode and quiet hours, a warning
    where one is covered by another, and a row of buttons each."""
    subs = storage.subscriptions(chat_id, thread)
    if not subs:
        return t(lang, "no_subscriptions"), None
    start, end, offset = storage.quiet_hours(chat_id)
    lines = [f"<b>{t(lang, 'subscriptions')}</b>"]
    rows = []
    for number, sub in enumerate(subs, start=1):
        mode = t(lang, f"mode_{sub.mode}")
        details = [t(lang, "since", date=(sub.created_at or "?")[:10]), mode]
        if sub.quiet:
            details.append(t(lang, "quiet_on", start=start, end=end, tz=_utc(offset)))
        lines.append(f"{number}. {describe(lang, sub.list_name, sub.filter)}\n   "
                     + " · ".join(details))  # fmt: skip
        wider = [n for n, other in enumerate(subs, start=1) if covers(other, sub)]
        if wider:
            lines.append("   ⚠️ " + t(lang, "covered_by", n=wider[0]))
        rows.append([
            button(f"❌ {number}", f"u:{sub.id}"),
            button(f"⏱ {t(lang, f'mode_{next_mode(sub.mode)}')}", f"m:{sub.id}"),
            button(("🔔 " if sub.quiet else "🌙 ") + t(lang, "quiet_off_button" if sub.quiet
                                                       else "quiet_button"), f"q:{sub.id}"),
        ])  # fmt: skip
    lines.append(t(lang, "subscriptions_help"))
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def _utc(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


async def subscriptions_command(update: Update, context: Context) -> None:
    """What this chat (topic) follows, with buttons to change or end each."""
    lang = lang_of(update, context)
    answer = subscriptions_answer(storage_of(context), chat_of(update), thread_of(update), lang)
    reply(update, context, *answer)


async def quiet_command(update: Update, context: Context) -> None:
    """/quiet 22-8 [+8]: hold pushes during those local hours; /quiet off: never hold."""
    lang = lang_of(update, context)
    args = list(context.args or [])
    chat_id = await changeable_chat(update, context, lang)
    if chat_id is None:
        return
    storage = storage_of(context)
    if args == ["off"]:
        for sub in storage.subscriptions(chat_id):
            storage.set_subscription(chat_id, sub.id, quiet=False)
        reply(update, context, t(lang, "quiet_cleared"))
        return
    parsed = _parse_quiet(args)
    if parsed is None:
        reply(update, context, t(lang, "quiet_usage"))
        return
    storage.set_quiet_hours(chat_id, *parsed)
    start, end, offset = parsed
    reply(update, context, t(lang, "quiet_set", start=start, end=end, tz=_utc(offset)))


def _parse_quiet(args: list[str]) -> tuple[int, int, int] | None:
    """ "22-8" and an optional UTC offset "+8", "-5", "+5:30" → (22, 8, minutes)."""
    if not 1 <= len(args) <= 2 or args[0].count("-") != 1:
        return None
    first, last = args[0].split("-")
    if not (first.isascii() and first.isdigit() and last.isascii() and last.isdigit()):
        return None
    start, end = int(first), int(last)
    offset = 0
    if len(args) == 2:
        text = args[1].removeprefix("UTC").removeprefix("utc")
        sign = -1 if text.startswith("-") else 1
        hours, _, minutes = text.lstrip("+-").partition(":")
        if not (hours.isascii() and hours.isdigit() and len(hours) <= 2):
            return None
        if minutes and not (minutes.isascii() and minutes.isdigit() and len(minutes) == 2):
            return None
        offset = sign * (int(hours) * 60 + int(minutes or 0))
    if not (0 <= start <= 23 and 0 <= end <= 23 and start != end and -720 <= offset <= 840):
        return None
    return start, end, offset


# --- buttons: u (end), m (mode), q (quiet), n (notify me), f (subscribe anyway) -------------


async def subscription_button(update: Update, context: Context, kind: str, number: int) -> None:
    query = update.callback_query
    assert query is not None
    lang = lang_of(update, context)
    chat_id = await changeable_chat(update, context, lang)
    if chat_id is None:
        return
    storage = storage_of(context)
    if kind in ("n", "f"):
        await _subscribe_button(update, context, query, kind, number, chat_id)
        return
    sub = storage.subscription(chat_id, number)
    if sub is None:
        await query.answer(t(lang, "expired"))
        return
    if kind == "u":
        storage.end_subscription(chat_id, number)
        note = t(lang, "unsubscribed", what=describe(lang, sub.list_name, sub.filter))
    elif kind == "m":
        mode = next_mode(sub.mode)
        storage.set_subscription(chat_id, number, mode=mode)
        note = t(lang, f"mode_{mode}")
    else:
        storage.set_subscription(chat_id, number, quiet=not sub.quiet)
        note = t(lang, "quiet_off_button" if sub.quiet else "quiet_button")
    await query.answer(_plain(note))
    text, keyboard = subscriptions_answer(storage, chat_id, sub.thread_id, lang)
    await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard,
                                  link_preview_options=NO_PREVIEW)  # fmt: skip


async def _subscribe_button(
    update: Update, context: Context, query: CallbackQuery, kind: str, query_id: int, chat_id: int
) -> None:
    storage = storage_of(context)
    lang = lang_of(update, context)
    if kind == "n":
        words = storage.query_text(query_id, "search", chat_id)
        target = ("", words) if words is not None else None
    else:
        kept = storage.query_text(query_id, "subscribe", chat_id)
        target = tuple(json.loads(kept)) if kept is not None else None
    if target is None:
        await query.answer(t(lang, "expired"))
        return
    await query.answer()
    reply(update, context, _subscribe(update, context, chat_id, str(target[0]), str(target[1])))


def _plain(text: str) -> str:
    """A callback answer is plain text: drop the few tags catalogue strings hold."""
    for tag in ("<b>", "</b>", "<i>", "</i>", "<code>", "</code>"):
        text = text.replace(tag, "")
    return html.unescape(text)[:200]
