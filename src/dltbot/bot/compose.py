"""What a push message says: a header (how many, when, which list, which filter), the
entries grouped under their section headings, and a footer (page, feed, /subscriptions).
Pure: the sender gives it the pending rows and sends what it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..models import Delivery, NewsDelivery
from ..present.catalogue import MESSAGE_LIMIT, META_LIMIT, t, visible_length
from ..present.links import Links, doi_url
from ..present.view import entry_html, section_label, telegram_html, telegram_link
from ..untrusted import shorten


@dataclass(frozen=True)
class Push:
    html: str
    rows: list[Delivery]  # the rows this message carries (the rest wait for the next one)


def _heading(row: Delivery, lists: int) -> str:
    parts = ([row.list] if lists > 1 else []) + list(row.entry.section)
    return shorten(section_label([parts]), META_LIMIT) if parts else ""


def _item(row: Delivery, lang: str) -> tuple[str, str]:
    """One entry of a push: and where else the paper is ("also in list B › section")."""
    html, plain = entry_html(row.entry, None, lang=lang, card=row.card, abstract=True,
                             section=False)  # fmt: skip
    if row.also:
        where = shorten(
            "; ".join(section_label([[name, *section]]) for name, section in row.also[:5]),
            META_LIMIT,
        )
        line = t(lang, "push_also", where=telegram_html(where))
        html, plain = f"{html}\n<i>{line}</i>", f"{plain}\n{line}"
    return html, plain


def compose_push(rows: Sequence[Delivery], lang: str, date: str, links: Links | None) -> Push:
    """Compose the next message to one chat from its pending rows (oldest first): as many
    whole sections as fit, a section cut only when it alone is too long for a message."""
    lists = {row.list for row in rows}
    filters = {row.filter for row in rows}
    modes = {row.mode for row in rows}
    # Sections in the order their first entry came; entries in order within each.
    groups: dict[str, list[Delivery]] = {}
    for row in rows:
        groups.setdefault(_heading(row, len(lists)), []).append(row)
    one_list = next(iter(lists)) if len(lists) == 1 else None
    footer = _footer(lang, links, one_list)
    budget = MESSAGE_LIMIT - visible_length(footer[1]) - 200  # the header is under 200
    taken: list[Delivery] = []
    blocks: list[str] = []  # a section: its heading, then its entries
    used = 0
    for heading, members in groups.items():
        items = [_item(r, lang) for r in members]
        sizes = [visible_length(plain) + 2 for _, plain in items]
        head = visible_length(heading) + 2 if heading else 0
        if taken and used + head + sum(sizes) > budget:
            break  # the next message starts with this section
        shown: list[str] = []
        used += head
        for row, (item_html, _), size in zip(members, items, sizes, strict=True):
            if taken and used + size > budget:
                break  # one section longer than a message: the rest goes next
            shown.append(item_html)
            taken.append(row)
            used += size
        title = f"<b>{telegram_html(heading)}</b>\n" if heading else ""
        blocks.append(title + "\n\n".join(shown))
        if taken[-1] is not members[-1]:
            break
    mode = next(iter(modes)) if len(modes) == 1 else "now"
    kind = {"daily": "push_daily", "weekly": "push_weekly"}.get(mode, "push_new")
    header = [f"<b>{t(lang, kind, n=len(taken))}</b>", date]
    if one_list:
        header.append(telegram_html(one_list))
    if len(filters) == 1 and (words := next(iter(filters))):
        header.append(t(lang, "push_filter", words=telegram_html(shorten(words, 60))))
    more = len(rows) - len(taken)
    tail = [t(lang, "push_more", n=more)] if more else []
    text = "\n\n".join([" · ".join(header), *blocks, "\n".join([*tail, footer[0]])])
    return Push(text, taken)


def _footer(lang: str, links: Links | None, one_list: str | None) -> tuple[str, str]:
    """Links to the page and the feed (when the public address is known), and the command
    that manages subscriptions."""
    parts: list[tuple[str, str]] = []
    if links is not None:
        page = links.list_page(one_list) if one_list else links.page()
        feed = links.feed(one_list)
        for label, url in ((t(lang, "push_page"), page), (t(lang, "push_feed"), feed)):
            parts.append((telegram_link(url, label), label))
    parts.append(("/subscriptions", "/subscriptions"))
    return " · ".join(p[0] for p in parts), " · ".join(p[1] for p in parts)


def compose_news(rows: Sequence[NewsDelivery], lang: str) -> str:
    """One message of papers' news (at most ten, each bounded): what changed, and the paper."""
    lines = [f"<b>{t(lang, 'news_header')}</b>"]
    for row in rows[:10]:
        news = row.news
        title = telegram_link(news.url, telegram_html(shorten(news.title, 200)))
        if news.kind == "revised":
            what = t(lang, "news_revised", version=telegram_html(news.value))
            comment = shorten(str(news.detail.get("comment") or ""), 200)
            extra = f"\n<i>{telegram_html(comment)}</i>" if comment else ""
        elif news.kind == "published":
            what = telegram_link(doi_url(news.value), t(lang, "news_published"))
            venue = shorten(str(news.detail.get("venue") or ""), 120)
            extra = f" · {telegram_html(venue)}" if venue else ""
        else:
            what, extra = telegram_link(news.value, t(lang, "news_code")), ""
        where = telegram_html(shorten(news.list, 60))
        lines.append(f"• {what}: {title} ({where}){extra}")
    return "\n\n".join(lines)
