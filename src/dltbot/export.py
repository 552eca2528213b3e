"""`dltbot export`: the site's documents as static files, for any static host."""

from __future__ import annotations

from pathlib import Path

from .errors import DltbotError
from .site import Site


def export_site(site: Site, out: Path) -> int:
    """Write the page, OPML, every feed, digest and archive page under out; return the count."""
    documents = {
        "index.html": site.index(),
        "feeds.opml": site.opml(),
        "feed.atom": site.feed(None),
    }
    for number in range(site.archive_count(None)):
        documents[f"archive/{number}.atom"] = site.archive(None, number)
    for state in site.lists():
        prefix = f"lists/{state.name}"
        documents[f"{prefix}/feed.atom"] = site.feed(state.name)
        documents[f"{prefix}/daily.atom"] = site.digest(state.name, "daily")
        documents[f"{prefix}/weekly.atom"] = site.digest(state.name, "weekly")
        for number in range(site.archive_count(state.name)):
            documents[f"{prefix}/archive/{number}.atom"] = site.archive(state.name, number)
    try:
        for name, document in documents.items():
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(document.body)
    except OSError as error:
        raise DltbotError(f"--out {out}: cannot write: {error.strerror or error}") from error
    return len(documents)
