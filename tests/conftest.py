"""Shared test helpers: real git repositories built in tmp_path, with fixed authors and dates."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakebot import FAST, FakeTelegram

from dltbot.storage import Storage

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Author",
    "GIT_AUTHOR_EMAIL": "ada@example.org",
    "GIT_COMMITTER_NAME": "Ada Author",
    "GIT_COMMITTER_EMAIL": "ada@example.org",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_SYSTEM": os.devnull,
}


@pytest.fixture(autouse=True, scope="session")
def _own_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test writes to the user's real data directory (a default or relative database
    path lands there): every process the suite starts inherits this one."""
    saved = os.environ.get("DLTBOT_DATA_DIR")
    os.environ["DLTBOT_DATA_DIR"] = str(tmp_path_factory.mktemp("data-dir"))
    yield
    if saved is None:
        del os.environ["DLTBOT_DATA_DIR"]
    else:
        os.environ["DLTBOT_DATA_DIR"] = saved


def fixture_bundle(name: str) -> Path:
    """Return a shared fixture bundle, or skip the test where shared/ is absent."""
    path = FIXTURES / f"{name}.bundle"
    if not path.exists():
        pytest.skip(f"fixture {path} not present")
    return path


class GitRepo:
    """A real repository with a main branch; each commit gets the next fixed date."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tick = 0
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        env = {**os.environ, **GIT_ENV}
        date = f"2024-01-{1 + self.tick // 24:02d}T{self.tick % 24:02d}:00:00+08:00"
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
        result = subprocess.run(
            ["git", *args], cwd=self.path, env=env, check=True, capture_output=True, text=True
        )
        return result.stdout.strip()

    def commit(self, files: dict[str, str | bytes | None], message: str) -> str:
        """Write (or, for None, delete) files and commit them; return the sha."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                self.git("rm", "-q", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
            self.git("add", name)
        self.tick += 1
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def merge(self, branch: str, message: str) -> str:
        """Merge branch into the current one with a merge commit; return the sha."""
        self.tick += 1
        self.git("merge", "-q", "--no-ff", "-m", message, branch)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "upstream")


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    with Storage(tmp_path / "db.sqlite3") as db:
        yield db


def fast_import(path: Path, versions: list[str], file: str = "README.md") -> list[str]:
    """Build a repository with one commit per version of file (quickly); return the shas."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True)
    stream = bytearray()
    for number, text in enumerate(versions, start=1):
        data = text.encode()
        message = f"version {number}".encode()
        stream += b"commit refs/heads/main\nmark :%d\n" % number
        stream += b"committer Ada Author <ada@example.org> %d +0800\n" % (
            1_700_000_000 + number * 60
        )
        stream += b"data %d\n%s\n" % (len(message), message)
        if number > 1:
            stream += b"from :%d\n" % (number - 1)
        stream += b"M 100644 inline %s\ndata %d\n%s\n" % (file.encode(), len(data), data)
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=path, input=bytes(stream), check=True,
        env={**os.environ, **GIT_ENV},
    )  # fmt: skip
    shas = subprocess.run(
        ["git", "rev-list", "--reverse", "main"],
        cwd=path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return shas


VALIDATOR = ROOT.parent / "shared" / "tools" / "validate_atom.py"


def validate_atom(data: bytes, tmp_path: Path) -> str:
    """Run ../shared/tools/validate_atom.py --strict on a document; return its verdict line."""
    if not VALIDATOR.exists():
        pytest.skip(f"{VALIDATOR} not present")
    path = tmp_path / f"doc-{abs(hash(data))}.atom"
    path.write_bytes(data)
    result = subprocess.run(
        [sys.executable, str(VALIDATOR), "--strict", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """The project's fake Telegram Bot API server on 127.0.0.1."""
    server = FakeTelegram(pace=FAST).start()
    yield server
    server.stop()
