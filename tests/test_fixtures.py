"""Replay the real lists of ../shared/fixtures (skipped where that folder is absent)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from conftest import fixture_bundle

from dltbot.diff import diff_entries
from dltbot.listparse import ListParser, parse_entries
from dltbot.models import ListSource
from dltbot.storage import Storage
from dltbot.sync import sync_list


def first_parent_texts(repo: Path, path: str) -> Iterator[tuple[str, bytes | None]]:
    """Yield (sha, file bytes or None) along the first-parent chain, read with plain git,
    one version at a time (awesome-go's 4,000 versions of 400 KB would take gigabytes)."""
    shas = subprocess.run(
        ["git", "rev-list", "--first-parent", "--reverse", "HEAD"],
        cwd=repo, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    batch = subprocess.Popen(
        ["git", "cat-file", "--batch"], cwd=repo, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert batch.stdin is not None and batch.stdout is not None
    requests = "".join(f"{sha}:{path}\n" for sha in shas).encode()

    def feed() -> None:  # from a thread: git answers while it is still being asked
        assert batch.stdin is not None
        batch.stdin.write(requests)
        batch.stdin.close()

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        for sha in shas:
            header = batch.stdout.readline().split()
            if header[-1] == b"missing":
                yield sha, None
                continue
            data = batch.stdout.read(int(header[2]))
            batch.stdout.read(1)  # the newline after the contents
            yield sha, data
    finally:
        feeder.join()
        batch.stdout.close()
        batch.wait()


def oracle_events(texts: Iterable[tuple[str, bytes | None]]) -> list[tuple[str, str, str]]:
    """Diff each first-parent version against its parent's, parsing each whole (no cache)."""
    old: dict[str, object] = {}
    seen: set[str] = set()
    result = []
    previous: bytes | None = None
    for sha, data in texts:
        if data is None or data == previous:
            continue
        previous = data
        new = {e.identity: e for e in parse_entries(data)}
        for event in diff_entries(old, new, seen):  # type: ignore[arg-type]
            result.append((event.kind, event.entry.identity, sha))
        seen.update(new)
        old = new  # type: ignore[assignment]
    return result


@pytest.mark.parametrize(
    ("name", "path"), [("deeplearningtheory", "README.md"), ("awesome", "readme.md")]
)
def test_backfill_equals_a_whole_parse_of_every_first_parent_version(
    name: str, path: str, tmp_path: Path
) -> None:
    bundle = fixture_bundle(name)
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(bundle), str(checkout)], check=True)
    head: list[bytes | None] = [None]

    def versions() -> Iterator[tuple[str, bytes | None]]:
        for sha, data in first_parent_texts(checkout, path):
            head[0] = data
            yield sha, data

    with Storage(tmp_path / "db.sqlite3") as storage:
        report = sync_list(storage, ListSource(name, str(bundle)), tmp_path / "clones")
        assert report.error is None
        stored = [(e.kind, e.entry.identity, e.commit.sha) for e in storage.events()]
        current = [s.entry for s in storage.entries(name)]
    expected = oracle_events(versions())
    assert sorted(stored) == sorted(expected)
    assert current == parse_entries(head[0] or b"")


def test_deeplearningtheory_merges_invent_nothing(tmp_path: Path) -> None:
    bundle = fixture_bundle("deeplearningtheory")
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", "--bare", str(bundle), str(checkout)], check=True)
    merge_shas = set(
        subprocess.run(
            ["git", "rev-list", "--merges", "main"],
            cwd=checkout, check=True, capture_output=True, text=True,
        ).stdout.split()
    )  # fmt: skip
    assert len(merge_shas) == 3
    with Storage(tmp_path / "db.sqlite3") as storage:
        assert sync_list(storage, ListSource("dlt", str(bundle)), tmp_path / "clones").error is None
        events = storage.events()
    kinds = [e.kind for e in events]
    assert {kind: kinds.count(kind) for kind in set(kinds)} == {
        "added": 148,
        # 15 before the text was read as written: 4 were merge-conflict markers glued to two
        # descriptions (1ed5ec1 added them, 356cb1c removed them) and 691510b only wrapped
        # words in a link; none was an edit of the text.
        "changed": 10,
        "moved": 15,
        "removed": 3,
    }
    # A merge of a stale branch brings in what the branch added, and removes nothing.
    assert [e.kind for e in events if e.commit.sha in merge_shas and e.kind == "removed"] == []


@pytest.mark.parametrize("name", ["deeplearningtheory", "awesome", "awesome-go"])
def test_chunked_parse_equals_whole_parse(name: str, tmp_path: Path) -> None:
    bundle = fixture_bundle(name)
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", "--bare", str(bundle), str(checkout)], check=True)
    path = "readme.md" if name == "awesome" else "README.md"
    # awesome-go has ~4,000 versions of 400 KB: compare every 100th in sequence (and the
    # last), all of it still goes through one parser so its caches are exercised.
    step = 100 if name == "awesome-go" else 1
    parser = ListParser()
    texts = (data for _, data in first_parent_texts(checkout, path) if data is not None)
    data = b""
    number = -1
    for number, data in enumerate(texts):
        parsed = parser.parse(data)
        if number % step == 0:
            assert parsed.entries() == parse_entries(data), number
    assert number > 0 and parsed.entries() == parse_entries(data)


@pytest.mark.parametrize(
    ("name", "path"),
    [("deeplearningtheory", "README.md"), ("awesome", "readme.md"), ("awesome-go", "README.md")],
)
def test_entries_after_a_sync_are_those_parse_finds_in_the_head(
    name: str, path: str, tmp_path: Path
) -> None:
    """`dltbot entries` after a full `dltbot sync` prints, in list order, exactly the
    identities `dltbot parse` finds in the head version of the file."""
    import json
    import sys

    bundle = fixture_bundle(name)
    db = str(tmp_path / "db.sqlite3")
    cli = [sys.executable, "-m", "dltbot.cli"]
    subprocess.run([*cli, "sync", "--repo", str(bundle), "--path", path, "--db", db],
                   check=True, capture_output=True)  # fmt: skip
    clone = tmp_path / "head"
    subprocess.run(["git", "clone", "-q", str(bundle), str(clone)], check=True)
    entries = subprocess.run([*cli, "entries", "--json", "--db", db], check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
    parsed = subprocess.run([*cli, "parse", str(clone / path), "--json"], check=True,
                            capture_output=True, text=True).stdout  # fmt: skip
    stored = [json.loads(line)["identity"] for line in entries.splitlines()]
    assert stored == [json.loads(line)["identity"] for line in parsed.splitlines()]
    assert len(stored) > 100
