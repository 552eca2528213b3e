"""Push webhooks from GitHub, GitLab and Gitea/Forgejo: verified, matched to a list. Pure.

Everything in a request is untrusted until its signature checks: the body is read (capped)
before anything else, compared in constant time, and only then parsed. A verified push names
a list (by `?list=` or by its repository URLs) and a branch; the service syncs that list.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .models import ListSource
from .untrusted import clean_line

Forge = Literal["github", "gitlab", "gitea"]
FORGES: tuple[Forge, ...] = ("github", "gitlab", "gitea")


class HookError(Exception):
    """A request refused: `status` is the HTTP answer, the message says why (one log line)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Push:
    """What a verified delivery says: its kind, id, the pushed ref and the repository."""

    event: str  # "push", "ping", or any other event (ignored)
    delivery: str  # the forge's delivery id ("" if none): a replay is ignored
    ref: str = ""  # refs/heads/main
    repos: tuple[str, ...] = ()  # the repository's URLs, normalised (repo_key)
    default_branch: str = ""


def same_secret(given: str, secret: str) -> bool:
    """Compare a secret from a request with the real one in constant time, as bytes: a
    header's raw bytes reach us as surrogates (\\xff), a path as any Unicode."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), secret.encode("utf-8", "surrogatepass")
    )


def verify(forge: Forge, headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Raise HookError unless the delivery carries the secret: GitHub and Gitea sign the body
    with HMAC-SHA256, GitLab sends the token itself. Compared in constant time."""
    if forge == "gitlab":
        given = headers.get("X-Gitlab-Token")
        if given is None:
            raise HookError(401, "missing X-Gitlab-Token")
        if not same_secret(given, secret):
            raise HookError(403, "wrong X-Gitlab-Token")
        return
    name = "X-Hub-Signature-256" if forge == "github" else "X-Gitea-Signature"
    given = headers.get(name)
    if given is None:
        raise HookError(401, f"missing {name}")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if forge == "github":
        expected = "sha256=" + expected
    if not same_secret(given.strip().lower(), expected):
        raise HookError(403, f"wrong {name}")


def parse_push(forge: Forge, headers: Mapping[str, str], body: bytes) -> Push:
    """Read a verified delivery. A push's body must be a JSON object; other events are
    returned without reading it."""
    # Headers are not covered by the signature: cleaned before they reach a log or an answer.
    event = clean_line(headers.get(_EVENT_HEADER[forge], ""), 60).lower()
    delivery = clean_line(headers.get(_DELIVERY_HEADER[forge], ""), 200)
    event = "push" if event == "push hook" else event  # GitLab
    if event != "push":
        return Push(event or "unknown", delivery)
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise HookError(400, f"push body is not JSON: {error}") from None
    except RecursionError:  # [[[[…: deeper than the json module reads
        raise HookError(400, "push body is nested too deeply") from None
    if not isinstance(payload, dict):
        raise HookError(400, "push body is not a JSON object")
    repository = _mapping(payload.get("repository"))
    project = _mapping(payload.get("project"))  # GitLab
    urls = [
        *(repository.get(key) for key in _REPO_KEYS),
        *(project.get(key) for key in _REPO_KEYS),
    ]
    default = repository.get("default_branch") or project.get("default_branch") or ""
    return Push(
        "push",
        delivery,
        ref=_text(payload.get("ref")),
        repos=tuple(dict.fromkeys(key for url in urls if (key := repo_key(_text(url))))),
        default_branch=_text(default),
    )


_EVENT_HEADER: dict[Forge, str] = {
    "github": "X-GitHub-Event",
    "gitlab": "X-Gitlab-Event",
    "gitea": "X-Gitea-Event",
}
_DELIVERY_HEADER: dict[Forge, str] = {
    "github": "X-GitHub-Delivery",
    "gitlab": "X-Gitlab-Event-UUID",
    "gitea": "X-Gitea-Delivery",
}
# Where the forges put the repository's URLs (GitHub and Gitea: `repository`; GitLab: `project`
# and the older `repository`).
_REPO_KEYS = (
    "clone_url", "html_url", "ssh_url", "git_url", "url", "web_url", "homepage",
    "git_http_url", "git_ssh_url", "http_url", "ssh_url_to_repo", "http_url_to_repo",
)  # fmt: skip


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return clean_line(value, 2000) if isinstance(value, str) else ""


_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?([^:/\s]+):(?!//)(.+)$")  # git@host:owner/repo.git


def repo_key(url: str) -> str:
    """A repository URL as comparable text: host and path, lower-case, without scheme, user,
    port, `.git` or trailing slash (`git@github.com:O/R.git` ≡ `https://github.com/o/r`)."""
    url = url.strip()
    if not url:
        return ""
    if "://" in url:
        rest = url.split("://", 1)[1]
        host, _, path = rest.partition("/")
        host = host.rsplit("@", 1)[-1].split(":", 1)[0]
    elif match := _SCP_LIKE.match(url):
        host, path = match[1], match[2]
    else:
        return ""  # a local path: no forge sends it
    path = path.split("?", 1)[0].split("#", 1)[0].strip("/").removesuffix(".git")
    return f"{host.lower()}/{path.lower()}" if host and path else ""


def find_list(push: Push, sources: Sequence[ListSource], wanted: str | None) -> ListSource:
    """The list a push is for: the one named by `?list=` (a mirror's hook may name it), else
    the one whose repository is among the push's URLs (several lists of one repository: the
    first; name them)."""
    if wanted is not None:
        for source in sources:
            if source.name == wanted:
                return source
        raise HookError(404, f"no list named {wanted!r}")
    for source in sources:
        if repo_key(source.repo) in push.repos:
            return source
    raise HookError(404, "no list follows this repository (add ?list=NAME to the hook's URL)")


def tracked(push: Push, branches: Iterable[str | None]) -> bool:
    """Tell whether the push is to the tracked branch: the first one known of `branches`
    (configured, then as last synced), else the repository's default branch."""
    branch = next((b for b in branches if b), None) or push.default_branch
    return not branch or push.ref == f"refs/heads/{branch}"


class Receiver:
    """Answer deliveries: verify, drop replays, match the list and branch, start its sync.

    `trigger(name)` asks for a sync of the list and returns False when none can start (the
    service is stopping); `branch_of(name)` is the branch the list was last synced from.
    """

    def __init__(
        self,
        secret: str,
        sources: Sequence[ListSource],
        trigger: Callable[[str], bool],
        branch_of: Callable[[str], str | None] = lambda name: None,
        remember: int = 2000,
    ) -> None:
        self.secret = secret
        self.sources = list(sources)
        self.trigger = trigger
        self.branch_of = branch_of
        self.remember = remember
        self.seen: OrderedDict[str, None] = OrderedDict()  # delivery ids, newest last

    def receive(
        self, forge: Forge, headers: Mapping[str, str], body: bytes, wanted: str | None
    ) -> tuple[int, str]:
        """Return (HTTP status, what was done); raise HookError for a refused request."""
        verify(forge, headers, body, self.secret)
        push = parse_push(forge, headers, body)
        key = f"{forge}:{push.delivery}"
        if push.delivery and key in self.seen:
            return 200, "delivery seen before; ignored"
        answer = self._act(push, wanted)
        if push.delivery:  # only once acted on: a redelivery after a refusal is served
            self.seen[key] = None
            while len(self.seen) > self.remember:
                self.seen.popitem(last=False)
        return answer

    def _act(self, push: Push, wanted: str | None) -> tuple[int, str]:
        if push.event == "ping":
            return 200, "pong"
        if push.event != "push":
            return 202, f"{push.event} events are ignored"
        source = find_list(push, self.sources, wanted)
        if not tracked(push, (source.branch, self.branch_of(source.name))):
            return 202, f"{push.ref or 'no ref'} is not the branch {source.name} follows; ignored"
        if not self.trigger(source.name):
            raise HookError(503, "shutting down; the list is synced on the next start")
        return 202, f"sync of {source.name} queued"
