"""URL identity: two spellings of the same link are one entry."""

from __future__ import annotations

import functools
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from .untrusted import unsafe_char


def clean(raw: str) -> str:
    """Return a link destination as a reader should see it: trimmed, stray wrapping removed.

    Real lists hold `[t]((https://x))` (CommonMark reads the destination as `(https://x)`)
    and `[t](https://x )`; both mean https://x.
    """
    url = raw.strip()
    while len(url) >= 2 and url[0] + url[-1] in ("()", "<>"):
        url = url[1:-1].strip()
    if not url.isprintable() or not url.isascii():
        # Controls, bidi overrides, U+FFFF…: percent-encoded, so the link still works and no
        # feed, page or terminal receives the raw character.
        url = "".join(_encode_unsafe(ch) for ch in url)
    return url


def _encode_unsafe(ch: str) -> str:
    if not unsafe_char(ch):
        return ch
    if 0xD800 <= ord(ch) <= 0xDFFF:
        return ""  # a lone surrogate has no UTF-8 form
    return quote(ch, safe="")


def resolve(url: str, base: str | None) -> str:
    """Resolve a relative link against the list file's directory on its forge, if known."""
    if base is None or not url or url.startswith("#"):
        return url
    if url[:8].lower() == "https://" or url[:7].lower() == "http://":
        return url  # most links: no urlsplit needed
    if urlsplit(url).scheme:
        return url
    return urljoin(base, url)


@functools.lru_cache(maxsize=1 << 16)
def identity(url: str) -> str:
    """Return the identity of a URL: scheme-insensitive, lower-case host, no www., no utm_*."""
    url = clean(url)
    fast = _plain_identity(url)
    return fast if fast is not None else _identity(url)


def _plain_identity(url: str) -> str | None:
    """identity() of a plain http(s) URL (no query, fragment, port or user) without urlsplit.

    Most links are plain, and urlsplit is a third of a full parse's time; anything else takes
    the general path, and a test holds the two equal.
    """
    if url[:8].lower() == "https://":
        rest = url[8:]
    elif url[:7].lower() == "http://":
        rest = url[7:]
    else:
        return None
    if any(c in rest for c in "?#@[]\\:%;\t\n\r ") or not rest.isprintable():
        return None
    host, _, path = rest.partition("/")
    if not host:
        return None
    host = host.lower()
    if host.startswith("www."):
        host = host[4:]
    path = ("/" + path).rstrip("/")
    if host == "arxiv.org" and path.startswith("/pdf/"):
        return None
    return host + path


def _identity(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return url.lower()
    if not host:
        # mailto:, relative links without a forge, or odd strings: compare as written.
        return url.rstrip("/")
    if host.startswith("www."):
        host = host[4:]
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    if host == "arxiv.org" and path.startswith("/pdf/"):
        # arxiv.org/pdf/X and arxiv.org/pdf/X.pdf are the paper arxiv.org/abs/X.
        paper = path[len("/pdf/") :]
        path = "/abs/" + (paper[: -len(".pdf")] if paper.endswith(".pdf") else paper)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_")
    ]
    return urlunsplit(("", host, path, urlencode(query), parts.fragment))[2:]


def forge_web_url(remote: str) -> str | None:
    """Return the web page of a repository on a forge (https://host/owner/repo), if it has one."""
    remote = remote.strip()
    if "://" in remote:
        parts = urlsplit(remote)
        if parts.scheme not in ("https", "http", "ssh", "git") or not parts.hostname:
            return None
        host, path = parts.hostname, parts.path
    elif ":" in remote and "@" in remote.split(":", 1)[0]:
        # scp-style git@host:owner/repo.git
        user_host, path = remote.split(":", 1)
        host = user_host.split("@", 1)[1]
    else:
        return None  # a local path or bundle: no forge
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    if path.count("/") < 1:
        return None
    return f"https://{host.lower()}/{path}"


def blob_base(remote: str, branch: str, path: str) -> str | None:
    """Return the URL that relative links in the list file resolve against, on its forge."""
    web = forge_web_url(remote)
    if web is None:
        return None
    directory = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
    if "gitlab" in web:
        return f"{web}/-/blob/{branch}/{directory}"
    if "codeberg" in web or "gitea" in web:
        return f"{web}/src/branch/{branch}/{directory}"
    return f"{web}/blob/{branch}/{directory}"


def safe_link(url: str, schemes: tuple[str, ...] = ("http", "https", "mailto")) -> str | None:
    """Return url if a reader may follow it (absolute http, https or mailto), else None.

    The one rule for every output (page, feeds, Telegram, JSON): javascript:, data:, file:,
    tg: and relative links are shown as text, never as links. Telegram gets http(s) only.
    """
    scheme = urlsplit(url).scheme.lower() if "://" in url or url.startswith("mailto:") else ""
    if scheme not in schemes or len(url) > 2048:
        return None
    return url if url.isprintable() else None
