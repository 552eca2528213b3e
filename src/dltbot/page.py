"""The HTML pages: small, no JavaScript, readable on a phone, every value escaped."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from .feed import period_key
from .models import FeedEvent, FollowUp, ListState, StoredEntry
from .papers import coins
from .present import paths
from .present.catalogue import t
from .present.links import Links, doi_url
from .present.view import EntryView, linked_html, section_label
from .present.view import attr_html as escape  # the one escaping rule (view.py)
from .untrusted import redact, xml_safe
from .urls import safe_link

_STYLE = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI","PingFang SC","Noto Sans CJK SC",sans-serif;
margin:0 auto;max-width:46rem;padding:0 1rem 3rem;color:#1b1f23;background:#fff;
overflow-wrap:anywhere}
header{padding:1rem 0;border-bottom:1px solid #ddd}h1{font-size:1.4rem;margin:.2rem 0}
h2{font-size:1.2rem;margin:2rem 0 .3rem}h3{font-size:.95rem;color:#57606a;margin:1.2rem 0 .3rem}
ul{padding-left:1.1rem;margin:.2rem 0}li{margin:.45rem 0}a{color:#0550ae}
.section{color:#57606a;font-size:.85rem}.desc{margin:.1rem 0;font-size:.9rem;color:#333}
.meta{color:#57606a;font-size:.85rem}.feeds{display:flex;flex-wrap:wrap;gap:.1rem .7rem}
.feeds a{white-space:nowrap}
form{display:flex;gap:.4rem;margin:.8rem 0}input[type=search]{flex:1;font-size:1rem;padding:.4rem;
min-width:0}button{font-size:1rem;padding:.4rem .8rem}.failing,.broken{color:#a40e26}
.authors{margin:.1rem 0;font-size:.85rem;color:#57606a}.abstract{margin:.1rem 0;font-size:.85rem}
.facts{margin:.1rem 0;font-size:.8rem;color:#57606a}.broken{font-size:.85rem}
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}a{color:#58a6ff}
.desc{color:#c9d1d9}.section,.meta,h3{color:#8b949e}}
"""


_KINDS = (
    ("application/atom+xml", ".atom", ""),
    ("application/rss+xml", ".rss", " (RSS)"),
    ("application/feed+json", ".json", " (JSON Feed)"),
)


def _t(lang: str, key: str, **values: object) -> str:
    """A catalogue string (shared with the bot); trusted HTML, values escaped by the caller."""
    return t(lang, key, **values)


def _head(title: str, feeds: Sequence[tuple[str, str]], lang: str = "en") -> str:
    # Autodiscovery: every feed as Atom; the live feeds also as RSS 2.0 and JSON Feed.
    links = "".join(
        f'<link rel="alternate" type="{kind}" title="{escape(t + label)}" '
        f'href="{escape(u.removesuffix(".atom") + ext)}">'
        for t, u in feeds
        for kind, ext, label in _KINDS
        if ext == ".atom" or u.endswith("/feed.atom")
    )
    return (
        f'<!doctype html><html lang="{"zh-Hans" if lang == "zh" else "en"}"><head>'
        '<meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>{links}<style>{_STYLE}</style></head><body>"
    )


def _search_form(base: str, q: str = "", lang: str = "en", static: bool = False) -> str:
    label = _t(lang, "page_search_label")
    placeholder = label if lang == "zh" else f"{label} · 搜索"  # a Chinese reader finds it too
    hidden = '<input type="hidden" name="lang" value="zh">' if lang == "zh" else ""
    return (
        # A static export has no server to ask: its form goes to search.html, which searches
        # search-index.json in the browser.
        f'<form action="{escape(base + (paths.STATIC_SEARCH if static else paths.SEARCH))}" '
        'method="get" '
        'role="search">'
        f'<input type="search" name="q" value="{escape(q)}" placeholder="{placeholder}" '
        f'aria-label="{label}">{hidden}<button>{_t(lang, "page_search")}</button></form>'
    )


def _feed_row(*links: tuple[str, str]) -> str:
    """A row of feed links that wraps between links on a narrow screen (never one long
    unbreakable run: a phone must not scroll sideways)."""
    return '<div class="feeds">' + " ".join(_a(href, label) for href, label in links) + "</div>"


def _a(href: str, label: str) -> str:
    """A link to one of our own documents (label: trusted catalogue text)."""
    return f'<a href="{escape(href)}">{label}</a>'


def _link(url: str, text: str) -> str:
    href = safe_link(url)
    if href is None:
        return escape(text)
    return f'<a href="{escape(href)}" rel="noopener">{escape(text)}</a>'


def _whole_days(events: Sequence[FeedEvent], limit: int) -> tuple[Sequence[FeedEvent], bool]:
    """Keep at most `limit` events, and only whole days: when older ones exist (more than
    `limit` were given), the oldest day shown may be cut short, so it is left out — unless it
    is the only day. Return the events kept and whether older ones exist."""
    if len(events) <= limit:
        return events, False
    kept = list(events[:limit])
    cut = period_key(kept[-1].commit.date, "daily")
    whole = [e for e in kept if period_key(e.commit.date, "daily") != cut]
    return (whole or kept), True


def _never_synced(repo: str, error: str, lang: str) -> str:
    """What a reader sees for a list that has never synced: the cause and what to do."""
    never = _t(lang, "page_never", repo=repo, error=escape(redact(error)))
    return f'<p class="failing">{never}</p><p class="meta">{_t(lang, "page_never_help")}</p>'


def _header(links: Links, lang: str, static: bool, title: str | None = None) -> str:
    """The page's header: its title (a list page's links home), the search box, the feeds."""
    heading = _t(lang, "page_title")
    if title is not None:  # a list's own page
        home = "../../" if static else links.page()
        heading = f"{_a(home, heading)} › {escape(title)}"
    out = [f"<header><h1>{heading}</h1>"]
    # A static export's form goes to its search.html beside the page, wherever it is served.
    out.append(_search_form(("../.." if title else ".") if static else links.base,
                            lang=lang, static=static))  # fmt: skip
    out.append(
        _feed_row(
            (links.feed(None), _t(lang, "page_all_feed")), (links.feed(None, "rss"), "RSS"),
            (links.feed(None, "json"), "JSON Feed"), (links.opml(), "OPML"),
        ) + "</header>"
    )  # fmt: skip
    return "".join(out)


def index_page(
    lists: Sequence[tuple[ListState, int, Sequence[FeedEvent]]],
    feeds: Sequence[tuple[str, str]],
    links: Links,
    limit: int = 50,
    lang: str = "en",
    static: bool = False,
    news: Mapping[str, Sequence[FollowUp]] | None = None,
    title: str | None = None,
) -> str:
    """Return the front page of a few lists, or (with its name as `title`) a list's own
    page: per list, the latest additions grouped by whole days (a paper's news beside it)."""
    out = [_head(title or _t(lang, "page_title"), feeds, lang)]
    out.append(_header(links, lang, static, title))
    if not lists:
        out.append(f"<p>{_t(lang, 'page_none')}</p>")
    for state, count, events in lists:
        out.append(_list_section(state, count, events, links, limit, lang, news))
    out.append("</body></html>\n")
    return xml_safe("".join(out))  # rows stored before ingest cleaned them


def _list_section(
    state: ListState,
    count: int,
    events: Sequence[FeedEvent],
    links: Links,
    limit: int,
    lang: str,
    news: Mapping[str, Sequence[FollowUp]] | None,
) -> str:
    """One list: what it is, its feeds, its latest additions by day."""
    name = state.name
    out = []
    status = ""
    if state.status == "failing":
        error = escape(redact(state.last_error or ""))
        status = f' <span class="failing">{_t(lang, "page_failing", error=error)}</span>'
    out.append(f'<section id="list-{escape(name)}"><h2>{escape(name)}</h2>')
    repo = redact(state.repo)  # credentials in a configured URL are never shown
    shown = (
        f'<a href="{escape(repo)}" rel="noopener">{escape(repo)}</a>'
        if safe_link(repo)
        else escape(repo)
    )
    if state.left_at:
        left = _t(lang, "page_left", meta=escape(state.meta or ""), date=state.left_at[:10])
        out.append(f'<p class="meta">{left}</p>')
    if state.head is None and state.status == "failing":
        out.append(_never_synced(shown, state.last_error or "", lang))
        out.append("</section>")
        return "".join(out)
    origin = ""
    if state.meta:  # the list of lists it came from, linked
        meta = _a(links.list_page(state.meta), escape(state.meta))
        origin = f" · {_t(lang, 'page_from', meta=meta)}"
    count_said = _t(lang, "page_entries", n=count)
    out.append(f'<p class="meta">{count_said} · {shown}{origin}{status}</p>')
    out.append(
        _feed_row(
            (links.feed(name), _t(lang, "page_feed")), (links.feed(name, "rss"), "RSS"),
            (links.feed(name, "json"), "JSON Feed"),
            (links.digest(name, "daily"), _t(lang, "page_daily")),
            (links.digest(name, "weekly"), _t(lang, "page_weekly")),
            (links.updates(name), _t(lang, "page_updates")),
            (links.bib(name), "BibTeX"),
        )
    )  # fmt: skip
    shown_events, older = _whole_days(events, limit)
    out.append(_by_day(shown_events, lang, news))
    if older:
        daily = _a(links.digest(name, "daily"), _t(lang, "page_daily"))
        archive = _a(links.feed(name), _t(lang, "page_archive"))
        out.append(f'<p class="meta">{_t(lang, "page_older", daily=daily, archive=archive)}</p>')
    out.append("</section>")
    return "".join(out)


def _by_day(
    events: Sequence[FeedEvent],
    lang: str,
    news: Mapping[str, Sequence[FollowUp]] | None,
    list_href: Callable[[str], str] | None = None,
) -> str:
    """Additions under a heading per day (with `list_href`, each links its list's page)."""
    out = []
    day = None
    for event in events:
        key = period_key(event.commit.date, "daily")
        if key != day:
            if day is not None:
                out.append("</ul>")
            out.append(f"<h3>{escape(key)}</h3><ul>")
            day = key
        view = EntryView(event.entry, event.card, event.link)
        said = _news_html((news or {}).get(event.entry.identity, ()), lang)
        if list_href is not None:
            said = f'<p class="meta">{_a(list_href(event.list), escape(event.list))}</p>' + said
        out.append(_entry_item(view, lang, news=said))
    if day is not None:
        out.append("</ul>")
    return "".join(out)


def front_page(
    lists: Sequence[tuple[ListState, int]],
    total: int,
    pager: tuple[int, int],
    events: Sequence[FeedEvent],
    feeds: Sequence[tuple[str, str]],
    links: Links,
    lang: str = "en",
    static: bool = False,
    news: Mapping[str, Sequence[FollowUp]] | None = None,
    page_href: Callable[[int], str] | None = None,
    find: str = "",
    found: int | None = None,
) -> str:
    """Return the front page of many lists: the latest additions across all of them, then
    one page of the index of lists (`pager`: this page's number and how many there are;
    `page_href` builds the link to another page; `find`: the words the index was narrowed
    to, `found` lists holding them), each a line linking its own page."""

    def href(name: str) -> str:
        # A static export's links are relative: it works wherever it is served.
        return paths.list_page(name).lstrip("/") if static else links.list_page(name)

    out = [_head(_t(lang, "page_title"), feeds, lang), _header(links, lang, static)]
    number, pages = pager
    if number == 1:  # the other pages of the index are the index alone
        out.append(f'<p class="meta">{_a("#lists", _t(lang, "page_lists", n=total))} ↓</p>')
        out.append(f"<h2>{_t(lang, 'page_latest')}</h2>")
        out.append(_by_day(events, lang, news, href) or f"<p>{_t(lang, 'page_none')}</p>")
    out.append(f'<h2 id="lists">{_t(lang, "page_lists", n=total)}</h2>')
    if not static:  # a static export has no server to narrow it (the browser's find does)
        label = _t(lang, "page_find_list")
        out.append(
            f'<form action="{escape(links.page())}#lists" method="get" role="search">'
            f'<input type="search" name="lists" value="{escape(find)}" aria-label="{label}" '
            f'placeholder="{label}"><button>{_t(lang, "page_find")}</button></form>'
        )
    if find:
        said = _t(lang, "page_found_lists", n=found, q=escape(find))
        out.append(f'<p class="meta">{said}</p>')
    out.append("<ul>")
    for state, count in lists:
        facts = [_t(lang, "page_entries", n=count)]
        if state.last_success_at:
            facts.append(state.last_success_at[:10])
        if state.meta:
            facts.append(_t(lang, "page_from", meta=escape(state.meta)))
        if state.left_at:
            facts.append(_t(lang, "page_left", meta=escape(state.meta or ""),
                            date=state.left_at[:10]))  # fmt: skip
        if state.status == "failing":
            facts.append(f'<span class="failing">{_t(lang, "page_failing_short")}</span>')
        out.append(f'<li>{_a(href(state.name), escape(state.name))} <span class="meta">'
                   f"{' · '.join(facts)}</span></li>")  # fmt: skip
    out.append("</ul>")
    if pages > 1 and page_href is not None:
        moves = []
        if number > 1:
            moves.append(_a(page_href(number - 1), _t(lang, "page_previous")))
        moves.append(_t(lang, "page_of", n=number, total=pages))
        if number < pages:
            moves.append(_a(page_href(number + 1), _t(lang, "page_next")))
        out.append(f'<p class="meta">{" · ".join(moves)}</p>')
    out.append("</body></html>\n")
    return xml_safe("".join(out))


def _news_html(news: Sequence[FollowUp], lang: str) -> str:
    """A paper's news, one line: "🆕 v4 (2024-06-01) · published: DOI … · code"."""
    parts = []
    for item in news[:5]:
        if item.kind == "revised":
            date = f" ({item.detail.get('date')})" if item.detail.get("date") else ""
            parts.append(escape(_t(lang, "news_revised", version=item.value) + date))
        elif item.kind == "published":
            parts.append(_link(doi_url(item.value), _t(lang, "news_published")))
        else:
            parts.append(_link(item.value, _t(lang, "news_code")))
    return f'<p class="meta">🆕 {" · ".join(parts)}</p>' if parts else ""


def _entry_item(view: EntryView, lang: str, section: str | None = None, news: str = "") -> str:
    """An entry with its card: title, section, description, authors, abstract, facts, and
    its paper's news (trusted HTML from _news_html)."""
    parts = [f"<li>{_link(view.entry.url, view.title)}"]
    if broken := view.broken(lang):
        parts.append(f' <span class="broken">⚠ {escape(broken)}</span>')
    elif moved := view.moved_to():
        parts.append(f' <span class="meta">{_t(lang, "card_moved")} {_link(moved, moved)}</span>')
    section = view.section if section is None else section
    if section:
        parts.append(f' <span class="section">{escape(section)}</span>')
    if view.entry.description:
        shown = linked_html(view.entry.description, view.entry.text_links, 220, escape)
        parts.append(f'<p class="desc">{shown}</p>')
    parts.append(view.card_html(lang, abstract_limit=300))
    parts.append(news)
    if context := coins(view.entry.url, view.card):  # a reference manager saves it from here
        parts.append(f'<span class="Z3988" title="{escape(context)}"></span>')
    parts.append("</li>")
    return "".join(parts)


def search_page(
    q: str,
    results: Sequence[tuple[StoredEntry, Sequence[StoredEntry]]],
    links: Links,
    lang: str = "en",
    problem: str = "",
) -> str:
    """Return the search results page (with `problem`: the form and what was wrong)."""
    title = _t(lang, "page_search_title", q=q) if q else _t(lang, "page_search")
    out = [_head(title, [], lang)]
    out.append(f"<header><h1>{_a(links.page(), _t(lang, 'page_title'))}</h1>")
    out.append(_search_form(links.base, q, lang) + "</header>")
    if problem:
        said = _t(lang, "page_bad_query", problem=escape(problem))
        out.append(f'<p class="failing" role="alert">{said}</p>')
    elif not q:
        out.append(f'<p class="meta">{_t(lang, "page_hint")}</p>')
    if q and not results:
        out.append(f"<p>{_t(lang, 'page_no_match', q=escape(q))}</p>")
    if results:
        found = _t(lang, "page_results", n=len(results), q=escape(q))
        out.append(f'<p class="meta">{found}</p><ul>')
        for result, others in results:
            entry = result.entry
            # Every section the entry stands in, "A › B | C".
            label = section_label(entry.all_sections)
            view = EntryView(entry, result.card, result.link)
            out.append(_entry_item(view, lang, label)[:-5])
            added = _t(lang, "page_added", date=escape(result.first_date[:10]))
            out.append(f'<p class="meta">{escape(result.list)} · {added}</p>')
            if others:  # the same paper, linked from other lists or sections
                where = "; ".join(
                    escape(section_label([[o.list, *o.entry.section]])) for o in others[:10]
                )
                out.append(f'<p class="meta">{_t(lang, "page_also", where=where)}</p>')
            out.append("</li>")
        out.append("</ul>")
    out.append("</body></html>\n")
    return xml_safe("".join(out))  # rows stored before ingest cleaned them


def static_search_page(lang: str = "en") -> str:
    """Return search.html of a static export: the form, and a script that searches
    search-index.json (every current entry) in the browser by the server's rule. Every link
    is relative: the export works wherever it is served, whatever base URL it was written for."""
    out = [_head(_t(lang, "page_search"), [], lang)]
    out.append(f"<header><h1>{_a('./', _t(lang, 'page_title'))}</h1>")
    out.append(_search_form(".", "", lang, static=True) + "</header>")
    # What the script says, in the page's language ({n}, {q} filled in by it).
    said = {
        "results": _t(lang, "page_results", n="{n}", q="{q}"),
        "none": _t(lang, "page_no_match", q="{q}"),
        "failed": _t(lang, "page_index_failed"),
    }
    data = "".join(f' data-{key}="{escape(value)}"' for key, value in said.items())
    out.append(f'<p class="meta" id="status"{data}>{_t(lang, "page_hint")}</p>')
    out.append('<ul id="results"></ul><script src="search.js" defer></script></body></html>\n')
    return "".join(out)


# The browser side of the static search. Every value from the index is set as text (never
# HTML), and links were filtered to http(s)/mailto when the index was written. The matching is
# the server's: every word, case-folded, in the title, the sections or the description (so
# two-character Chinese words match as substrings); title hits first (exact, prefix, whole
# words, inside words). `search` is exported for a test under node.
SEARCH_JS = r"""
"use strict";
// Case folding as Python's str.casefold(): lowercase, then the few characters whose folding
// is not their lowercase (ß → ss, ς → σ, …), from the index's table.
function fold(text, table) {
  let out = "";
  for (const ch of text) out += table[ch] !== undefined ? table[ch] : ch.toLowerCase();
  return out;
}
function rank(title, query, words) {
  if (title === query) return 0;
  if (title.startsWith(query)) return 1;
  if (words.every((w) => title.includes(w))) {
    const whole = new Set(title.split(/[^\p{L}\p{N}_]+/u));
    return words.every((w) => whole.has(w)) ? 2 : 3;
  }
  return 4;
}
// The server's one rule: every word, case-folded, a substring of the entry's case-folded
// title, description, headings or card (the index's `m`); title hits first, newest next.
function search(index, q) {
  const words = q.split(/\s+/).filter(Boolean).map((w) => fold(w, index.fold)).filter(Boolean);
  if (!words.length) return [];
  const query = words.join(" ");
  const hits = [];
  for (const [list, title, url, sections, description, added, m] of index.entries) {
    if (words.every((w) => m.includes(w))) {
      const r = rank(fold(title, index.fold), query, words);
      hits.push({ list, title, url, sections, description, added, r });
    }
  }
  hits.sort((a, b) => a.r - b.r || (a.added < b.added ? 1 : a.added > b.added ? -1 : 0));
  return hits;
}
if (typeof module !== "undefined") module.exports = { search, fold };
if (typeof document !== "undefined") {
  const q = new URLSearchParams(location.search).get("q") || "";
  const box = document.querySelector("input[name=q]");
  if (box) box.value = q;
  const status = document.getElementById("status");
  const list = document.getElementById("results");
  const say = (key, n) => status.dataset[key].replace("{n}", n).replace("{q}", q.trim());
  if (q.trim()) {
    // Beside this page, wherever the export is served.
    fetch(new URL("search-index.json", location.href))
      .then((r) => {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then((index) => {
        const hits = search(index, q);
        status.textContent = hits.length ? say("results", hits.length) : say("none", 0);
        for (const hit of hits.slice(0, 100)) {
          const li = document.createElement("li");
          const a = document.createElement(hit.url ? "a" : "span");
          if (hit.url) { a.href = hit.url; a.rel = "noopener"; }
          a.textContent = hit.title;
          li.append(a);
          if (hit.sections) {
            const s = document.createElement("span");
            s.className = "section";
            s.textContent = " " + hit.sections;
            li.append(s);
          }
          if (hit.description) {
            const p = document.createElement("p");
            p.className = "desc";
            p.textContent = hit.description;
            li.append(p);
          }
          const meta = document.createElement("p");
          meta.className = "meta";
          meta.textContent = hit.list + " · " + hit.added;
          li.append(meta);
          list.append(li);
        }
      })
      .catch((error) => { status.textContent = say("failed", 0) + " (" + error.message + ")"; });
  }
}
"""
