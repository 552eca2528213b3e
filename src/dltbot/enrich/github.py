"""GitHub repositories: description, stars, language, archived, last push, from the REST API.

Requests are conditional (If-None-Match with the last ETag): GitHub does not count a 304
against the rate limit, so weekly re-checks cost nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from ..models import Card
from ..untrusted import clean_line
from ..urls import safe_link

_HOSTS = {"github.com", "www.github.com"}
_PART = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
# First path parts that are GitHub's own pages, not owners.
_RESERVED = {
    "about", "apps", "collections", "customer-stories", "enterprise", "events", "explore",
    "features", "issues", "login", "marketplace", "notifications", "orgs", "pricing", "pulls",
    "search", "settings", "site", "sponsors", "topics", "trending", "users",
}  # fmt: skip


def repo_of(url: str) -> str | None:
    """Return "owner/name" when the URL is a repository's home page."""
    parts = urlsplit(url)
    if parts.hostname not in _HOSTS or parts.query:
        return None
    path = [part for part in parts.path.split("/") if part]
    if len(path) != 2 or path[0].lower() in _RESERVED:
        return None
    owner, name = path[0], path[1].removesuffix(".git")
    if not (_PART.match(owner) and _PART.match(name)) or {owner, name} & {".", ".."}:
        return None  # never a path that walks the API (`/repos/../…`)
    return f"{owner}/{name}"


def api_headers(token: str | None, etag: str | None) -> dict[str, str]:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if etag:
        headers["If-None-Match"] = etag
    return headers


def card_from_api(body: bytes) -> Card | None:
    """Read a /repos/{owner}/{repo} answer."""
    try:
        data: Any = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("full_name"), str):
        return None
    stars = data.get("stargazers_count")
    return Card(
        source="github",
        title=clean_line(data["full_name"], 200),
        abstract=clean_line(str(data.get("description") or ""), 2000),
        published=clean_line(str(data.get("pushed_at") or ""), 40)[:10],
        venue=clean_line(str(data.get("language") or ""), 60),
        code=safe_link(str(data.get("html_url") or ""), ("https",)),
        stars=stars if isinstance(stars, int) and not isinstance(stars, bool) else None,
        archived=data.get("archived") is True,
    )
