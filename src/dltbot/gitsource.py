"""Clone, fetch and read versions of a list file. The only user of GitPython."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import git

from .errors import GitSourceError, ListFileMissingError
from .models import Commit

log = logging.getLogger(__name__)

_NULL_SHA = "0" * 40
_FIELD = "\x1f"
_RECORD = "\x1e"


@dataclass(frozen=True, slots=True)
class Version:
    """The list file as one commit of the tracked branch left it; read_blob gives its bytes."""

    commit: Commit
    blob: str | None  # None: the commit deleted the file


def check_repo_url(repo: str) -> None:
    """Refuse repository locations git could take as an option or an unsafe transport."""
    if not repo or repo.startswith("-"):
        raise GitSourceError(f"repository {repo!r}: must be a URL or a path, not an option")
    if "::" in repo.split("/", 1)[0]:
        raise GitSourceError(f"repository {repo!r}: transports such as ext:: are not allowed")
    if "://" in repo:
        scheme = urlsplit(repo).scheme.lower()
        if scheme not in ("https", "ssh"):
            raise GitSourceError(
                f"repository {repo!r}: only https://, ssh://, user@host:path and local paths "
                f"are allowed, not {scheme}://"
            )


def clone_dir_for(clones: Path, name: str, repo: str) -> Path:
    """Return where the bare clone of a list lives: named for the list, keyed by its remote."""
    digest = hashlib.sha1(repo.encode()).hexdigest()[:8]
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return clones / f"{safe}-{digest}.git"


def open_repo(repo: str, path: Path) -> git.Repo:
    """Clone the remote into a bare repository at path, or fetch it if it is there already.

    Branches are fetched into refs/heads with --prune and forced updates, so a force-push
    upstream replaces the branch here too.
    """
    check_repo_url(repo)
    if os.path.exists(repo) and not os.path.isabs(repo):
        repo = os.path.abspath(repo)
    try:
        if (path / "HEAD").exists():
            repository = git.Repo(path)
            repository.git.fetch("--prune", "--quiet", "origin")
            return repository
        path.parent.mkdir(parents=True, exist_ok=True)
        repository = git.Repo.clone_from(repo, path, bare=True, multi_options=["--quiet"])
        with repository.config_writer() as config:
            config.set_value('remote "origin"', "fetch", "+refs/heads/*:refs/heads/*")
        return repository
    except git.GitCommandError as error:
        raise GitSourceError(f"repository {repo!r}: {_git_message(error)}") from error
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, OSError) as error:
        raise GitSourceError(f"repository {repo!r}: {error}") from error


def _git_message(error: git.GitCommandError) -> str:
    """Return git's own complaint, one line, without the command (it may hold credentials)."""
    text = str(error.stderr or "").strip().replace("stderr: ", "").strip("'\" \n")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else f"git exited with status {error.status}"


def default_branch(repository: git.Repo) -> str:
    """Return the branch the remote's HEAD pointed to when it was cloned.

    A bundle made without HEAD leaves a clone whose HEAD names a branch it does not have;
    then the only branch, or main, or master is taken.
    """
    branches: str = repository.git.for_each_ref("--format=%(refname:short)", "refs/heads/")
    names = branches.split()
    try:
        ref: str = repository.git.symbolic_ref("--short", "HEAD").strip()
    except git.GitCommandError:
        ref = ""
    if ref in names:
        return ref
    if len(names) == 1:
        return names[0]
    for name in ("main", "master"):
        if name in names:
            return name
    raise GitSourceError("cannot tell the default branch; set the list's branch")


def head_commit(repository: git.Repo, branch: str) -> str:
    """Return the sha of the branch's tip."""
    try:
        sha: str = repository.git.rev_parse(
            "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}"
        )
    except git.GitCommandError as error:
        raise GitSourceError(f"branch {branch!r} not found in the repository") from error
    return sha.strip()


def commit_info(repository: git.Repo, sha: str) -> Commit:
    """Return what events record about a commit."""
    out: str = repository.git.show("-s", f"--format=%H{_FIELD}%cI{_FIELD}%an{_FIELD}%s", sha, "--")
    full, date, author, summary = out.split(_FIELD, 3)
    return Commit(full, date, author, summary)


def find_list_file(repository: git.Repo, rev: str, wanted: str) -> str:
    """Return the path of the list file at rev, matched case-insensitively (readme.md)."""
    try:
        names: str = repository.git.ls_tree("-r", "--name-only", rev, "--")
    except git.GitCommandError as error:
        raise GitSourceError(f"cannot list files at {rev[:12]}: {_git_message(error)}") from error
    paths = names.splitlines()
    if wanted in paths:
        return wanted
    for path in paths:
        if path.casefold() == wanted.casefold():
            return path
    raise ListFileMissingError(f"list file {wanted!r} not found at commit {rev[:12]}")


def read_file(repository: git.Repo, rev: str, path: str) -> bytes:
    """Return the bytes of path at rev."""
    try:
        sha: str = repository.git.rev_parse("--verify", f"{rev}:{path}")
    except git.GitCommandError as error:
        raise ListFileMissingError(f"list file {path!r} not found at {rev[:12]}") from error
    return read_blob(repository, sha.strip())


def read_blob(repository: git.Repo, sha: str) -> bytes:
    """Return the bytes of a blob (through one long-running `git cat-file --batch`)."""
    data: bytes = repository.odb.stream(bytes.fromhex(sha)).read()
    return data


def is_ancestor(repository: git.Repo, ancestor: str, rev: str) -> bool:
    """Tell whether ancestor is reachable from rev (False when it is not even in the repo)."""
    try:
        repository.git.merge_base("--is-ancestor", ancestor, rev, "--")
    except git.GitCommandError:
        return False  # exit 1: not an ancestor; 128: unknown commit, e.g. after a force-push
    return True


def list_versions(
    repository: git.Repo, path: str, head: str, since: str | None = None
) -> list[Version]:
    """Return the versions of path along head's first-parent chain, oldest first.

    Only commits whose list file differs from their first parent's are yielded. A merge's
    second parent is not walked: its commits reach us through the merge, which is diffed
    against the first parent, so a merged stale branch cannot invent removals.
    """
    rev_range = f"{since}..{head}" if since else head
    try:
        out: str = repository.git.log(
            "--first-parent",
            "--reverse",
            "--diff-merges=first-parent",
            "--raw",
            "--no-abbrev",
            "--no-renames",
            f"--format={_RECORD}%H{_FIELD}%cI{_FIELD}%an{_FIELD}%s",
            rev_range,
            "--",
            path,
        )
    except git.GitCommandError as error:
        raise GitSourceError(
            f"cannot read the history of {path!r}: {_git_message(error)}"
        ) from error
    versions = []
    for record in out.split(_RECORD)[1:]:
        header, _, raw = record.partition("\n")
        sha, date, author, summary = header.split(_FIELD, 3)
        blob = _blob_from_raw(raw, path)
        if blob is None:
            continue  # the path differs only in case, or the commit left it as it was
        commit = Commit(sha, date, author, summary)
        versions.append(Version(commit, None if blob == _NULL_SHA else blob))
    return versions


def _blob_from_raw(raw: str, path: str) -> str | None:
    """Return the new blob sha of path in `git log --raw` lines, or None if not listed."""
    for line in raw.splitlines():
        if not line.startswith(":"):
            continue
        meta, _, name = line.partition("\t")
        if name == path:
            return meta.split()[3]
    return None
