"""The bot's front door and the rest: /start, /help, /lists, plain text, unknown commands,
/lang, the admins' /status and /sync, the button dispatcher, and errors. Browsing lives in
browse.py, subscriptions in subs.py."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import ApplicationHandlerStop

from ..models import ListState
from ..present.catalogue import t
from ..present.links import Links, commit_url
from ..present.view import telegram_link
from ..storage import Storage
from ..untrusted import clean_line, redact, shorten
from . import browse, subs
from .browse import Answer
from .common import (
    Keyboard,
    button,
    changeable_chat,
    chat_of,
    esc,
    lang_of,
    reply,
    split_html,
    storage_of,
)
from .context import Context
from .flow import NO_PREVIEW

log = logging.getLogger(__name__)


async def throttle(update: Update, context: Context) -> None:
    """Run first for every update: a user over their rate is told once, then ignored."""
    user = update.effective_user
    if user is None:
        return
    verdict = context.bot_data.limit.check(user.id)
    if verdict == "ok":
        return
    if verdict == "warn":
        lang = lang_of(update, context)
        if update.callback_query is not None:
            await update.callback_query.answer(t(lang, "slow_down"))
        else:
            reply(update, context, t(lang, "slow_down"))
    raise ApplicationHandlerStop


# --- first contact -----------------------------------------------------------------------


LISTS_PAGE = 10  # lists a message (a page of /lists); more and /start summarises
HELP_NAMES = 20  # list names /help spells out


def _list_line(storage: Storage, state: ListState, lang: str, links: Links | None) -> str:
    """One list: name (linked to its repository), entries, last update, page and feed."""
    date = (storage.last_commit_date(state.id) or state.last_sync_at or "?")[:10]
    name = telegram_link(state.repo, f"<b>{esc(shorten(state.name, 80))}</b>")
    line = t(lang, "list_line", name=name, entries=storage.entry_count(state.id), date=date)
    if links is not None:
        page = telegram_link(links.list_page(state.name), t(lang, "push_page"))
        feed = telegram_link(links.feed(state.name), t(lang, "push_feed"))
        line += "\n    " + t(lang, "list_links", page=page, feed=feed)
    return line


def lists_page(storage: Storage, page: int, lang: str, links: Links | None) -> Answer:
    """A page of the followed lists (LISTS_PAGE a message), with buttons to page on."""
    states = storage.list_states()
    if not states:
        return t(lang, "no_lists"), None
    pages = (len(states) - 1) // LISTS_PAGE + 1
    page = max(0, min(page, pages - 1))
    shown = states[page * LISTS_PAGE : (page + 1) * LISTS_PAGE]
    lines = [_list_line(storage, state, lang, links) for state in shown]
    if pages == 1:
        return "\n".join(lines), None
    first, last = page * LISTS_PAGE + 1, page * LISTS_PAGE + len(shown)
    header = t(lang, "lists_page", first=first, last=last, count=len(states))
    paging = []
    if page:
        paging.append(button(t(lang, "prev"), f"l:{page - 1}"))
    if page + 1 < pages:
        paging.append(button(t(lang, "next"), f"l:{page + 1}"))
    return f"<b>{header}</b>\n\n" + "\n".join(lines), InlineKeyboardMarkup([paging])


def lists_summary(storage: Storage, lang: str, links: Links | None) -> str:
    """What /start says of the lists: each one when they are few, else how many."""
    states = storage.list_states()
    if len(states) <= LISTS_PAGE:
        lines = [_list_line(storage, state, lang, links) for state in states]
        return "\n".join(lines) or t(lang, "no_lists")
    entries = sum(storage.entry_count(state.id) for state in states)
    return t(lang, "lists_summary", count=len(states), entries=entries)


def _welcome_keyboard(lang: str, links: Links | None, many: bool) -> InlineKeyboardMarkup:
    rows = [
        [button(t(lang, "button_subscribe"), "a:1"), button(t(lang, "button_latest"), "a:2")],
        [button(t(lang, "button_sections"), "a:3")],
    ]
    if many:
        rows[1].append(button(t(lang, "button_lists"), "l:0"))
    if links is not None:  # URL buttons only for a public address (Telegram refuses private)
        rows[1].append(InlineKeyboardButton(t(lang, "button_web"), url=links.page()))
        rows[1].append(InlineKeyboardButton(t(lang, "button_rss"), url=links.feed(None)))
    return InlineKeyboardMarkup(rows)


async def start_command(update: Update, context: Context) -> None:
    """Welcome: what is followed (each list when they are few, else how many), and buttons
    for the first things to do."""
    lang = lang_of(update, context)
    links, storage = context.bot_data.links, storage_of(context)
    text = t(lang, "welcome", lists=lists_summary(storage, lang, links))
    many = len(storage.list_states()) > LISTS_PAGE
    reply(update, context, text, _welcome_keyboard(lang, links, many))


async def help_command(update: Update, context: Context) -> None:
    """Every command, grouped, with how matching works and the list names."""
    lang = lang_of(update, context)
    names = [state.name for state in storage_of(context).list_states()]
    shown = ", ".join(shorten(name, 80) for name in names[:HELP_NAMES]) or "—"
    if len(names) > HELP_NAMES:
        shown += " " + t(lang, "and_more", count=len(names) - HELP_NAMES)
    text = t(lang, "help", bot=context.bot.username, lists=esc(shown),
             example=esc(shorten(names[0], 80) if names else "mylist"))  # fmt: skip
    reply(update, context, text)


async def lists_command(update: Update, context: Context) -> None:
    """Each list with its entry count, last update, page and feed; ten a page."""
    lang = lang_of(update, context)
    reply(update, context, *lists_page(storage_of(context), 0, lang, context.bot_data.links))


async def text_message(update: Update, context: Context) -> None:
    """Plain text in a private chat is a search (in groups, people talk to each other)."""
    message = update.effective_message
    if message is None or message.text is None or update.effective_chat is None:
        return
    if update.effective_chat.type == ChatType.PRIVATE:
        browse.search_reply(update, context, message.text)


async def unknown_command(update: Update, context: Context) -> None:
    """A command the bot does not have: point at /help — in a group only when the command
    names this bot (`/foo@bot`), since other bots' commands pass by too."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or message.text is None or chat is None:
        return
    command = message.text.split()[0]
    name, _, bot = command.partition("@")
    if chat.type != ChatType.PRIVATE and bot.casefold() != (context.bot.username or "").casefold():
        return
    shown = esc(clean_line(name, 40))  # the user's text: no bidi or invisible characters
    reply(update, context, t(lang_of(update, context), "unknown_command", command=shown))


async def lang_command(update: Update, context: Context) -> None:
    """Choose the reply language of this chat (in a group, its admins do)."""
    args = context.args or []
    chat = update.effective_chat
    lang = lang_of(update, context)
    if len(args) != 1 or args[0] not in ("en", "zh") or chat is None:
        reply(update, context, t(lang, "lang_usage"))
        return
    if await changeable_chat(update, context, lang) is None:
        return
    storage_of(context).set_chat_lang(chat.id, args[0])
    reply(update, context, t(args[0], "lang_set"))


# --- admins ------------------------------------------------------------------------------


def _is_admin(update: Update, context: Context) -> bool:
    user = update.effective_user
    return user is not None and user.id in context.bot_data.admins


def ago(lang: str, when: str | None, now: datetime | None = None) -> str:
    """A time as people say it: just now, 3 min ago, 5 h ago, 2 days ago."""
    if not when:
        return t(lang, "never")
    try:
        then = datetime.fromisoformat(when)
    except ValueError:
        return esc(when)
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = ((now or datetime.now(UTC)) - then).total_seconds()
    if seconds < 60:
        return t(lang, "ago_now")
    if seconds < 3600:
        return t(lang, "ago_min", n=int(seconds // 60))
    if seconds < 86400 * 2:
        return t(lang, "ago_hour", n=int(seconds // 3600))
    return t(lang, "ago_day", n=int(seconds // 86400))


async def status_command(update: Update, context: Context) -> None:
    """Per list: last sync, head (linked to its commit), entries, last error; the outbox
    backlog. Admins only."""
    lang = lang_of(update, context)
    if not _is_admin(update, context):
        reply(update, context, t(lang, "refused"))
        return
    storage = storage_of(context)
    lines = []
    states = [s for s in storage.list_states() if not s.left_at]  # left: no longer polled
    if len(states) > LISTS_PAGE:  # many: how many are ok, and the first that are not
        failing = [s for s in states if s.status == "failing"]
        fresh = sum(1 for s in states if s.status == "new")
        lines.append(t(lang, "status_many", count=len(states), new=fresh, failing=len(failing),
                       ok=len(states) - len(failing) - fresh))  # fmt: skip
        states = failing[:LISTS_PAGE]
    for s in states:
        head = esc((s.head or "-")[:12])
        if s.head and (url := commit_url(s.repo, s.head)):
            head = f'<a href="{esc(url)}">{head}</a>'
        lines.append(t(
            lang, "status_line", list=esc(s.name), status=s.status,
            entries=storage.entry_count(s.id), head=head, sync=ago(lang, s.last_sync_at),
            error=f" ({esc(redact(s.last_error))})" if s.last_error else "",
        ))  # fmt: skip
    counts = storage.outbox_counts()
    lines.append(
        t(lang, "outbox", **{k: counts.get(k, 0) for k in ("pending", "sent", "parked", "dropped")})
    )
    if context.bot_data.enriching:
        due, never = storage.enrich_backlog(datetime.now(UTC).timestamp())
        lines.append(t(lang, "status_enrich", due=due, never=never))
    pings = storage.ping_counts()
    if pings:  # only where a hub is set (or was)
        lines.append(t(lang, "pings", **{k: pings.get(k, 0) for k in ("pending", "parked")}))
    reply(update, context, "\n".join(lines))


async def sync_command(update: Update, context: Context) -> None:
    """Sync every list now (through the service's jobs), then push. Admins only."""
    lang = lang_of(update, context)
    if not _is_admin(update, context):
        reply(update, context, t(lang, "refused"))
        return
    reply(update, context, t(lang, "sync_started"))
    summary = await asyncio.to_thread(context.bot_data.sync)
    reply(update, context, t(lang, "sync_done", summary=esc(summary)))


# --- buttons -----------------------------------------------------------------------------

# Callback data: a letter and its numbers. s: search page, r: another random entry,
# t: a sections page, c: a section's entries, a: a /start button, n: notify me of new
# matches, f: subscribe anyway, u/m/q: end a subscription, its mode, its quiet hours.
BUTTONS = {
    "s": 2, "r": 1, "t": 2, "c": 3, "a": 1, "n": 1, "f": 1, "u": 1, "m": 1, "q": 1, "l": 1,
}  # fmt: skip


async def button_press(update: Update, context: Context) -> None:
    """Dispatch a button press. Callback data is untrusted (any client can send any): it is
    parsed strictly, and names queries or subscriptions of this chat only."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    lang = lang_of(update, context)
    storage = storage_of(context)
    chat_id = chat_of(update)
    kind, *parts = query.data.split(":")
    numbers = [int(p) for p in parts if p.isascii() and p.isdigit() and len(p) <= 9]
    if len(numbers) != len(parts) or BUTTONS.get(kind) != len(numbers):
        await query.answer(t(lang, "expired"))
        return
    if kind in ("n", "f", "u", "m", "q"):
        await subs.subscription_button(update, context, kind, numbers[0])
        return
    await query.answer()
    if kind == "a":
        await _start_button(update, context, numbers[0])
        return
    if kind == "r":  # a new message: the previous pick stays readable
        reply(update, context, *browse.random_answer(storage, numbers[0], lang, chat_id))
        return
    answer: tuple[str, Keyboard]
    if kind == "l":
        answer = lists_page(storage, numbers[0], lang, context.bot_data.links)
    elif kind == "s":
        answer = browse.search_page(storage, numbers[0], numbers[1], lang, chat_id)
    elif kind == "t":
        answer = browse.sections_page(storage, numbers[0], numbers[1], lang, chat_id)
    else:
        query_id, number, page = numbers
        answer = browse.section_entries(storage, query_id, number, page, lang, chat_id)
    await query.edit_message_text(answer[0], parse_mode=ParseMode.HTML, reply_markup=answer[1],
                                  link_preview_options=NO_PREVIEW)  # fmt: skip


async def _start_button(update: Update, context: Context, action: int) -> None:
    if action == 1:
        await subs.subscribe_command(update, context)
    elif action == 2:
        lang = lang_of(update, context)
        upto = context.bot_data.hold.upto
        text = browse.latest_html(storage_of(context), lang, 10, upto) or t(lang, "no_entries")
        for chunk in split_html(text):
            reply(update, context, chunk)
    elif action == 3:
        browse.sections_reply(update, context, None)


async def error_handler(update: object, context: Context) -> None:
    """Log every handler error with its traceback (never the token)."""
    log.error(
        "update %s raised an error", getattr(update, "update_id", "?"), exc_info=context.error
    )
