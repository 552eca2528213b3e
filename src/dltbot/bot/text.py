"""Every user-facing string of the bot and the web page, in English and Simplified Chinese,
and how Telegram messages are cut. A test fails when a string misses a language."""

from __future__ import annotations

from collections.abc import Sequence

LANGS = ("en", "zh")
MESSAGE_LIMIT = 4096
TITLE_LIMIT = 300
META_LIMIT = 300

CATALOGUE: dict[str, dict[str, str]] = {
    "help": {
        "en": (
            "I follow curated reading lists and tell you what is new.\n\n"
            "/search <i>words</i> — find entries, e.g. <code>/search generalization</code>\n"
            "/random [<i>section</i>] — one random entry, e.g. <code>/random optimization</code>\n"
            "/latest [<i>n</i>] — the newest additions, e.g. <code>/latest 5</code>\n"
            "/sections [<i>list</i>] — the headings, with entry counts\n"
            "/subscribe [<i>list</i>] [<i>words</i>] — get new additions here, e.g. "
            "<code>/subscribe deeplearningtheory 泛化</code>\n"
            "/unsubscribe [<i>list</i>] [<i>words</i>] — stop them\n"
            "/subscriptions — what this chat follows\n"
            "/lang en|zh — reply in English or Chinese\n"
            "Inline: type <code>@{bot} words</code> in any chat."
        ),
        "zh": (
            "我关注精选阅读列表，并告诉你有哪些新内容。\n\n"
            "/search <i>关键词</i> — 搜索条目，例如 <code>/search 泛化</code>\n"
            "/random [<i>章节</i>] — 随机一条，例如 <code>/random optimization</code>\n"
            "/latest [<i>n</i>] — 最新添加，例如 <code>/latest 5</code>\n"
            "/sections [<i>列表</i>] — 章节及条目数\n"
            "/subscribe [<i>列表</i>] [<i>关键词</i>] — 在此接收新条目，例如 "
            "<code>/subscribe deeplearningtheory 泛化</code>\n"
            "/unsubscribe [<i>列表</i>] [<i>关键词</i>] — 取消订阅\n"
            "/subscriptions — 本聊天的订阅\n"
            "/lang en|zh — 使用英文或中文回复\n"
            "行内模式：在任意聊天中输入 <code>@{bot} 关键词</code>。"
        ),
    },
    "search_usage": {
        "en": "Usage: <code>/search words</code>, e.g. <code>/search generalization</code>",
        "zh": "用法：<code>/search 关键词</code>，例如 <code>/search 泛化</code>",
    },
    "no_match": {
        "en": "Nothing matches “{q}”. Try /sections to browse.",
        "zh": "没有找到“{q}”。试试 /sections 浏览章节。",
    },
    "results": {
        "en": "Results for “{q}” ({first}–{last} of {total}):",
        "zh": "“{q}”的结果（第 {first}–{last} 条，共 {total} 条）：",
    },
    "prev": {"en": "« Back", "zh": "« 上一页"},
    "next": {"en": "More »", "zh": "下一页 »"},
    "another": {"en": "Another one", "zh": "再来一条"},
    "no_entries": {"en": "No entries yet.", "zh": "还没有条目。"},
    "latest_usage": {
        "en": "Usage: <code>/latest [n]</code> with n from 1 to 50",
        "zh": "用法：<code>/latest [n]</code>，n 为 1 到 50",
    },
    "latest": {"en": "The newest additions:", "zh": "最新添加："},
    "sections": {"en": "Sections of {list}:", "zh": "{list} 的章节："},
    "unknown_list": {
        "en": "No list named “{list}”. Lists: {lists}",
        "zh": "没有名为“{list}”的列表。现有列表：{lists}",
    },
    "subscribed": {
        "en": "Subscribed: new additions to {what} will be posted here.",
        "zh": "已订阅：{what} 的新条目将发到这里。",
    },
    "already": {"en": "Already subscribed to {what}.", "zh": "已经订阅了 {what}。"},
    "unsubscribed": {"en": "Unsubscribed ({n}).", "zh": "已取消订阅（{n} 项）。"},
    "not_subscribed": {"en": "No such subscription here.", "zh": "这里没有这样的订阅。"},
    "subscriptions": {"en": "This chat follows:", "zh": "本聊天的订阅："},
    "no_subscriptions": {
        "en": "This chat follows nothing yet. Try /subscribe.",
        "zh": "本聊天还没有订阅。试试 /subscribe。",
    },
    "all_lists": {"en": "every list", "zh": "所有列表"},
    "filtered": {"en": "{list} matching “{words}”", "zh": "{list} 中匹配“{words}”的条目"},
    "admins_only": {
        "en": "Only this group's admins can change its subscriptions.",
        "zh": "只有本群管理员可以更改订阅。",
    },
    "lang_usage": {
        "en": "Usage: <code>/lang en</code> or <code>/lang zh</code>",
        "zh": "用法：<code>/lang en</code> 或 <code>/lang zh</code>",
    },
    "lang_set": {"en": "I will reply in English here.", "zh": "我将在这里用中文回复。"},
    "refused": {
        "en": "Sorry, only the bot's admins can do that.",
        "zh": "抱歉，只有机器人管理员可以这样做。",
    },
    "status_line": {
        "en": "{list}: {status}, {entries} entries, head {head}, last sync {sync}{error}",
        "zh": "{list}：{status}，{entries} 条，head {head}，上次同步 {sync}{error}",
    },
    "outbox": {
        "en": "Outbox: {pending} pending, {sent} sent, {parked} parked, {dropped} dropped",
        "zh": "发送队列：待发送 {pending}，已发送 {sent}，搁置 {parked}，已丢弃 {dropped}",
    },
    "pings": {
        "en": "WebSub pings: {pending} waiting, {parked} parked",
        "zh": "WebSub 通知：等待 {pending}，搁置 {parked}",
    },
    "sync_started": {"en": "Syncing now…", "zh": "正在同步…"},
    "sync_done": {"en": "Sync done: {summary}", "zh": "同步完成：{summary}"},
    "added": {"en": "added {date}", "zh": "添加于 {date}"},
    "new_in": {"en": "New in {list}:", "zh": "{list} 新增："},
    "slow_down": {
        "en": "Too many requests; I will answer again in a few seconds.",
        "zh": "请求太频繁，请稍等几秒再试。",
    },
    "bad_query": {
        "en": "Please search with at most {words} words and {chars} characters of plain text.",
        "zh": "请用不超过 {words} 个词、{chars} 个字符的纯文本搜索。",
    },
    # --- the web page (page.py); values are HTML-escaped by the page ---
    "page_title": {"en": "What is new in the lists", "zh": "列表有什么新内容"},
    "page_search": {"en": "Search", "zh": "搜索"},
    "page_search_label": {"en": "Search entries", "zh": "搜索条目"},
    "page_search_title": {"en": "Search: {q}", "zh": "搜索：{q}"},
    "page_all_feed": {"en": "Atom feed (all lists)", "zh": "Atom 订阅（所有列表）"},
    "page_feed": {"en": "Atom feed", "zh": "Atom 订阅"},
    "page_daily": {"en": "daily digest", "zh": "每日摘要"},
    "page_weekly": {"en": "weekly digest", "zh": "每周摘要"},
    "page_entries": {"en": "{n} entries", "zh": "{n} 个条目"},
    "page_failing": {"en": "sync failing: {error}", "zh": "同步失败：{error}"},
    "page_none": {
        "en": "No list has been synced yet. Run <code>dltbot sync</code>.",
        "zh": "还没有同步任何列表。请运行 <code>dltbot sync</code>。",
    },
    "page_older": {
        "en": "Older additions: {daily} · {archive}",
        "zh": "更早的新增：{daily} · {archive}",
    },
    "page_archive": {"en": "Atom feed and its archive", "zh": "Atom 订阅及其存档"},
    "page_never": {
        "en": "Not synced yet: the repository {repo} could not be read ({error}).",
        "zh": "尚未同步：无法读取仓库 {repo}（{error}）。",
    },
    "page_never_help": {
        "en": "Check the repository address and this machine's network. Without network "
        "access, sync from a local clone or a git bundle: <code>dltbot sync --repo PATH</code>.",
        "zh": "请检查仓库地址和本机网络。没有网络时，可以从本地克隆或 git bundle 同步："
        "<code>dltbot sync --repo PATH</code>。",
    },
    "page_hint": {
        "en": "Type one or more words: entries whose title, description, section, authors or "
        "abstract hold every word are shown, title matches first.",
        "zh": "输入一个或多个关键词：显示标题、描述、章节、作者或摘要包含所有关键词的条目，"
        "标题匹配的排在前面。",
    },
    "page_no_match": {"en": "No entry matches “{q}”.", "zh": "没有条目匹配“{q}”。"},
    "page_results": {"en": "{n} result(s) for “{q}”", "zh": "“{q}”的结果：{n} 条"},
    "page_added": {"en": "added {date}", "zh": "添加于 {date}"},
    # --- cards (view.py): what an entry's link is ---
    "card_published": {"en": "published {date}", "zh": "发表于 {date}"},
    "card_pushed": {"en": "last push {date}", "zh": "最近提交 {date}"},
    "card_archived": {"en": "archived", "zh": "已归档"},
    "card_pdf": {"en": "PDF", "zh": "PDF"},
    "card_code": {"en": "code", "zh": "代码"},
    "card_broken": {"en": "broken link since {date}", "zh": "链接自 {date} 起失效"},
    "card_moved": {"en": "moved to", "zh": "已迁移至"},
    "expired": {
        "en": "This button has expired; send the command again.",
        "zh": "这个按钮已失效，请重新发送命令。",
    },
}


def t(lang: str, key: str, **values: object) -> str:
    """Return a catalogue string in a language (English when it has no such language)."""
    texts = CATALOGUE[key]
    return texts.get(lang, texts["en"]).format(**values)


def pick_lang(chosen: str | None, user_language: str | None) -> str:
    """Return the chat's /lang choice, else Chinese for a zh* Telegram language, else English."""
    if chosen in LANGS:
        return chosen
    return "zh" if (user_language or "").lower().startswith("zh") else "en"


def visible_length(text: str) -> int:
    """Return a message's length as Telegram counts it after entity parsing (UTF-16 units)."""
    return len(text.encode("utf-16-le")) // 2


def batch_messages(header: tuple[str, str], items: Sequence[tuple[str, str]]) -> list[list[int]]:
    """Split items into messages of at most MESSAGE_LIMIT visible characters.

    Returns lists of item indexes; a message is split only between items.
    """
    batches: list[list[int]] = []
    current: list[int] = []
    length = visible_length(header[1])
    for index, (_, plain) in enumerate(items):
        size = visible_length(plain) + 2  # the blank line between items
        if current and length + size > MESSAGE_LIMIT:
            batches.append(current)
            current, length = [], visible_length(header[1])
        current.append(index)
        length += size
    if current:
        batches.append(current)
    return batches
