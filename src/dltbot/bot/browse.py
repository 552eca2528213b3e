"""Finding and browsing entries: /search, /random, /latest, /sections, inline mode, and
their buttons. Button data names a query kept for the chat (storage.save_query), never the
words themselves: callback data holds 64 bytes, and any client can forge it."""

from __future__ import annotations

import hashlib
import logging
import random
from itertools import groupby

from telegram import (
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputFile,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError

from ..models import Card, Entry, StoredEntry
from ..papers import collapse
from ..present.catalogue import pick_lang, t
from ..present.view import EntryView, entry_html, section_label
from ..storage import Storage
from ..untrusted import shorten
from ..urls import safe_link
from .common import (
    Keyboard,
    bad_query,
    button,
    chat_of,
    checked_words,
    entries_html,
    esc,
    lang_of,
    one_list,
    reply,
    split_html,
    storage_of,
)
from .context import Context
from .flow import NO_PREVIEW

log = logging.getLogger(__name__)

PAGE = 5  # search results a page
SECTION_PAGE = 10  # a section's entries a page
SECTIONS_PAGE = 20  # section buttons a page (ten rows of two)

Answer = tuple[str, Keyboard]


def _keep(update: Update, context: Context, kind: str, text: str) -> tuple[Storage, int, int]:
    """Keep the words for this chat (its buttons name them by id): storage, id, chat id."""
    storage = storage_of(context)
    chat_id = chat_of(update)
    return storage, storage.save_query(kind, text, chat_id), chat_id


# --- search ------------------------------------------------------------------------------


def search_page(storage: Storage, query_id: int, page: int, lang: str, chat_id: int) -> Answer:
    words = storage.query_text(query_id, "search", chat_id)
    if words is None:
        return t(lang, "expired"), None
    results = storage.search(words, limit=1000)
    if not results:
        return t(lang, "no_match", q=esc(words)), _sections_keyboard(lang)
    page = max(0, min(page, (len(results) - 1) // PAGE))
    shown = results[page * PAGE : (page + 1) * PAGE]
    first, last = page * PAGE + 1, page * PAGE + len(shown)
    text = t(lang, "results", q=esc(words), first=first, last=last, total=len(results))
    paging = []
    if page:
        paging.append(button(t(lang, "prev"), f"s:{query_id}:{page - 1}"))
    if last < len(results):
        paging.append(button(t(lang, "next"), f"s:{query_id}:{page + 1}"))
    rows = [paging] if paging else []
    rows.append([button(t(lang, "notify_me"), f"n:{query_id}")])
    body = entries_html(shown, lang, with_list=not one_list(storage))
    return f"{text}\n\n{body}", InlineKeyboardMarkup(rows)


def search_reply(update: Update, context: Context, words: str) -> None:
    """Answer a search (the command's words, or plain text in a private chat)."""
    lang = lang_of(update, context)
    checked = checked_words("search", words)
    if checked is None:
        reply(update, context, bad_query(lang))
        return
    storage, query_id, chat_id = _keep(update, context, "search", checked)
    reply(update, context, *search_page(storage, query_id, 0, lang, chat_id))


async def search_command(update: Update, context: Context) -> None:
    """Find entries; five a page, with buttons to page and to be told of new matches."""
    words = " ".join(context.args or [])
    if not words.strip():
        reply(update, context, t(lang_of(update, context), "search_usage"))
        return
    search_reply(update, context, words)


# --- random ------------------------------------------------------------------------------


def random_answer(storage: Storage, query_id: int, lang: str, chat_id: int) -> Answer:
    """A random entry under headings holding the words; else one matching them anywhere
    (section names are often English while the words are not); else say so."""
    words = storage.query_text(query_id, "random", chat_id)
    if words is None:
        return t(lang, "expired"), None
    picked = storage.random_entry(section=words or None)
    note = ""
    if picked is None and words:
        matches = storage.search(words, limit=200)
        if not matches:
            return t(lang, "random_none", q=esc(words)), _sections_keyboard(lang)
        picked = random.choice(matches)
        note = t(lang, "random_search", q=esc(words)) + "\n\n"
    if picked is None:
        return t(lang, "no_entries"), None
    keyboard = InlineKeyboardMarkup([[button(t(lang, "another"), f"r:{query_id}")]])
    return note + entries_html([picked], lang, with_list=not one_list(storage)), keyboard


async def random_command(update: Update, context: Context) -> None:
    """One random entry, optionally under headings holding the words."""
    lang = lang_of(update, context)
    words = " ".join(context.args or [])
    section = checked_words("section", words) if words.strip() else ""
    if section is None:
        reply(update, context, bad_query(lang))
        return
    storage, query_id, chat_id = _keep(update, context, "random", section)
    reply(update, context, *random_answer(storage, query_id, lang, chat_id))


# --- latest ------------------------------------------------------------------------------


def latest_html(storage: Storage, lang: str, count: int, upto: int | None) -> str | None:
    """The newest additions shown yet (up to the hold), under their dates; the list named
    only when there are several."""
    events = storage.feed_events(["added"], limit=count, by_date=True, upto=upto)
    if not events:
        return None
    named = not one_list(storage)
    parts = [f"<b>{t(lang, 'latest')}</b>"]
    for date, group in groupby(events, key=lambda e: e.commit.date[:10]):
        items = [entry_html(e.entry, e.list if named else None, None, lang, 120, card=e.card)[0]
                 for e in group]  # fmt: skip
        parts.append(f"📅 <b>{date}</b>\n" + "\n\n".join(items))
    return "\n\n".join(parts)


async def latest_command(update: Update, context: Context) -> None:
    """The newest additions (10 unless told, at most 50)."""
    lang = lang_of(update, context)
    args = context.args or []
    if len(args) > 1 or (args and not (args[0].isdigit() and 1 <= int(args[0]) <= 50)):
        reply(update, context, t(lang, "latest_usage"))
        return
    count = int(args[0]) if args else 10
    text = latest_html(storage_of(context), lang, count, context.bot_data.hold.upto)
    for chunk in split_html(text or t(lang, "no_entries")):
        reply(update, context, chunk)


# --- BibTeX ------------------------------------------------------------------------------


BIB_MOST = 200  # papers a /bib document holds


def bib_file_name(words: str) -> str:
    """The .bib file's name from the user's words: letters, digits and dashes only."""
    stem = "-".join("".join(ch for ch in w if ch.isalnum()) for w in words.split())[:40]
    return f"dltbot-{stem.strip('-') or 'latest'}.bib"


async def bib_command(update: Update, context: Context) -> None:
    """A .bib document of the papers matching the words (of the latest additions without)."""
    from ..bib import bibtex  # bibtexparser loads only when asked

    lang = lang_of(update, context)
    storage = storage_of(context)
    words = " ".join(context.args or [])
    if words:
        checked = checked_words("q", words)
        if checked is None:
            reply(update, context, bad_query(lang))
            return
        found = [r for r, _ in collapse(storage.search(checked, limit=BIB_MOST))]
    else:
        upto = context.bot_data.hold.upto
        found = [
            StoredEntry(e.list, e.entry, 0, e.commit.sha, e.commit.date, e.card, e.link)
            for e in storage.feed_events(["added"], limit=BIB_MOST, by_date=True, upto=upto)
        ]
    if not found:
        reply(
            update, context, t(lang, "no_match", q=esc(words)) if words else t(lang, "no_entries")
        )
        return
    chat = update.effective_chat
    if chat is None:
        return
    name = bib_file_name(words)
    try:
        await context.bot.send_document(
            chat.id, InputFile(bibtex(found).encode(), filename=name),
            caption=t(lang, "bib_sent", count=len(found)), parse_mode=ParseMode.HTML,
        )  # fmt: skip
    except TelegramError as error:
        log.warning("chat %s: /bib not sent: %s", chat.id, error.message)
        reply(update, context, t(lang, "bib_failed"))


# --- sections ----------------------------------------------------------------------------


def _sections_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[button(t(lang, "browse_sections"), "a:3")]])


def sections_page(storage: Storage, query_id: int, page: int, lang: str, chat_id: int) -> Answer:
    """One page of a list's (or every list's) sections as buttons, two a row."""
    kept = storage.query_text(query_id, "sections", chat_id)
    if kept is None:
        return t(lang, "expired"), None
    rows = storage.sections(kept or None)
    if not rows:
        return t(lang, "no_entries"), None
    named = len({name for name, _, _ in rows}) > 1
    pages = (len(rows) - 1) // SECTIONS_PAGE + 1
    page = max(0, min(page, pages - 1))
    shown = rows[page * SECTIONS_PAGE : (page + 1) * SECTIONS_PAGE]
    buttons = []
    for number, (name, path, count) in enumerate(shown, start=page * SECTIONS_PAGE):
        label = section_label([([name] if named else []) + list(path)]) or "—"
        # The button names a row of this very listing (its list, path and page).
        buttons.append(button(f"{shorten(label, 40)} ({count})", f"c:{query_id}:{number}:0"))
    keyboard = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    paging = []
    if page:
        paging.append(button(t(lang, "prev"), f"t:{query_id}:{page - 1}"))
    if page + 1 < pages:
        paging.append(button(t(lang, "next"), f"t:{query_id}:{page + 1}"))
    if paging:
        keyboard.append(paging)
    whose = kept or (rows[0][0] if not named else "")
    title = t(lang, "sections", list=esc(whose) if whose else t(lang, "all_lists"))
    total = sum(count for _, _, count in rows)
    first, last = page * SECTIONS_PAGE + 1, page * SECTIONS_PAGE + len(shown)
    summary = t(lang, "sections_summary", sections=len(rows), entries=total, first=first,
                last=last)  # fmt: skip
    return f"<b>{title}</b>\n{summary}", InlineKeyboardMarkup(keyboard)


def section_entries(
    storage: Storage, query_id: int, number: int, page: int, lang: str, chat_id: int
) -> Answer:
    """A page of one section's entries, with paging and a way back to the sections."""
    kept = storage.query_text(query_id, "sections", chat_id)
    rows = storage.sections(kept or None) if kept is not None else []
    if not 0 <= number < len(rows):
        return t(lang, "expired"), None
    name, path, _ = rows[number]
    entries, total = storage.entries_in_section(
        name, path, limit=SECTION_PAGE, offset=page * SECTION_PAGE
    )
    first, last = page * SECTION_PAGE + 1, page * SECTION_PAGE + len(entries)
    heading = section_label([([name] if not one_list(storage) else []) + list(path)]) or "—"
    count = t(lang, "section_count", first=first, last=last, total=total)
    text = f"<b>{esc(heading)}</b> ({count})\n\n{entries_html(entries, lang, with_list=False)}"
    paging = []
    if page:
        paging.append(button(t(lang, "prev"), f"c:{query_id}:{number}:{page - 1}"))
    if last < total:
        paging.append(button(t(lang, "next"), f"c:{query_id}:{number}:{page + 1}"))
    back = [button(t(lang, "back_to_sections"), f"t:{query_id}:{number // SECTIONS_PAGE}")]
    return text, InlineKeyboardMarkup([row for row in (paging, back) if row])


def sections_reply(update: Update, context: Context, wanted: str | None) -> None:
    lang = lang_of(update, context)
    storage = storage_of(context)
    names = [state.name for state in storage.list_states()]
    if wanted is not None and wanted not in names:
        text = t(lang, "unknown_list", list=esc(wanted), lists=esc(", ".join(names)))
        reply(update, context, text)
        return
    _, query_id, chat_id = _keep(update, context, "sections", wanted or "")
    reply(update, context, *sections_page(storage, query_id, 0, lang, chat_id))


async def sections_command(update: Update, context: Context) -> None:
    """The sections as buttons; a press shows that section's entries in the same message."""
    sections_reply(update, context, context.args[0] if context.args else None)


# --- inline mode -------------------------------------------------------------------------


def _article(
    list_name: str, entry: Entry, added: str, card: Card | None, lang: str
) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        id=hashlib.sha1(f"{list_name}:{entry.identity}".encode()).hexdigest()[:32],
        title=entry.title[:200] or entry.url,
        description=(
            section_label([entry.section])
            + (" — " + EntryView(entry, card).authors() if card else "")
            + " — "
            + entry.description
        )[:200],
        url=safe_link(entry.url, ("http", "https")),
        input_message_content=InputTextMessageContent(
            entry_html(entry, list_name, added, lang, card=card, abstract=True)[0],
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
        ),
    )


async def inline_query(update: Update, context: Context) -> None:
    """`@bot words`: up to 50 articles a page, paged with next_offset; the newest additions
    for an empty query; a button into the bot when nothing matches."""
    query = update.inline_query
    if query is None:
        return
    storage = storage_of(context)
    lang = pick_lang(None, query.from_user.language_code)
    words = query.query.strip()
    if not words:
        upto = context.bot_data.hold.upto  # additions still waiting for cards: not yet
        events = storage.feed_events(["added"], limit=20, by_date=True, upto=upto)
        latest = [_article(e.list, e.entry, e.commit.date, e.card, lang) for e in events]
        await query.answer(latest, cache_time=60)
        return
    checked = checked_words("q", words)
    # The offset comes back from the client: digits only, and bounded.
    offset = query.offset
    start = int(offset) if offset.isascii() and offset.isdigit() and len(offset) <= 4 else 0
    start = min(start, 1000)
    results = storage.search(checked, limit=51, offset=start) if checked else []
    if not results and not start:
        open_bot = InlineQueryResultsButton(text=t(lang, "inline_none"), start_parameter="help")
        await query.answer([], button=open_bot, cache_time=60)
        return
    next_offset = str(start + 50) if len(results) > 50 and start < 1000 else ""
    articles = [_article(r.list, r.entry, r.first_date, r.card, lang) for r in results[:50]]
    await query.answer(articles, next_offset=next_offset, cache_time=60)
