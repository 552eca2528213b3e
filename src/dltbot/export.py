"""`dltbot export`: the site's documents as static files, for any static host or CDN."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import DltbotError
from .page import SEARCH_JS, static_search_page
from .present import links, paths
from .site import HTML, Document, Site


def export_site(site: Site, out: Path) -> tuple[int, int]:
    """Write the page, OPML, every feed (Atom, RSS, JSON Feed), digest and archive page under
    out; return how many files were written and how many were already up to date."""
    documents: dict[str, Document] = {
        paths.INDEX: site.index(static=True),
        paths.OPML: site.opml(),
        # Search without a server: the page, its script and every entry as JSON.
        paths.STATIC_SEARCH: Document(static_search_page().encode(), HTML),
        paths.STATIC_SEARCH_JS: Document(SEARCH_JS.lstrip().encode(), "text/javascript"),
        paths.STATIC_SEARCH_INDEX: site.search_index(),
    }
    for number in range(2, site.index_pages() + 1):  # the index of many lists, paged
        documents[paths.index_page(number)] = site.index(static=True, number=number)
    for name in [None, *(state.name for state in site.lists())]:
        if name is not None:  # its own page
            documents[paths.list_page(name)] = site.list_page(name, static=True)
        for ref in links.documents(name):  # the registry: what the server serves, written
            if ref.kind == "digest":
                assert ref.list_name is not None and ref.period is not None
                documents[ref.path] = site.digest(ref.list_name, ref.period, ref.fmt)
            elif ref.kind == "updates":
                assert ref.list_name is not None
                documents[ref.path] = site.updates(ref.list_name, ref.fmt)
            else:
                documents[ref.path] = site.feed(ref.list_name, fmt=ref.fmt)
        if name is not None:  # BibTeX for a reference manager, as the server has it
            documents[paths.bib(name)] = site.bib(name)
        for number in range(site.archive_count(name)):
            documents[paths.archive(name, number)] = site.archive(name, number)
    written = 0
    try:
        for name, document in documents.items():
            written += _write_if_changed(out / paths.file_name(name), document.body)
    except OSError as error:
        raise DltbotError(f"--out {out}: cannot write: {error.strerror or error}") from error
    return written, len(documents) - written


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write a file only if its bytes change, through a temporary file renamed into place: a
    web server never serves half a file, and rsync or an object-store sync uploads only what
    changed (unchanged files keep their modification time)."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temp, 0o644)  # served files: readable by the web server
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return True
