"""Every user-facing string of the bot and the web page, in English and Simplified Chinese,
and how Telegram messages are cut. A test fails when a string misses a language."""

from __future__ import annotations

import string

LANGS = ("en", "zh")
MESSAGE_LIMIT = 4096
TITLE_LIMIT = 300
META_LIMIT = 300

CATALOGUE: dict[str, dict[str, str]] = {
    "welcome": {
        "en": (
            "👋 I follow curated reading lists and tell you what is new in them: each new "
            "entry, with its authors and abstract when it is a paper.\n\n{lists}\n\n"
            "Tap a button below, send me words to search (e.g. <code>grokking</code>), or see "
            "/help."
        ),
        "zh": (
            "👋 我会关注精选阅读列表，并告诉你其中的新内容：每个新条目，以及论文的作者和摘要。"
            "\n\n{lists}\n\n点下方按钮，或直接发送关键词搜索（例如<code>泛化</code>），也可以"
            "查看 /help。"
        ),
    },
    "list_line": {
        "en": "📚 {name} — {entries} entries, updated {date}",
        "zh": "📚 {name} — {entries}个条目，更新于{date}",
    },
    "list_links": {"en": "{page} · {feed}", "zh": "{page} · {feed}"},
    "bib_sent": {
        "en": "📚 BibTeX of {count} entries: import it into Zotero, JabRef or your .bib file.",
        "zh": "📚 {count}个条目的 BibTeX：可导入 Zotero、JabRef 或你的 .bib 文件。",
    },
    "bib_failed": {
        "en": "Sorry, the BibTeX file could not be sent. Try again later.",
        "zh": "抱歉，BibTeX 文件发送失败，请稍后再试。",
    },
    "push_also": {"en": "also in {where}", "zh": "也收录于{where}"},
    "lists_summary": {
        "en": "📚 I follow {count} lists ({entries} entries): /lists shows them, ten a page.",
        "zh": "📚 我关注{count}个列表（共{entries}个条目）：/lists 每页显示十个。",
    },
    "lists_page": {
        "en": "Lists {first}–{last} of {count}",
        "zh": "列表{first}–{last}，共{count}个",
    },
    "and_more": {"en": "and {count} more (/lists)", "zh": "等，另有{count}个（/lists）"},
    "button_lists": {"en": "📚 Lists", "zh": "📚 列表"},
    "no_lists": {
        "en": "No list has been synced yet.",
        "zh": "还没有同步任何列表。",
    },
    "button_subscribe": {"en": "🔔 Subscribe", "zh": "🔔 订阅"},
    "button_latest": {"en": "🆕 Latest", "zh": "🆕 最新"},
    "button_sections": {"en": "📂 Sections", "zh": "📂 章节"},
    "button_web": {"en": "🌐 Web", "zh": "🌐 网页"},
    "button_rss": {"en": "📡 RSS", "zh": "📡 RSS"},
    "help": {
        "en": (
            "<b>Browse</b>\n"
            "/search <i>words</i> — find entries, e.g. <code>/search generalization</code> "
            "(in a private chat, just send the words)\n"
            "/random [<i>words</i>] — a random entry, from sections named by the words if any\n"
            "/latest [<i>n</i>] — the newest additions, e.g. <code>/latest 5</code>\n"
            "/bib [<i>words</i>] — a BibTeX file of the matching papers (or of the newest)\n"
            "/sections [<i>list</i>] — browse by section\n"
            "/lists — the lists I follow, with their page and feed\n\n"
            "<b>Subscribe</b>\n"
            "/subscribe — every new entry, here\n"
            "/subscribe [<i>list</i>] [<i>words</i>] — only new entries of a list, or matching "
            "words, e.g. <code>/subscribe {example} 泛化</code>\n"
            "… <code>+updates</code> — also its papers' news: new versions, published versions, "
            "code\n"
            "/subscriptions — what this chat follows; buttons end one, switch it to a daily or "
            "weekly digest, or hold it during quiet hours\n"
            "/quiet 22-8 [+8] — quiet hours (local time, UTC offset); <code>/quiet off</code>\n"
            "/unsubscribe [<i>list</i>] [<i>words</i>] — end that one; alone, end all\n\n"
            "<b>Inline</b>\n"
            "Type <code>@{bot} words</code> in any chat to share an entry.\n\n"
            "<b>How matching works</b>: an entry matches when it holds every word, in any order "
            "and case, in its title, description or section headings, or in its paper's "
            "authors and abstract. Lists: {lists}.\n"
            "/lang en|zh — reply in English or Chinese"
        ),
        "zh": (
            "<b>浏览</b>\n"
            "/search <i>关键词</i> — 搜索条目，例如<code>/search 泛化</code>"
            "（私聊时直接发送关键词即可）\n"
            "/random [<i>关键词</i>] — 随机一条；给出关键词时从名称匹配的章节中选\n"
            "/latest [<i>n</i>] — 最新添加的条目，例如<code>/latest 5</code>\n"
            "/bib [<i>关键词</i>] — 匹配论文的 BibTeX 文件（不给关键词则为最新添加）\n"
            "/sections [<i>列表</i>] — 按章节浏览\n"
            "/lists — 我关注的列表，以及网页和订阅源\n\n"
            "<b>订阅</b>\n"
            "/subscribe — 在这里接收所有新条目\n"
            "/subscribe [<i>列表</i>] [<i>关键词</i>] — 只接收某个列表或包含关键词的新条目，"
            "例如<code>/subscribe {example} 泛化</code>\n"
            "… <code>+updates</code> — 同时接收其中论文的动态：新版本、正式发表、代码\n"
            "/subscriptions — 本聊天的订阅；可用按钮取消、改为每日或每周摘要，"
            "或在免打扰时段暂缓推送\n"
            "/quiet 22-8 [+8] — 设置免打扰时段（当地时间与 UTC 时差）；"
            "<code>/quiet off</code> 关闭\n"
            "/unsubscribe [<i>列表</i>] [<i>关键词</i>] — 取消这一项；不带参数则全部取消\n\n"
            "<b>行内模式</b>\n"
            "在任意聊天中输入<code>@{bot} 关键词</code>，即可分享条目。\n\n"
            "<b>匹配规则</b>：条目的标题、描述、章节标题，或论文的作者和摘要中包含全部关键词"
            "（不分顺序和大小写）即算匹配。现有列表：{lists}。\n"
            "/lang en|zh — 使用英文或中文回复"
        ),
    },
    "unknown_command": {
        "en": "I don't know {command}. /help lists what I can do.",
        "zh": "我不认识“{command}”这个命令，/help 里有我能做的事。",
    },
    "search_usage": {
        "en": "Usage: <code>/search words</code>, e.g. <code>/search generalization</code>",
        "zh": "用法：<code>/search 关键词</code>，例如<code>/search 泛化</code>",
    },
    "no_match": {
        "en": "Nothing matches “{q}”. Try other words, or browse the sections.",
        "zh": "没有找到包含“{q}”的条目。换个关键词试试，或按章节浏览。",
    },
    "results": {
        "en": "Results for “{q}” ({first}–{last} of {total}):",
        "zh": "“{q}”的搜索结果（第{first}–{last}条，共{total}条）：",
    },
    "notify_me": {"en": "🔔 Notify me of new matches", "zh": "🔔 有新的匹配条目时通知我"},
    "prev": {"en": "« Back", "zh": "« 上一页"},
    "next": {"en": "More »", "zh": "下一页 »"},
    "another": {"en": "🎲 Another one", "zh": "🎲 再来一条"},
    "no_entries": {"en": "No entries yet.", "zh": "还没有条目。"},
    "random_search": {
        "en": "No section is named “{q}”; here is a random entry that mentions it:",
        "zh": "没有名称包含“{q}”的章节，随机挑了一条提到它的条目：",
    },
    "random_none": {
        "en": "No section or entry matches “{q}”. Browse the sections instead?",
        "zh": "没有章节或条目包含“{q}”。要不要按章节浏览？",
    },
    "latest_usage": {
        "en": "Usage: <code>/latest [n]</code> with n from 1 to 50",
        "zh": "用法：<code>/latest [n]</code>，n 为 1 到 50",
    },
    "latest": {"en": "The newest additions", "zh": "最新添加的条目"},
    "sections": {"en": "Sections of {list}", "zh": "{list}的章节"},
    "sections_summary": {
        "en": "{entries} entries in {sections} sections; showing {first}–{last}. Tap one to "
        "see its entries.",
        "zh": "{sections}个章节，共{entries}个条目；当前显示第{first}–{last}个。点一个章节查看"
        "其中的条目。",
    },
    "section_count": {
        "en": "{first}–{last} of {total}",
        "zh": "第{first}–{last}条，共{total}条",
    },
    "back_to_sections": {"en": "⬅ Sections", "zh": "⬅ 返回章节"},
    "browse_sections": {"en": "📂 Browse the sections", "zh": "📂 按章节浏览"},
    "unknown_list": {
        "en": "No list is named “{list}”. Lists: {lists}",
        "zh": "没有名为“{list}”的列表。现有列表：{lists}",
    },
    "sub_all": {"en": "new additions to every list", "zh": "所有列表的新条目"},
    "sub_all_words": {
        "en": "new additions to every list matching “{words}”",
        "zh": "所有列表中包含“{words}”的新条目",
    },
    "sub_list": {"en": "new additions to {list}", "zh": "{list}的新条目"},
    "sub_list_words": {
        "en": "new additions to {list} matching “{words}”",
        "zh": "{list}中包含“{words}”的新条目",
    },
    "subscribed": {
        "en": "Subscribed to {what}: they will be posted here.",
        "zh": "已订阅{what}，会推送到这里。",
    },
    "already": {"en": "Already subscribed to {what}.", "zh": "已经订阅过{what}。"},
    "nothing_matches_yet": {
        "en": "No entry mentions “{q}” today, and no list has that name. Lists: {lists}. "
        "Subscribe anyway, to hear of future entries that mention it?",
        "zh": "目前没有条目包含“{q}”，也没有这个名字的列表。现有列表：{lists}。"
        "仍要订阅，以后出现包含它的条目时通知你吗？",
    },
    "subscribe_anyway": {"en": "🔔 Subscribe anyway", "zh": "🔔 仍然订阅"},
    "unsubscribed": {"en": "Unsubscribed from {what}.", "zh": "已取消订阅{what}。"},
    "and": {"en": "; ", "zh": "；"},
    "not_subscribed": {"en": "No such subscription here.", "zh": "这里没有这项订阅。"},
    "subscriptions": {"en": "This chat follows:", "zh": "本聊天的订阅："},
    "subscriptions_help": {
        "en": "\n❌ ends one · ⏱ switches between at once, daily and weekly · 🌙 holds pushes "
        "during quiet hours (/quiet)",
        "zh": "\n❌ 取消 · ⏱ 在即时、每日、每周之间切换 · 🌙 免打扰时段暂缓推送（/quiet）",
    },
    "since": {"en": "since {date}", "zh": "{date}起"},
    "mode_now": {"en": "at once", "zh": "即时推送"},
    "mode_daily": {"en": "daily digest", "zh": "每日摘要"},
    "mode_weekly": {"en": "weekly digest", "zh": "每周摘要"},
    "quiet_on": {
        "en": "quiet {start}:00–{end}:00 {tz}",
        "zh": "免打扰{start}:00–{end}:00（{tz}）",
    },
    "quiet_button": {"en": "Quiet hours", "zh": "免打扰"},
    "quiet_off_button": {"en": "No quiet hours", "zh": "取消免打扰"},
    "covered_by": {
        "en": "Also brought by subscription {n}, which covers it.",
        "zh": "第{n}项订阅已经包含这些条目。",
    },
    "quiet_usage": {
        "en": "Usage: <code>/quiet 22-8</code> (hours, local time) and optionally your UTC "
        "offset, e.g. <code>/quiet 22-8 +8</code>; <code>/quiet off</code> ends them",
        "zh": "用法：<code>/quiet 22-8</code>（当地时间的小时），可加上 UTC 时差，例如"
        "<code>/quiet 22-8 +8</code>；<code>/quiet off</code> 关闭",
    },
    "quiet_set": {
        "en": "Quiet hours {start}:00–{end}:00 {tz}: pushes that come then wait until they end.",
        "zh": "免打扰时段为{start}:00–{end}:00（{tz}），期间的推送会在结束后发送。",
    },
    "quiet_cleared": {
        "en": "No quiet hours: pushes come as they are due.",
        "zh": "已关闭免打扰，推送将按时送达。",
    },
    "no_subscriptions": {
        "en": "This chat follows nothing yet. Try /subscribe.",
        "zh": "本聊天还没有订阅。试试 /subscribe。",
    },
    "all_lists": {"en": "every list", "zh": "所有列表"},
    "admins_only": {
        "en": "Only this group's admins can change its subscriptions.",
        "zh": "只有本群管理员可以更改订阅。",
    },
    "lang_usage": {
        "en": "Usage: <code>/lang en</code> or <code>/lang zh</code>",
        "zh": "用法：<code>/lang en</code> 或 <code>/lang zh</code>",
    },
    "lang_set": {"en": "I will reply in English here.", "zh": "好的，我在这里会用中文回复。"},
    "refused": {
        "en": "Sorry, only the bot's admins can do that.",
        "zh": "抱歉，只有机器人管理员可以这样做。",
    },
    "status_line": {
        "en": "<b>{list}</b>: {status}, {entries} entries, head {head}, synced {sync}{error}",
        "zh": "<b>{list}</b>：{status}，{entries}个条目，head {head}，{sync}同步{error}",
    },
    "ago_now": {"en": "just now", "zh": "刚刚"},
    "ago_min": {"en": "{n} min ago", "zh": "{n}分钟前"},
    "ago_hour": {"en": "{n} h ago", "zh": "{n}小时前"},
    "ago_day": {"en": "{n} days ago", "zh": "{n}天前"},
    "never": {"en": "never", "zh": "从未"},
    "status_many": {
        "en": "{count} lists: {ok} ok, {new} not synced yet, {failing} failing (the first "
        "ten below)",
        "zh": "{count}个列表：{ok}个正常，{new}个尚未同步，{failing}个失败（下面列出前十个）",
    },
    "status_enrich": {
        "en": "Cards and link checks due: {due} URLs ({never} never looked at)",
        "zh": "待获取卡片和检查链接：{due}个网址（{never}个从未检查）",
    },
    "outbox": {
        "en": "Outbox: {pending} pending, {sent} sent, {parked} parked, {dropped} dropped",
        "zh": "发送队列：待发送{pending}，已发送{sent}，搁置{parked}，已丢弃{dropped}",
    },
    "pings": {
        "en": "WebSub pings: {pending} waiting, {parked} parked",
        "zh": "WebSub 通知：等待{pending}，搁置{parked}",
    },
    "sync_started": {"en": "Syncing now…", "zh": "正在同步…"},
    "sync_done": {"en": "Sync done: {summary}", "zh": "同步完成：{summary}"},
    "added": {"en": "added {date}", "zh": "{date}添加"},
    "push_new": {"en": "🆕 {n} new", "zh": "🆕 新增{n}条"},
    "push_daily": {"en": "🗓 Daily digest: {n} new", "zh": "🗓 每日摘要：新增{n}条"},
    "push_weekly": {"en": "🗓 Weekly digest: {n} new", "zh": "🗓 每周摘要：新增{n}条"},
    "push_filter": {"en": "filter: {words}", "zh": "筛选：{words}"},
    "push_more": {"en": "{n} more follow.", "zh": "还有{n}条，随后发送。"},
    "push_page": {"en": "Web page", "zh": "网页"},
    "push_feed": {"en": "Atom feed", "zh": "Atom 订阅"},
    "inline_none": {"en": "No match — open the bot", "zh": "没有匹配 — 打开机器人"},
    "slow_down": {
        "en": "Too many requests; I will answer again in a few seconds.",
        "zh": "请求太频繁，请过几秒再试。",
    },
    "bad_query": {
        "en": "Please search with at most {words} words and {chars} characters of plain text.",
        "zh": "请用不超过{words}个词、{chars}个字符的纯文本搜索。",
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
    "page_entries": {"en": "{n} entries", "zh": "{n}个条目"},
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
        "zh": "尚未同步：无法读取仓库{repo}（{error}）。",
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
    "news_header": {"en": "📰 Papers' news", "zh": "📰 论文动态"},
    "subscribed_updates": {
        "en": "You will also hear of their papers' news here: new versions, published "
        "versions and code.",
        "zh": "这里也会推送其中论文的动态：新版本、正式发表与代码。",
    },
    "news_revised": {"en": "new version {version}", "zh": "新版本{version}"},
    "news_published": {"en": "published", "zh": "已正式发表"},
    "news_code": {"en": "code", "zh": "代码"},
    "page_updates": {"en": "papers' news", "zh": "论文动态"},
    "page_latest": {"en": "Latest additions in all lists", "zh": "所有列表的最新条目"},
    "page_lists": {"en": "The lists ({n})", "zh": "列表（{n}个）"},
    "page_from": {"en": "from {meta}", "zh": "来自{meta}"},
    "page_left": {
        "en": "no longer in {meta} since {date}: not followed, its history kept",
        "zh": "自{date}起已不在{meta}中：不再关注，历史保留",
    },
    "page_failing_short": {"en": "sync failing", "zh": "同步失败"},
    "page_find_list": {"en": "Find a list by name", "zh": "按名称查找列表"},
    "page_find": {"en": "Find", "zh": "查找"},
    "page_found_lists": {"en": "{n} list(s) named with “{q}”", "zh": "名称含“{q}”的列表：{n}个"},
    "page_previous": {"en": "← previous", "zh": "← 上一页"},
    "page_next": {"en": "next →", "zh": "下一页 →"},
    "page_of": {"en": "page {n} of {total}", "zh": "第{n}页，共{total}页"},
    "page_also": {"en": "Also in {where}", "zh": "也收录于{where}"},
    "page_bad_query": {
        "en": "That search cannot be run ({problem}): use fewer or shorter words.",
        "zh": "无法执行该搜索（{problem}）：请使用更少或更短的词。",
    },
    "page_index_failed": {
        "en": "The search index (search-index.json) could not be read",
        "zh": "无法读取搜索索引（search-index.json）",
    },
    "page_results": {"en": "{n} result(s) for “{q}”", "zh": "“{q}”的结果：{n}条"},
    "page_added": {"en": "added {date}", "zh": "添加于{date}"},
    # --- cards (view.py): what an entry's link is ---
    "card_published": {"en": "published {date}", "zh": "发表于{date}"},
    "card_pushed": {"en": "last push {date}", "zh": "最近提交{date}"},
    "card_archived": {"en": "archived", "zh": "已归档"},
    "card_pdf": {"en": "PDF", "zh": "PDF"},
    "card_code": {"en": "code", "zh": "代码"},
    "card_broken": {"en": "broken link since {date}", "zh": "链接自{date}起失效"},
    "card_moved": {"en": "moved to", "zh": "已迁移至"},
    "expired": {
        "en": "This button has expired; send the command again.",
        "zh": "这个按钮已失效，请重新发送命令。",
    },
}


def t(lang: str, key: str, **values: object) -> str:
    """Return a catalogue string in a language (English when it has no such language).

    Chinese strings are written without spaces around their placeholders; a space is put
    where a value's Latin letter or digit meets a Chinese character (`更新于 2026-03-14`,
    `已订阅 deeplearningtheory 的`), and none where the value is Chinese (`所有列表的`)."""
    texts = CATALOGUE[key]
    template = texts.get(lang, texts["en"])
    if lang != "zh":
        return template.format(**values)
    out = ""
    for literal, field, spec, _ in string.Formatter().parse(template):
        if out and literal and _latin(_edge(out, last=True)) and _han(literal[0]):
            out += " "
        out += literal
        if field is None:
            continue
        value = format(values[field], spec or "")
        if value and out and _han(out[-1]) and _latin(_edge(value, last=False)):
            out += " "
        out += value
    return out


def _han(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


def _latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _edge(text: str, last: bool) -> str:
    """The first (or last) character of text outside HTML tags ('' if none)."""
    depth = 0
    for char in reversed(text) if last else text:
        if char == (">" if last else "<"):
            depth += 1
        elif char == ("<" if last else ">"):
            depth -= 1
        elif depth == 0:
            return char
    return ""


def pick_lang(chosen: str | None, user_language: str | None) -> str:
    """Return the chat's /lang choice, else Chinese for a zh* Telegram language, else English."""
    if chosen in LANGS:
        return chosen
    return "zh" if (user_language or "").lower().startswith("zh") else "en"


def visible_length(text: str) -> int:
    """Return a message's length as Telegram counts it after entity parsing (UTF-16 units)."""
    return len(text.encode("utf-16-le")) // 2
