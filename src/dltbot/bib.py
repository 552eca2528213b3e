"""BibTeX of a list's papers, for a reference manager (the only bibtexparser user).

One record per paper (papers.group: an arXiv link and its published DOI are one), with a stable
citation key in the usual style (`vaswani2017attention`, then `…a`, `…b` when taken): arXiv
papers as `@article` with `eprint`, `archivePrefix` and `primaryClass`; a venue that is a
conference as `@inproceedings` (`booktitle`), else `@article` (`journal`); an entry that is not
a paper, or whose record is not known yet, as `@misc` with `url` and `howpublished`. Every value
is untrusted text, escaped so that no brace, backslash or percent sign can break the file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from bibtexparser.entrypoint import parse_string, write_string
from bibtexparser.library import Library
from bibtexparser.model import Entry as BibEntry
from bibtexparser.model import Field

from .models import StoredEntry
from .papers import Paper, group, keys_of

_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%", "$": r"\$",
    "#": r"\#", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}  # fmt: skip
_STOP = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "towards",
         "toward", "via", "is", "are", "from", "by", "at", "as", "how", "what", "why",
         "do", "does"}  # fmt: skip
_CONFERENCE = re.compile(
    r"proceedings|conference|workshop|symposium|neurips|nips|icml|iclr|cvpr|iccv|eccv|"
    r"aaai|ijcai|colt|aistats|uai|acl|emnlp|naacl|kdd|sigir|www",
    re.IGNORECASE,
)


def escape(text: str) -> str:
    """A value BibTeX reads back as the same text (controls gone, specials escaped)."""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return "".join(_SPECIAL.get(ch, ch) for ch in " ".join(text.split()))


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def citation_key(authors: Sequence[str], year: str, title: str) -> str:
    """`vaswani2017attention`: first author's family name, year, first word that says
    something (ASCII; a name or title in another script gives way to what is left)."""
    family = ""
    if authors:
        name = authors[0]  # "Ashish Vaswani" or "Vaswani, Ashish"
        family = _ascii_word(name.split(",")[0] if "," in name else (name.split() or [""])[-1])
    words = [_ascii_word(w) for w in re.split(r"[\s\-:/]+", title)]
    word = next((w for w in words if w and w not in _STOP), "")
    if not family:  # a key starts with a letter: "sphere2026", not "2026sphere"
        return (word + year) if word else f"entry{year}"
    return family + year + word


def _fields(pairs: Sequence[tuple[str, str]]) -> list[Field]:
    return [Field(name, value) for name, value in pairs if value]


def _paper_entry(paper: Paper, key: str) -> BibEntry:
    card = paper.card
    url = paper.entries[0].entry.url
    if card is None:  # keyed by its link, its record not fetched yet
        return _misc(paper.entries[0], key)
    pairs = [
        ("title", "{" + escape(paper.title) + "}"),
        ("author", " and ".join(escape(a) for a in card.authors)),
        ("year", paper.year),
    ]
    kind = "article"
    if paper.arxiv and card.source == "arxiv":
        # A preprint's journal as Google Scholar writes it (biblatex wants one in @article).
        pairs += [("journal", f"arXiv preprint arXiv:{escape(paper.arxiv)}"),
                  ("eprint", escape(paper.arxiv)), ("archivePrefix", "arXiv")]  # fmt: skip
        if card.venue:
            pairs.append(("primaryClass", escape(card.venue)))
    elif card.venue:
        if _CONFERENCE.search(card.venue):
            kind = "inproceedings"
            pairs.append(("booktitle", escape(card.venue)))
        else:
            pairs.append(("journal", escape(card.venue)))
    doi = paper.doi or (f"10.48550/arXiv.{paper.arxiv}" if paper.arxiv else "")
    pairs += [("doi", escape(doi)), ("url", escape(url))]
    return BibEntry(kind, key, _fields(pairs))


def _misc(stored: StoredEntry, key: str) -> BibEntry:
    url = escape(stored.entry.url)
    pairs = [
        ("title", "{" + escape(stored.entry.title) + "}"),
        ("howpublished", f"\\url{{{url}}}"),
        ("url", url),
        ("year", stored.first_date[:4]),
        ("note", escape(f"In {stored.list}: {stored.entry.description[:300]}".strip())),
    ]
    return BibEntry("misc", key, _fields(pairs))


def bibtex(entries: Sequence[StoredEntry]) -> str:
    """The BibTeX of entries, in list order: each paper once (however many entries link it),
    an entry whose page described itself (a card) as that record, the rest as @misc."""
    firsts = {id(p.entries[0]): p for p in group(entries)}
    taken: set[str] = set()
    library = Library()
    for stored in entries:
        paper = firsts.get(id(stored))
        if paper is None and keys_of(stored.entry.url, stored.card):
            continue  # a later entry of a paper already written
        if paper is None and stored.card is not None and stored.card.title:
            paper = Paper(stored.entry.url, [], [stored])  # not a paper link, but it says
        card = paper.card if paper is not None else None
        title = paper.title if paper is not None else stored.entry.title
        year = (paper.year if paper is not None else "") or stored.first_date[:4]
        base = citation_key(card.authors if card else (), year, title)
        key = next((k for k in (base, *(base + c for c in "abcdefghijklmnopqrstuvwxyz"))
                    if k not in taken), f"{base}{len(taken)}")  # fmt: skip
        taken.add(key)
        library.add(_paper_entry(paper, key) if paper is not None else _misc(stored, key))
    return str(write_string(library))


def parse(text: str) -> list[dict[str, str]]:
    """Read BibTeX back (tests, and a check that what was written is well formed): each
    entry's type, key and fields; raises ValueError on a block it cannot read."""
    library = parse_string(text)
    if library.failed_blocks:
        raise ValueError(f"unreadable BibTeX: {library.failed_blocks[0]}")
    return [
        {"ENTRYTYPE": e.entry_type, "ID": e.key, **{f.key: str(f.value) for f in e.fields}}
        for e in library.entries
    ]
