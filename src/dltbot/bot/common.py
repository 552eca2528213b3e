"""What every handler module shares: the chat's language, queued replies, escaping, the
words a user typed, and who may change a chat's settings."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType

from ..models import StoredEntry
from ..present.catalogue import pick_lang, t
from ..present.view import entry_html, telegram_html
from ..query import MAX_CHARS, MAX_WORDS, BadRequestError, check_words
from ..storage import Storage
from .context import Context

Keyboard = InlineKeyboardMarkup | None


def storage_of(context: Context) -> Storage:
    return context.bot_data.storage


def lang_of(update: Update, context: Context) -> str:
    """The chat's /lang, else the user's Telegram language (zh* → zh), else English."""
    chat = update.effective_chat
    user = update.effective_user
    chosen = storage_of(context).chat_lang(chat.id) if chat else None
    return pick_lang(chosen, user.language_code if user else None)


def reply(update: Update, context: Context, text: str, keyboard: Keyboard = None) -> None:
    """Queue a reply to the update's chat (flow.Replies sends it; the handler never waits)."""
    message = update.effective_message
    if message is not None:
        thread = message.message_thread_id if message.is_topic_message else None
        context.bot_data.replies.send(message.chat.id, text, keyboard, thread)


def chat_of(update: Update) -> int:
    """The chat a message or a button press came from (the user's own for inline)."""
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user else 0


def thread_of(update: Update) -> int:
    """The forum topic of the update (0: none): subscriptions belong to their topic."""
    message = update.effective_message
    if message is not None and message.is_topic_message and message.message_thread_id:
        return message.message_thread_id
    return 0


esc = telegram_html  # the Telegram escaper, as the bot's handlers call it


def checked_words(name: str, text: str) -> str | None:
    """Return checked words (query.check_words), or None if they are not allowed."""
    try:
        return check_words(name, text)
    except BadRequestError:
        return None


def bad_query(lang: str) -> str:
    return t(lang, "bad_query", words=MAX_WORDS, chars=MAX_CHARS)


def entries_html(results: Sequence[StoredEntry], lang: str, with_list: bool = True) -> str:
    return "\n\n".join(
        entry_html(r.entry, r.list if with_list else None, r.first_date, lang, 160, card=r.card)[0]
        for r in results
    )


def one_list(storage: Storage) -> bool:
    """Whether the bot follows a single list (then replies need not name it)."""
    return len(storage.list_states()) <= 1


def button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text[:64], callback_data=data)


async def may_change(update: Update, context: Context) -> bool:
    """Anyone in a private chat or channel; only admins in a group."""
    chat = update.effective_chat
    user = update.effective_user
    if chat is None or chat.type in (ChatType.PRIVATE, ChatType.CHANNEL):
        return True
    if user is None:
        return False
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in ("administrator", "creator")


async def changeable_chat(update: Update, context: Context, lang: str) -> int | None:
    """Return the chat id if this user may change the chat's settings; else say why, None."""
    if update.effective_chat is None:
        return None
    if not await may_change(update, context):
        text = t(lang, "admins_only")
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        else:
            reply(update, context, text)
        return None
    return update.effective_chat.id


def split_html(text: str, limit: int = 3900) -> list[str]:
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
