"""Thin command handlers: parse the words, ask storage, answer from the catalogue."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.ext import ApplicationHandlerStop

from ..models import StoredEntry
from ..query import MAX_CHARS, MAX_WORDS, BadRequestError, check_words
from ..storage import Storage
from ..untrusted import redact
from ..urls import safe_link
from ..view import EntryView, entry_html
from .context import Context
from .flow import NO_PREVIEW, Replies
from .text import pick_lang, t

log = logging.getLogger(__name__)

PAGE = 5


def _storage(context: Context) -> Storage:
    return context.bot_data.storage


def _lang(update: Update, context: Context) -> str:
    chat = update.effective_chat
    user = update.effective_user
    chosen = _storage(context).chat_lang(chat.id) if chat else None
    return pick_lang(chosen, user.language_code if user else None)


def _reply(
    update: Update, context: Context, html: str, keyboard: InlineKeyboardMarkup | None = None
) -> None:
    """Queue a reply to the update's chat (flow.Replies sends it; the handler never waits)."""
    message = update.effective_message
    if message is not None:
        thread = message.message_thread_id if message.is_topic_message else None
        _replies(context).send(message.chat.id, html, keyboard, thread)


def _replies(context: Context) -> Replies:
    return context.bot_data.replies


async def throttle(update: Update, context: Context) -> None:
    """Run first for every update: a user over their rate is told once, then ignored."""
    user = update.effective_user
    if user is None:
        return
    verdict = context.bot_data.limit.check(user.id)
    if verdict == "ok":
        return
    if verdict == "warn":
        lang = _lang(update, context)
        if update.callback_query is not None:
            await update.callback_query.answer(t(lang, "slow_down"))
        else:
            _reply(update, context, t(lang, "slow_down"))
    raise ApplicationHandlerStop


def _words(name: str, text: str) -> str | None:
    """Return checked words (query.check_words), or None if they are not allowed."""
    try:
        return check_words(name, text)
    except BadRequestError:
        return None


def _bad_query(lang: str) -> str:
    return t(lang, "bad_query", words=MAX_WORDS, chars=MAX_CHARS)


def _entries_html(results: list[StoredEntry], lang: str) -> str:
    return "\n\n".join(
        entry_html(r.entry, r.list, r.first_date, lang, 160, card=r.card)[0] for r in results
    )


async def help_command(update: Update, context: Context) -> None:
    """Say what the bot does, with every command and an example."""
    _reply(update, context, t(_lang(update, context), "help", bot=context.bot.username))


# --- search ------------------------------------------------------------------------------


def _search_page(
    storage: Storage, query_id: int, page: int, lang: str, chat_id: int
) -> tuple[str, Any]:
    words = storage.query_text(query_id, "search", chat_id)
    if words is None:
        return t(lang, "expired"), None
    results = storage.search(words, limit=1000)
    if not results:
        return t(lang, "no_match", q=_esc(words)), None
    page = max(0, min(page, (len(results) - 1) // PAGE))
    shown = results[page * PAGE : (page + 1) * PAGE]
    first, last = page * PAGE + 1, page * PAGE + len(shown)
    text = t(lang, "results", q=_esc(words), first=first, last=last, total=len(results))
    buttons = []
    if page:
        buttons.append(
            InlineKeyboardButton(t(lang, "prev"), callback_data=f"s:{query_id}:{page - 1}")
        )
    if last < len(results):
        buttons.append(
            InlineKeyboardButton(t(lang, "next"), callback_data=f"s:{query_id}:{page + 1}")
        )
    keyboard = InlineKeyboardMarkup([buttons]) if buttons else None
    return f"{text}\n\n{_entries_html(shown, lang)}", keyboard


async def search_command(update: Update, context: Context) -> None:
    """Find entries; five a page, with buttons to page."""
    lang = _lang(update, context)
    words = " ".join(context.args or [])
    if not words.strip():
        _reply(update, context, t(lang, "search_usage"))
        return
    checked = _words("search", words)
    chat = update.effective_chat
    if checked is None or chat is None:
        _reply(update, context, _bad_query(lang))
        return
    storage = _storage(context)
    query_id = storage.save_query("search", checked, chat.id)
    _reply(update, context, *_search_page(storage, query_id, 0, lang, chat.id))


# --- random, latest, sections ------------------------------------------------------------


def _random_html(storage: Storage, query_id: int, lang: str, chat_id: int) -> tuple[str, Any]:
    section = storage.query_text(query_id, "random", chat_id)
    if section is None:
        return t(lang, "expired"), None
    picked = storage.random_entry(section=section or None)
    if picked is None:
        return t(lang, "no_entries"), None
    button = InlineKeyboardButton(t(lang, "another"), callback_data=f"r:{query_id}")
    return _entries_html([picked], lang), InlineKeyboardMarkup([[button]])


async def random_command(update: Update, context: Context) -> None:
    """One random entry, optionally under headings holding the words."""
    lang = _lang(update, context)
    words = " ".join(context.args or [])
    section = _words("section", words) if words.strip() else ""
    chat = update.effective_chat
    if chat is None or section is None:
        _reply(update, context, _bad_query(lang))
        return
    storage = _storage(context)
    query_id = storage.save_query("random", section, chat.id)
    _reply(update, context, *_random_html(storage, query_id, lang, chat.id))


async def latest_command(update: Update, context: Context) -> None:
    """The newest additions (10 unless told, at most 50)."""
    lang = _lang(update, context)
    args = context.args or []
    if len(args) > 1 or (args and not (args[0].isdigit() and 1 <= int(args[0]) <= 50)):
        _reply(update, context, t(lang, "latest_usage"))
        return
    count = int(args[0]) if args else 10
    events = _storage(context).feed_events(["added"], limit=count, by_date=True)
    if not events:
        _reply(update, context, t(lang, "no_entries"))
        return
    body = "\n\n".join(
        entry_html(e.entry, e.list, e.commit.date, lang, 120, card=e.card)[0] for e in events
    )
    for chunk in _split_html(f"{t(lang, 'latest')}\n\n{body}"):
        _reply(update, context, chunk)


async def sections_command(update: Update, context: Context) -> None:
    """The heading tree with entry counts; a button per section lists its entries."""
    lang = _lang(update, context)
    storage = _storage(context)
    names = [state.name for state in storage.list_states()]
    wanted = context.args[0] if context.args else None
    if wanted is not None and wanted not in names:
        _reply(
            update,
            context,
            t(lang, "unknown_list", list=_esc(wanted), lists=_esc(", ".join(names))),
        )
        return
    rows = storage.sections(wanted)
    chat_id = update.effective_chat.id if update.effective_chat else 0
    if not rows:
        _reply(update, context, t(lang, "no_entries"))
        return
    lines: list[str] = []
    buttons: list[list[InlineKeyboardButton]] = []
    current = None
    for list_name, section, count in rows:
        if list_name != current:
            lines.append(t(lang, "sections", list=f"<b>{_esc(list_name)}</b>"))
            current = list_name
        depth = max(0, len(section) - 1)
        label = section[-1] if section else "—"
        lines.append(f"{'  ' * depth}• {_esc(label)} ({count})")
        if len(buttons) < 30:
            query_id = storage.save_query(
                "section", json.dumps([list_name, list(section)]), chat_id
            )
            buttons.append(
                [InlineKeyboardButton(f"{label} ({count})"[:60], callback_data=f"c:{query_id}")]
            )
    chunks = _split_html("\n".join(lines))
    for number, chunk in enumerate(chunks):
        keyboard = InlineKeyboardMarkup(buttons) if number == len(chunks) - 1 and buttons else None
        _reply(update, context, chunk, keyboard)


# --- buttons -----------------------------------------------------------------------------


async def button(update: Update, context: Context) -> None:
    """Paging, another random entry, or a section's entries.

    Callback data is untrusted (any client can send any): it is parsed strictly, and it names
    a query kept for this chat only, so a forged one finds nothing.
    """
    query = update.callback_query
    if query is None or query.data is None:
        return
    lang = _lang(update, context)
    storage = _storage(context)
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    parts = query.data.split(":")
    numbers = [int(p) for p in parts[1:] if p.isascii() and p.isdigit() and len(p) <= 9]
    kind = parts[0] if len(numbers) == len(parts) - 1 else ""
    if (kind, len(numbers)) not in (("s", 2), ("r", 1), ("c", 1)):
        await query.answer(t(lang, "expired"))
        return
    await query.answer()
    if kind in ("s", "r"):
        if kind == "s":
            text, keyboard = _search_page(storage, numbers[0], numbers[1], lang, chat_id)
        else:
            text, keyboard = _random_html(storage, numbers[0], lang, chat_id)
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard,
                                      link_preview_options=NO_PREVIEW)  # fmt: skip
        return
    kept = storage.query_text(numbers[0], "section", chat_id)
    if kept is None:
        _replies(context).send(chat_id, t(lang, "expired"))
        return
    list_name, section = json.loads(kept)
    entries = storage.entries_in_section(list_name, tuple(section), limit=20)
    text = f"<b>{_esc(' › '.join(section))}</b>\n\n{_entries_html(entries, lang)}"
    for chunk in _split_html(text):
        _replies(context).send(chat_id, chunk)


# --- subscriptions -----------------------------------------------------------------------


async def _may_change(update: Update, context: Context) -> bool:
    """Anyone in a private chat or channel; only admins in a group."""
    chat = update.effective_chat
    user = update.effective_user
    if chat is None or chat.type in (ChatType.PRIVATE, ChatType.CHANNEL):
        return True
    if user is None:
        return False
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in ("administrator", "creator")


def _target(context: Context) -> tuple[str, str]:
    """Split the words of /subscribe into a list name (if the first word is one) and a filter."""
    args = list(context.args or [])
    names = {state.name for state in _storage(context).list_states()}
    list_name = args.pop(0) if args and args[0] in names else ""
    return list_name, " ".join(args)


def _describe(lang: str, list_name: str, words: str) -> str:
    what = _esc(list_name) if list_name else t(lang, "all_lists")
    return t(lang, "filtered", list=what, words=_esc(words)) if words else what


def _thread(update: Update) -> int:
    message = update.effective_message
    if message is not None and message.is_topic_message and message.message_thread_id:
        return message.message_thread_id
    return 0


async def _changeable_chat(update: Update, context: Context, lang: str) -> int | None:
    """Return the chat id if this user may change its subscriptions; else say why, None."""
    chat = update.effective_chat
    if chat is None:
        return None
    if not await _may_change(update, context):
        _reply(update, context, t(lang, "admins_only"))
        return None
    return chat.id


async def subscribe_command(update: Update, context: Context) -> None:
    """Post new additions (of a list, matching words) to this chat or topic."""
    lang = _lang(update, context)
    chat_id = await _changeable_chat(update, context, lang)
    if chat_id is None:
        return
    list_name, words = _target(context)
    new = _storage(context).subscribe(chat_id, _thread(update), list_name, words)
    what = _describe(lang, list_name, words)
    _reply(update, context, t(lang, "subscribed" if new else "already", what=what))


async def unsubscribe_command(update: Update, context: Context) -> None:
    """Stop the chat's subscriptions: all, or the one named."""
    lang = _lang(update, context)
    chat_id = await _changeable_chat(update, context, lang)
    if chat_id is None:
        return
    list_name, words = _target(context) if context.args else (None, None)
    count = _storage(context).unsubscribe(chat_id, _thread(update), list_name, words)
    _reply(
        update, context, t(lang, "unsubscribed", n=count) if count else t(lang, "not_subscribed")
    )


async def subscriptions_command(update: Update, context: Context) -> None:
    """What this chat follows."""
    lang = _lang(update, context)
    chat = update.effective_chat
    if chat is None:
        return
    subs = _storage(context).subscriptions(chat.id)
    if not subs:
        _reply(update, context, t(lang, "no_subscriptions"))
        return
    lines = [t(lang, "subscriptions")]
    lines += [f"• {_describe(lang, s.list_name, s.filter)}" for s in subs]
    _reply(update, context, "\n".join(lines))


async def lang_command(update: Update, context: Context) -> None:
    """Choose the reply language of this chat (in a group, its admins do)."""
    args = context.args or []
    chat = update.effective_chat
    if len(args) != 1 or args[0] not in ("en", "zh") or chat is None:
        _reply(update, context, t(_lang(update, context), "lang_usage"))
        return
    if await _changeable_chat(update, context, _lang(update, context)) is None:
        return
    _storage(context).set_chat_lang(chat.id, args[0])
    _reply(update, context, t(args[0], "lang_set"))


# --- admins ------------------------------------------------------------------------------


def _is_admin(update: Update, context: Context) -> bool:
    user = update.effective_user
    return user is not None and user.id in context.bot_data.admins


async def status_command(update: Update, context: Context) -> None:
    """Per list: last sync, head, entries, last error; the outbox backlog. Admins only."""
    lang = _lang(update, context)
    if not _is_admin(update, context):
        _reply(update, context, t(lang, "refused"))
        return
    storage = _storage(context)
    lines = [
        t(
            lang,
            "status_line",
            list=_esc(s.name),
            status=s.status,
            entries=storage.entry_count(s.id),
            head=(s.head or "-")[:12],
            sync=s.last_sync_at or "-",
            error=f" ({_esc(redact(s.last_error))})" if s.last_error else "",
        )
        for s in storage.list_states()
    ]
    counts = storage.outbox_counts()
    lines.append(
        t(lang, "outbox", **{k: counts.get(k, 0) for k in ("pending", "sent", "parked", "dropped")})
    )
    pings = storage.ping_counts()
    if pings:  # only where a hub is set (or was)
        lines.append(t(lang, "pings", **{k: pings.get(k, 0) for k in ("pending", "parked")}))
    _reply(update, context, "\n".join(lines))


async def sync_command(update: Update, context: Context) -> None:
    """Sync every list now (in a worker thread), then push. Admins only."""
    lang = _lang(update, context)
    if not _is_admin(update, context):
        _reply(update, context, t(lang, "refused"))
        return
    _reply(update, context, t(lang, "sync_started"))
    summary = await asyncio.to_thread(context.bot_data.sync)
    _reply(update, context, t(lang, "sync_done", summary=_esc(summary)))


# --- inline mode and errors --------------------------------------------------------------


async def inline_query(update: Update, context: Context) -> None:
    """`@bot words`: up to 50 articles a page, paged with next_offset."""
    query = update.inline_query
    if query is None:
        return
    words = query.query.strip()
    checked = _words("q", words) if words else None
    offset = query.offset
    # The offset comes back from the client: digits only, and bounded.
    start = int(offset) if offset.isascii() and offset.isdigit() and len(offset) <= 4 else 0
    start = min(start, 1000)
    results = _storage(context).search(checked, limit=51, offset=start) if checked else []
    lang = pick_lang(None, query.from_user.language_code)
    articles = [
        InlineQueryResultArticle(
            id=hashlib.sha1(f"{r.list}:{r.entry.identity}".encode()).hexdigest()[:32],
            title=r.entry.title[:200] or r.entry.url,
            description=(
                " › ".join(r.entry.section)
                + (" — " + EntryView(r.entry, r.card).authors() if r.card else "")
                + " — "
                + r.entry.description
            )[:200],
            url=safe_link(r.entry.url, ("http", "https")),
            input_message_content=InputTextMessageContent(
                entry_html(r.entry, r.list, r.first_date, lang, card=r.card, abstract=True)[0],
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
            ),
        )
        for r in results[:50]
    ]
    next_offset = str(start + 50) if len(results) > 50 and start < 1000 else ""
    await query.answer(articles, next_offset=next_offset, cache_time=60)


async def error_handler(update: object, context: Context) -> None:
    """Log every handler error with its traceback (never the token)."""
    log.error(
        "update %s raised an error", getattr(update, "update_id", "?"), exc_info=context.error
    )


def _esc(text: str) -> str:
    from html import escape

    return escape(text, quote=False)


def _split_html(text: str, limit: int = 3900) -> list[str]:
    """Split a long HTML reply between lines (never inside a tag: each line is balanced)."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        if current and len(current) + len(line) + 1 > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks
