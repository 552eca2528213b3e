"""Clone, fetch and read versions of a list file. The only user of GitPython."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import git

from .errors import GitSourceError, ListFileMissingError
from .models import Commit
from .untrusted import clean_line, commit_date, redact

log = logging.getLogger(__name__)

_NULL_SHA = "0" * 40
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_REFSPEC = "+refs/heads/*:refs/heads/*"
# File modes of a tree entry that are not a regular file: a symlink and a gitlink (submodule).
SYMLINK, GITLINK = "120000", "160000"
_LFS_POINTER = b"version https://git-lfs.github.com/spec/"
# Stall detection: an https transfer slower than 1 KB/s for a minute is given up; ssh gives up
# on a server that does not answer within 30 s or stops answering keep-alives.
_NETWORK_CONFIG = ("-c", "http.lowSpeedLimit=1000", "-c", "http.lowSpeedTime=60")
_SSH_COMMAND = (
    "ssh -o BatchMode=yes -o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4"
)

StopCheck = Callable[[], bool]
Repo = git.Repo  # for callers' annotations: they never import GitPython


@dataclass(frozen=True, slots=True)
class Version:
    """The list file as one commit of the tracked branch left it; blob_stream gives its bytes."""

    commit: Commit
    blob: str | None  # None: the commit deleted the file
    mode: str = "100644"  # SYMLINK or GITLINK: not a list file's text
    size: int = 0  # of the blob, in bytes (read with the history, not one request a version)

    @property
    def regular(self) -> bool:
        """Tell whether the version is a file (not deleted, not a symlink or submodule)."""
        return self.blob is not None and self.mode not in (SYMLINK, GITLINK)


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


def open_repo(
    repo: str, path: Path, timeout: float = 600, should_stop: StopCheck | None = None,
    max_bytes: int = 500_000_000,
) -> git.Repo:  # fmt: skip
    """Clone the remote into a bare repository at path, or fetch it if it is there already.

    Branches are fetched into refs/heads with --prune and forced updates, so a force-push
    upstream replaces the branch here too. The clone is made in a temporary folder and renamed
    into place once set up, so a clone killed halfway leaves nothing that looks finished; a
    clone whose fetch refspec is missing (made by an older dltbot and interrupted) is repaired.
    Clone and fetch give up after `timeout` seconds, on a stalled transfer, when the clone
    grows past `max_bytes` on disk, or when `should_stop` says so (the service is shutting
    down). A remote (not local) repository is cloned without its files' contents
    (`--filter=blob:none`, a partial clone): list_versions fetches the list file's versions
    alone, so a list in a huge repository costs its history's commits and trees, not its
    files. A remote that cannot filter sends everything, as a plain clone.
    """
    check_repo_url(repo)
    if os.path.exists(repo) and not os.path.isabs(repo):
        repo = os.path.abspath(repo)
    shown = redact(repo)
    try:
        if (path / "HEAD").exists():
            repository = git.Repo(path)
            _ensure_refspec(repository)
            _run_network(["--git-dir", str(path), "fetch", "--prune", "--quiet", "origin"],
                         shown, timeout, should_stop, (path, max_bytes))  # fmt: skip
            return repository
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_clones(path)
        temp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        try:
            partial = ["--filter=blob:none"] if is_remote(repo) else []
            _run_network(["clone", "--bare", "--quiet", *partial, "--", repo, str(temp)],
                         shown, timeout, should_stop, (temp, max_bytes))  # fmt: skip
            _ensure_refspec(git.Repo(temp))
            os.rename(temp, path)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        return git.Repo(path)
    except git.GitCommandError as error:
        raise GitSourceError(f"repository {shown!r}: {_git_message(error)}") from error
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, OSError) as error:
        raise GitSourceError(f"repository {shown!r}: {redact(str(error))}") from error


def is_remote(repo: str) -> bool:
    """Tell whether a repository location is a remote one (a URL or user@host:path), not a
    local folder or bundle: only remotes are cloned partially."""
    if "://" in repo:
        return urlsplit(repo).scheme.lower() != "file"
    return ":" in repo.split("/", 1)[0] and not os.path.exists(repo)


def is_partial(repository: git.Repo) -> bool:
    """Tell whether the clone is partial: blobs it lacks are fetched from its remote."""
    with repository.config_reader() as reader:
        return bool(reader.get_value('remote "origin"', "promisor", default=False))


def fetch_blobs(
    repository: git.Repo, shas: list[str], timeout: float = 600,
    should_stop: StopCheck | None = None,
) -> None:  # fmt: skip
    """Fetch the blobs of a partial clone, in one request (read one by one, each would cost
    a round trip to the remote). They are new versions, so all are asked for: telling which
    are here already would itself fetch those that are not, one by one."""
    missing = list(dict.fromkeys(shas))
    if not missing or not is_partial(repository):
        return
    _run_network(
        ["--git-dir", str(repository.git_dir), "-c", "fetch.negotiationAlgorithm=noop",
         "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--recurse-submodules=no",
         "--filter=blob:none", "--stdin", "origin"],
        redact(str(repository.git_dir)), timeout, should_stop,
        stdin=("\n".join(missing) + "\n").encode(),
    )  # fmt: skip


def _remove_stale_clones(path: Path) -> None:
    """Remove what clones killed halfway left (an hour old: never a clone under way)."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if time.time() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            pass


def _ensure_refspec(repository: git.Repo) -> None:
    with repository.config_reader() as reader:
        current = reader.get_value('remote "origin"', "fetch", default="")
    if current != _REFSPEC:
        with repository.config_writer() as config:
            config.set_value('remote "origin"', "fetch", _REFSPEC)


def remote_head(
    repo: str, path: Path, branch: str, follow_default: bool, timeout: float,
    should_stop: StopCheck | None = None,
) -> str | None:  # fmt: skip
    """Ask the remote `repo` of the clone at `path` (one request, nothing fetched) for the
    commit its `branch` points at; None when it has no such branch or, with `follow_default`,
    when its default branch is another one now (a fetch must then find out what changed)."""
    out = _run_network(
        ["--git-dir", str(path), "ls-remote", "--symref", "origin", "HEAD", f"refs/heads/{branch}"],
        redact(repo), timeout, should_stop, capture=True,
    )  # fmt: skip
    refs: dict[str, str] = {}
    default = None
    for line in out.decode("utf-8", "replace").splitlines():
        value, _, ref = line.partition("\t")
        if value.startswith("ref: "):  # the branch HEAD names, before HEAD's commit
            default = value
        else:
            refs[ref.strip()] = value.strip()
    if follow_default and default != f"ref: refs/heads/{branch}":
        return None
    sha = refs.get(f"refs/heads/{branch}")
    return sha if sha and _SHA.match(sha) else None


def _run_network(
    args: list[str], shown: str, timeout: float, should_stop: StopCheck | None,
    limit: tuple[Path, int] | None = None, capture: bool = False, stdin: bytes = b"",
) -> bytes:  # fmt: skip
    """Run a git command that talks to a remote, killing it (and its ssh or https helper) on
    timeout, when asked to stop, or when the folder `limit` names grows past its size.
    Credentials are never prompted for. Return its output when asked to `capture` it."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    env.setdefault("GIT_SSH_COMMAND", _SSH_COMMAND)
    with (
        tempfile.TemporaryFile() as errors,
        tempfile.TemporaryFile() as output,
        tempfile.TemporaryFile() as given,
    ):
        given.write(stdin)
        given.seek(0)
        process = subprocess.Popen(
            ["git", *_NETWORK_CONFIG, *args], stdin=given if stdin else subprocess.DEVNULL,
            stdout=output if capture else subprocess.DEVNULL, stderr=errors, env=env,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        reason = None
        too_large = f"the clone grew past {(limit or (0, 0))[1]:,} bytes (sync.max_clone_size)"
        with _exit_waiter(process) as wait:
            while process.poll() is None:
                if should_stop is not None and should_stop():
                    reason = "stopped: the service is shutting down"
                elif time.monotonic() > deadline:
                    reason = f"timed out after {timeout:.0f}s (sync.git_timeout)"
                elif limit is not None and folder_size(limit[0]) > limit[1]:
                    reason = too_large
                if reason:
                    _kill_group(process)
                    raise GitSourceError(f"repository {shown!r}: {reason}")
                wait(0.2)
        if not process.returncode and limit is not None and folder_size(limit[0]) > limit[1]:
            raise GitSourceError(f"repository {shown!r}: {too_large}")  # done within 0.2 s
        if process.returncode:
            errors.seek(0)
            text = errors.read(64 * 1024).decode("utf-8", "replace")
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            message = lines[-1] if lines else f"git exited with status {process.returncode}"
            raise GitSourceError(f"repository {shown!r}: {redact(clean_line(message, 500))}")
        output.seek(0)
        return output.read(1_000_000) if capture else b""


def folder_size(path: Path) -> int:
    """Bytes the files under `path` take (a bare clone: a few pack files and refs)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


@contextlib.contextmanager
def _exit_waiter(process: subprocess.Popen[bytes]) -> Iterator[Callable[[float], None]]:
    """Give a wait(seconds) that returns as soon as the process exits: on Linux a pidfd
    wakes it (Popen.wait with a timeout polls, sleeping up to 50 ms past the exit)."""
    try:
        fd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        fd = None

    def wait(seconds: float) -> None:
        if fd is not None:
            select.select([fd], [], [], seconds)
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=seconds)

    try:
        yield wait
    finally:
        if fd is not None:
            os.close(fd)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _git_message(error: git.GitCommandError) -> str:
    """Return git's own complaint, one line, without the command (it may hold credentials)."""
    text = str(error.stderr or "").strip().replace("stderr: ", "").strip("'\" \n")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return redact(clean_line(lines[-1], 500)) if lines else f"git exited with status {error.status}"


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
    """Return what events record about a commit, read from the commit object itself.

    Nothing in a commit's text can forge a field: the sha is the one asked for, the date is
    the committer line's number (clamped to what is possible), and the author and subject are
    cleaned of controls and invisible characters.
    """
    return parse_commit(sha, _read_objects(repository, [sha])[sha])


def parse_commit(sha: str, data: bytes) -> Commit:
    """Return a commit's sha, committer date, author name and subject from its raw object."""
    head, _, message = data.partition(b"\n\n")
    message = message.lstrip(b"\n")
    fields: dict[bytes, bytes] = {}
    for line in head.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key and not line.startswith(b" "):
            fields.setdefault(key, value)  # the first of each header (continuations skipped)
    encoding = fields.get(b"encoding", b"utf-8").decode("ascii", "replace").strip()
    author = fields.get(b"author", b"").rpartition(b" <")[0]
    date = commit_date(*_when(fields.get(b"committer", b"")))
    subject = b" ".join(message.split(b"\n\n", 1)[0].split(b"\n"))
    return Commit(
        sha,
        date,
        clean_line(_decode(author, encoding), 200),
        clean_line(_decode(subject, encoding), 500),
    )


def _when(ident: bytes) -> tuple[int, int]:
    """Return (timestamp, offset in minutes) from `Name <email> 1700000000 +0800`."""
    parts = ident.rpartition(b">")[2].split()
    try:
        timestamp = int(parts[0])
        zone = parts[1].decode("ascii")
        sign = -1 if zone.startswith("-") else 1
        digits = zone.lstrip("+-")
        offset = sign * (int(digits[:-2] or 0) * 60 + int(digits[-2:]))
    except (IndexError, ValueError, UnicodeDecodeError):
        return 0, 0
    return timestamp, offset


def _decode(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding or "utf-8", "replace")
    except LookupError:  # an encoding header naming no codec
        return data.decode("utf-8", "replace")


# A list without a configured path is its readme, the first of these found at the top of its
# tree (case-insensitively: readme.md, Readme.md).
README_NAMES = ("README.md", "README.markdown", "README.mdown", "README.mkd", "README")


def find_list_file(repository: git.Repo, rev: str, wanted: str | None) -> str:
    """Return the path of the list file at rev, matched case-insensitively (readme.md);
    `wanted` None: the readme (README_NAMES).

    A symlink or a submodule there is not a list file: the list fails with that reason.
    """
    try:
        listing: str = repository.git.ls_tree("-r", "-z", "--full-tree", rev, "--")
    except git.GitCommandError as error:
        raise GitSourceError(f"cannot list files at {rev[:12]}: {_git_message(error)}") from error
    modes: dict[str, str] = {}
    for record in listing.split("\0"):
        meta, tab, name = record.partition("\t")
        if tab:
            modes[name] = meta.split(" ", 1)[0]
    found = None
    for candidate in (wanted,) if wanted else README_NAMES:
        found = candidate if candidate in modes else None
        if found is None:
            found = next((p for p in modes if p.casefold() == candidate.casefold()), None)
        if found is not None:
            break
    if found is None and wanted:
        raise ListFileMissingError(f"list file {wanted!r} not found at commit {rev[:12]}")
    if found is None:
        raise GitSourceError(
            f"no readme ({', '.join(README_NAMES)}) at the top of commit {rev[:12]}; not a list"
        )
    if modes[found] in (SYMLINK, GITLINK):
        kind = "a symbolic link" if modes[found] == SYMLINK else "a submodule"
        raise GitSourceError(
            f"list file {found!r} at commit {rev[:12]} is {kind}, not a file; "
            "set the list's path to the file itself"
        )
    return found


def blob_at(repository: git.Repo, rev: str, path: str) -> str:
    """Return the sha of path's blob at rev."""
    try:
        sha: str = repository.git.rev_parse("--verify", f"{rev}:{path}")
    except git.GitCommandError as error:
        raise ListFileMissingError(f"list file {path!r} not found at {rev[:12]}") from error
    return sha.strip()


def read_file(repository: git.Repo, rev: str, path: str) -> bytes:
    """Return the bytes of path at rev."""
    return read_blob(repository, blob_at(repository, rev, path))


def read_blob(repository: git.Repo, sha: str) -> bytes:
    """Return the bytes of a blob (through one long-running `git cat-file --batch`)."""
    try:
        data: bytes = repository.odb.stream(bytes.fromhex(sha)).read()
    except (ValueError, OSError) as error:
        raise GitSourceError(f"cannot read object {sha[:12]}: {error}") from error
    return data


def check_file_size(repository: git.Repo, rev: str, path: str, limit: int) -> None:
    """Raise FileTooLargeError if path at rev is over limit bytes."""
    sha = blob_at(repository, rev, path)
    size = _object_sizes(repository, [sha])[sha]
    if size > limit:
        raise FileTooLargeError(size, limit)


class FileTooLargeError(GitSourceError):
    """A version of the list file is over the size limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"list file is {size / 1e6:.1f} MB, over the {limit / 1e6:.1f} MB limit "
            "(sync.max_file_size)"
        )


def is_lfs_pointer(data: bytes) -> bool:
    """Tell whether a version holds a Git LFS pointer instead of the file's text."""
    return data.startswith(_LFS_POINTER)


def is_ancestor(repository: git.Repo, ancestor: str, rev: str) -> bool:
    """Tell whether ancestor is reachable from rev (False when it is not even in the repo)."""
    try:
        repository.git.merge_base("--is-ancestor", ancestor, rev, "--")
    except git.GitCommandError:
        return False  # exit 1: not an ancestor; 128: unknown commit, e.g. after a force-push
    return True


def list_versions(
    repository: git.Repo, path: str, head: str, since: str | None = None,
    timeout: float = 600, should_stop: StopCheck | None = None,
) -> list[Version]:  # fmt: skip
    """Return the versions of path along head's first-parent chain, oldest first.

    Only commits whose list file differs from their first parent's are yielded. A merge's
    second parent is not walked: its commits reach us through the merge, which is diffed
    against the first parent, so a merged stale branch cannot invent removals.

    `git log` prints only shas and NUL-separated raw diff lines (nothing a commit's author
    writes); each commit's date, author and subject are read from its object (commit_info).
    """
    rev_range = f"{since}..{head}" if since else head
    try:
        out: str = repository.git.log(
            "--first-parent", "--reverse", "--diff-merges=first-parent", "--raw", "-z",
            "--no-abbrev", "--no-renames", "--format=%H", rev_range, "--", path,
        )  # fmt: skip
    except git.GitCommandError as error:
        raise GitSourceError(
            f"cannot read the history of {path!r}: {_git_message(error)}"
        ) from error
    changes: list[tuple[str, str, str]] = []  # (commit, mode, blob) for path
    sha = None
    tokens = iter(out.split("\0"))
    for token in tokens:
        token = token.strip("\n")
        if token.startswith(":"):
            name = next(tokens, "")
            _, mode, _, blob, _ = (token[1:].split() + [""] * 5)[:5]
            if name == path and sha is not None:
                changes.append((sha, mode, blob))
        elif _SHA.match(token):
            sha = token
    objects = _read_objects(repository, [sha for sha, _, _ in changes])
    blobs = [blob for _, _, blob in changes if blob != _NULL_SHA]
    fetch_blobs(repository, blobs, timeout, should_stop)  # a partial clone lacks them
    sizes = _object_sizes(repository, blobs)
    return [
        Version(
            parse_commit(sha, objects[sha]),
            None if blob == _NULL_SHA else blob,
            mode,
            sizes.get(blob, 0),
        )
        for sha, mode, blob in changes
    ]


@contextlib.contextmanager
def blob_stream(repository: git.Repo, shas: list[str]) -> Iterator[Iterator[bytes]]:
    """Read many blobs, in order, through one `git cat-file --batch` fed by a thread.

    git inflates the next blobs while the caller parses this one (the pipe is widened to
    1 MB where Linux allows), instead of a request and an answer per blob. Leaving the block
    early (a stopping service, an error) kills the process.
    """
    process = subprocess.Popen(
        ["git", "--git-dir", str(repository.git_dir), "cat-file", "--batch"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or over pipe-max-size
        fcntl.fcntl(stdout.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)

    def feed() -> None:
        with contextlib.suppress(OSError, ValueError):  # the process was killed
            stdin.write("".join(f"{sha}\n" for sha in shas).encode())
            stdin.close()

    def blobs() -> Iterator[bytes]:
        for sha in shas:
            size = _header(stdout.readline(), sha)
            data = stdout.read(size + 1)[:-1]  # the blob and the newline after it
            if len(data) != size:
                raise GitSourceError(f"cannot read object {sha[:12]}: cut short")
            yield data

    feeder = threading.Thread(target=feed, name="cat-file-feed", daemon=True)
    feeder.start()
    try:
        yield blobs()
    finally:
        process.kill()
        process.wait()
        feeder.join()
        stdout.close()
        with contextlib.suppress(OSError):
            stdin.close()


def _cat_file(repository: git.Repo, mode: str, shas: list[str]) -> bytes:
    """Run one `git cat-file` (`--batch-check`: sizes) over many objects (a round trip each
    is slow); return its output. Whole objects stream through blob_stream."""
    result = subprocess.run(
        ["git", "--git-dir", str(repository.git_dir), "cat-file", mode],
        input="".join(f"{sha}\n" for sha in shas).encode(), capture_output=True,
    )  # fmt: skip
    if result.returncode:
        message = result.stderr.decode("utf-8", "replace").strip() or "cat-file failed"
        raise GitSourceError(f"cannot read objects: {clean_line(message, 500)}")
    return result.stdout


def _header(line: bytes, sha: str) -> int:
    """Return the size from a cat-file header `<sha> <type> <size>`."""
    header = line.split()
    if len(header) != 3:  # "<sha> missing"
        raise GitSourceError(f"cannot read object {sha[:12]}: missing")
    return int(header[2])


def _object_sizes(repository: git.Repo, shas: list[str]) -> dict[str, int]:
    """Return the sizes of many objects without reading them."""
    if not shas:
        return {}
    lines = _cat_file(repository, "--batch-check", shas).splitlines()
    return {sha: _header(line, sha) for sha, line in zip(shas, lines, strict=True)}


def _read_objects(repository: git.Repo, shas: list[str]) -> dict[str, bytes]:
    """Read many (small) objects whole: commits."""
    if not shas:
        return {}
    with blob_stream(repository, shas) as objects:
        return dict(zip(shas, objects, strict=True))
