"""Wiring: one Application with its handlers, rate limiter and sender (the service runs it)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import BotCommand, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from ..config import Config
from ..errors import ConfigError
from ..hold import Hold
from ..present.links import Links
from ..storage import Storage
from . import browse, handlers, subs
from .context import CONTEXT_TYPES, BotData
from .flow import PerChatOrder, Replies, UserLimit
from .push import REAL_PACING, Pacing, Sender

log = logging.getLogger(__name__)

BotApp = Application[Any, Any, Any, Any, Any, Any]

COMMANDS = {
    "start": ("What this bot follows", "机器人关注什么"),
    "help": ("Every command, and how matching works", "所有命令与匹配规则"),
    "lists": ("The lists, their page and feed", "列表、网页与订阅源"),
    "search": ("Find entries: /search words", "搜索条目：/search 关键词"),
    "random": ("One random entry", "随机一条"),
    "latest": ("The newest additions", "最新添加"),
    "sections": ("Headings with entry counts", "章节与条目数"),
    "bib": ("BibTeX of the papers: /bib words", "论文的 BibTeX：/bib 关键词"),
    "subscribe": ("Get new additions here", "在此接收新条目"),
    "unsubscribe": ("Stop them", "取消订阅"),
    "subscriptions": ("What this chat follows, with buttons", "本聊天的订阅（可管理）"),
    "quiet": ("Quiet hours: /quiet 22-8 +8", "免打扰时段：/quiet 22-8 +8"),
    "lang": ("Reply in en or zh", "切换语言 en/zh"),
}


def build_application(
    config: Config,
    storage: Storage,
    run_sync: Callable[[], str],
    hold: Hold | None = None,
    pacing: Pacing = REAL_PACING,
) -> BotApp:
    """Return the bot, wired to storage. Its sender (bot_data.sender) is run by the service,
    which also fans new additions out into the outbox."""
    token = config.telegram.token
    if not token:
        raise ConfigError("telegram.token: not set (or set TELEGRAM_BOT_TOKEN)")
    api = config.telegram.api_base_url
    application = (
        Application.builder()
        .token(token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .rate_limiter(
            AIORateLimiter(
                overall_max_rate=25,
                overall_time_period=pacing.scale,
                group_max_rate=20,
                group_time_period=60 * pacing.scale,
            )
        )
        .post_init(post_init)
        .post_shutdown(_close_replies)
        .concurrent_updates(PerChatOrder())
        .context_types(CONTEXT_TYPES)
        .build()
    )
    data: BotData = application.bot_data
    data.storage = storage
    data.admins = list(config.telegram.admins)
    data.enriching = config.enrich.enabled  # /status says how far behind enrichment is
    # The public address, if any: links and URL buttons (none without it: a private or
    # guessed address would be a dead link, and Telegram refuses such URL buttons).
    base = config.feed.base_url
    data.links = Links(base) if base else None
    data.hold = hold or Hold()  # what /latest and inline mode may show yet
    data.sync = run_sync
    # Pushes link the page and the feed when the public address is known (`dltbot run` sets
    # its own; `dltbot bot` has one only with feed.base_url).
    data.sender = Sender(storage, application.bot, data.links, pacing=pacing)
    data.replies = Replies(application.bot, scale=pacing.scale)
    data.limit = UserLimit(rate=1.0 / pacing.scale)  # a token a second (scaled: tests)
    # First, for every update: one user's flood is slowed down before it costs anything.
    application.add_handler(TypeHandler(Update, handlers.throttle), group=-1)
    both = filters.UpdateType.MESSAGES | filters.UpdateType.CHANNEL_POSTS
    for name, callback in (
        ("start", handlers.start_command),
        ("help", handlers.help_command),
        ("lists", handlers.lists_command),
        ("search", browse.search_command),
        ("random", browse.random_command),
        ("latest", browse.latest_command),
        ("sections", browse.sections_command),
        ("bib", browse.bib_command),
        ("subscribe", subs.subscribe_command),
        ("unsubscribe", subs.unsubscribe_command),
        ("subscriptions", subs.subscriptions_command),
        ("quiet", subs.quiet_command),
        ("lang", handlers.lang_command),
        ("status", handlers.status_command),
        ("sync", handlers.sync_command),
    ):
        application.add_handler(CommandHandler(name, callback, filters=both))
    # After the commands above: any other command, then plain text (a search in private).
    application.add_handler(MessageHandler(filters.COMMAND & both, handlers.unknown_command))
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE,
                       handlers.text_message)
    )  # fmt: skip
    application.add_handler(CallbackQueryHandler(handlers.button_press))
    application.add_handler(InlineQueryHandler(browse.inline_query))
    application.add_error_handler(handlers.error_handler)
    for chat_id in config.telegram.channels:
        # Configured channels get every addition from now on, without /subscribe.
        storage.subscribe(chat_id, 0, "", "", origin="config")
    return application


async def post_init(application: BotApp) -> None:
    """Register the command list in both languages (run_polling calls this itself)."""
    english = [BotCommand(name, texts[0]) for name, texts in COMMANDS.items()]
    chinese = [BotCommand(name, texts[1]) for name, texts in COMMANDS.items()]
    await application.bot.set_my_commands(english)
    await application.bot.set_my_commands(chinese, language_code="zh")


async def _close_replies(application: BotApp) -> None:
    await application.bot_data.replies.close()


def quiet_loggers() -> None:
    """Silence what would leak the token or repeat what dltbot logs itself."""
    # httpx logs request URLs at INFO, and Bot API URLs hold the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The rate limiter logs every RetryAfter as an error; the sender handles and logs them.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)


def update_sink(application: BotApp) -> Callable[[Any], Awaitable[None]]:
    """Return what the web server hands a webhook's JSON to: it becomes an Update in the
    application's queue, handled as a polled one would be."""

    async def accept(data: Any) -> None:
        update = Update.de_json(data, application.bot)
        await application.update_queue.put(update)

    return accept


async def start_webhook(application: BotApp, url: str, secret: str) -> None:
    """Ask Telegram to push updates to url (every kind the handlers take)."""
    await application.bot.set_webhook(
        url=url, secret_token=secret, allowed_updates=Update.ALL_TYPES
    )
