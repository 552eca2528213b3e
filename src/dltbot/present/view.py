"""One presentation of an entry with its card, for every renderer (feed, page, Telegram,
JSON), and the one escaping rule for the HTML they write.

Everything shown here is untrusted (the list's text, the pages and APIs behind its links):
text is escaped with `text_html`, attribute values with `attr_html`, and only http(s) links
become links.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..models import Card, Entry, LinkHealth
from ..untrusted import shorten, xml_safe
from ..urls import safe_link
from .catalogue import META_LIMIT, TITLE_LIMIT, t

AUTHORS_SHOWN = 6
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(“\"])|(?<=[。！？])")


def text_html(text: str) -> str:
    """Escape text for HTML; "=" and ":" too, so no text reads as a handler or a scheme."""
    return html.escape(xml_safe(text)).replace("=", "&#61;").replace(":", "&#58;")


def attr_html(value: str) -> str:
    """Escape an attribute value."""
    return html.escape(xml_safe(value), quote=True)


def telegram_html(text: str) -> str:
    """Escape text for Telegram's HTML parse mode: the other of the two escapers (it knows
    only &lt; &gt; &amp; &quot;, and needs no more)."""
    return html.escape(text, quote=False)


def telegram_link(url: str | None, label: str) -> str:
    """A Telegram HTML link when url is http(s) (all Telegram follows), else the label alone
    (`label` is Telegram HTML already)."""
    href = safe_link(url, ("http", "https")) if url else None
    return f'<a href="{html.escape(href, quote=True)}">{label}</a>' if href else label


def link_html(url: str | None, text: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """A link when the URL may be followed, else the text alone."""
    href = safe_link(url, schemes) if url else None
    if href is None:
        return text_html(text)
    return f'<a href="{attr_html(href)}" rel="noopener">{text_html(text)}</a>'


def linked_html(
    text: str,
    spans: Sequence[tuple[int, int, str]],
    limit: int | None = None,
    escape: Callable[[str], str] = text_html,
    rel: bool = True,
) -> str:
    """Text as HTML with its links (Entry.text_links) as links, cut to `limit` characters.

    Only http(s) links become links; a span cut by the limit links what is left of it.
    """
    shown = shorten(text, limit) if limit else text
    cut = len(shown) if shown == text else len(shown) - 1  # "…" was appended
    out = []
    pos = 0
    for start, end, url in spans:
        if start >= cut:
            break
        if start < pos or end <= start:
            continue  # overlapping or empty: not what the parser writes
        href = safe_link(url, ("http", "https"))
        if href is None:
            continue
        end = min(end, cut)
        attrs = f'href="{attr_html(href)}"' + (' rel="noopener"' if rel else "")
        out.append(f"{escape(shown[pos:start])}<a {attrs}>{escape(shown[start:end])}</a>")
        pos = end
    out.append(escape(shown[pos:]))
    return "".join(out)


def first_sentences(text: str, count: int = 2, limit: int = 320) -> str:
    """The first sentences of a text (an abstract's gist), at most `limit` characters."""
    parts = [part for part in _SENTENCE_END.split(text.strip()) if part]
    return shorten(" ".join(parts[:count]).strip() if parts else "", limit)


@dataclass(frozen=True, slots=True)
class EntryView:
    """What a reader is shown of one entry."""

    entry: Entry
    card: Card | None = None
    health: LinkHealth | None = None

    @property
    def title(self) -> str:
        return self.entry.title or self.entry.url

    @property
    def link(self) -> str | None:
        return safe_link(self.entry.url, ("http", "https"))

    @property
    def section(self) -> str:
        return section_label([self.entry.section])

    def authors(self, most: int = AUTHORS_SHOWN) -> str:
        """ "A, B, C et al." (at most `most` names)."""
        names: Sequence[str] = self.card.authors if self.card else ()
        shown = ", ".join(names[:most])
        return shown + (" et al." if len(names) > most else "")

    def abstract(self) -> str:
        """The card's abstract (or the page's description), else nothing."""
        if self.card is None or self.card.abstract == self.entry.description:
            return ""
        return self.card.abstract

    def facts(self, lang: str) -> list[str]:
        """Short facts: date, venue or category, stars and language, archived."""
        card = self.card
        if card is None:
            return []
        out = []
        if card.published:
            key = "card_pushed" if card.source == "github" else "card_published"
            out.append(t(lang, key, date=card.published))
        if card.venue:
            out.append(card.venue)
        if card.stars is not None:
            out.append(f"★ {card.stars:,}")
        if card.archived:
            out.append(t(lang, "card_archived"))
        return out

    def links(self, lang: str) -> list[tuple[str, str]]:
        """(label, URL) of the paper's PDF and code, when known and not the entry's link."""
        out = []
        card = self.card
        if card is not None:
            for key, url in (("card_pdf", card.pdf), ("card_code", card.code)):
                if url and url != self.entry.url and safe_link(url, ("http", "https")):
                    out.append((t(lang, key), url))
        return out

    def broken(self, lang: str) -> str:
        """ "broken since 2026-11-20" when the link is broken, else ""."""
        if self.health is None or self.health.status != "broken":
            return ""
        return t(lang, "card_broken", date=self.health.since[:10])

    def moved_to(self) -> str | None:
        """Where a permanently redirected link now points."""
        if self.health is not None and self.health.status == "redirected":
            return safe_link(self.health.target or "", ("http", "https"))
        return None

    def card_html(self, lang: str = "en", abstract_limit: int = 1200) -> str:
        """The card as HTML paragraphs (feeds and the page): authors, abstract, facts, links."""
        parts = []
        if authors := self.authors():
            parts.append(f'<p class="authors">{text_html(authors)}</p>')
        if abstract := self.abstract():
            parts.append(f'<p class="abstract">{text_html(shorten(abstract, abstract_limit))}</p>')
        facts = [text_html(fact) for fact in self.facts(lang)]
        facts += [link_html(url, label) for label, url in self.links(lang)]
        if facts:
            parts.append(f'<p class="facts">{" · ".join(facts)}</p>')
        return "".join(parts)


def entry_html(
    entry: Entry,
    list_name: str | None = None,
    added: str | None = None,
    lang: str = "en",
    description_limit: int = 200,
    card: Card | None = None,
    abstract: bool = False,
    section: bool = True,
) -> tuple[str, str]:
    """Return an entry as Telegram HTML and as the plain text Telegram will count: title
    link, list · section · date, the card's authors, the description, and with `abstract`
    the first sentences of the abstract. section=False: the message heads its section."""
    view = EntryView(entry, card)
    # Every part is bounded, so one entry always fits a message (a 5,000-character title
    # must not make a reply or a push impossible to send).
    title = shorten(view.title, TITLE_LIMIT)
    meta = [part for part in (list_name, view.section if section else "") if part]
    if added:
        meta.append(t(lang, "added", date=added[:10]))
    link = view.link
    if link is None:  # javascript:, tg:, relative…: shown as text, never as a link
        html_text = f"• {telegram_html(title)}"
    else:
        html_text = "• " + telegram_link(link, telegram_html(title))
    plain = f"• {title}"
    lines = []  # (plain text, its HTML)
    if meta:
        line = shorten(" · ".join(meta), META_LIMIT)
        lines.append((line, f"<i>{telegram_html(line)}</i>"))
    if authors := view.authors():
        line = "👤 " + shorten(authors, META_LIMIT)
        lines.append((line, telegram_html(line)))
    if entry.description and description_limit:
        shown = linked_html(
            entry.description, entry.text_links, description_limit, telegram_html, rel=False
        )
        lines.append((shorten(entry.description, description_limit), shown))
    if abstract and (gist := first_sentences(view.abstract())):
        lines.append((gist, telegram_html(gist)))
    for line, shown in lines:
        html_text += "\n" + shown
        plain += "\n" + line
    return html_text, plain


def section_label(sections: Sequence[Sequence[str]]) -> str:
    """Every heading path an entry stands under, as every output writes it: "A › B | C"."""
    return " | ".join(" › ".join(section) for section in sections if section)
