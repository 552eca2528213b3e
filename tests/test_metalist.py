"""Lists of lists: every repository one links is followed, joins and leaves with it.

"GitHub" here is a folder of local repositories that git's own configuration
(`url.<base>.insteadOf`) puts in place of https://github.com/, as a mirror would.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GitRepo
from test_hooks import SECRET, github_headers, github_push
from test_service import Running

from dltbot.config import parse_config
from dltbot.errors import ConfigError
from dltbot.metalist import linked_repositories, plan_members, repository_of, safe_name
from dltbot.models import Entry

LIST = "# {name}\n\n## Papers\n\n- [One {name}](https://one.example/{name}) first\n"


def entry(url: str) -> Entry:
    return Entry(identity=url, url=url, title="t")


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder that stands in for https://github.com/ in every git command dltbot runs."""
    mirrors = tmp_path / "github"
    mirrors.mkdir()
    config = tmp_path / "gitconfig"
    config.write_text(f'[url "{mirrors}/"]\n\tinsteadOf = https://github.com/\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    return mirrors


def meta_readme(*slugs: str) -> str:
    items = "".join(f"- [{s}](https://github.com/{s}#readme) - a list.\n" for s in slugs)
    return f"# Awesome\n\n## Lists\n\n{items}"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dltbot.cli", *args], capture_output=True, text=True, timeout=120
    )


def lists_json(config: Path) -> dict[str, dict[str, object]]:
    result = run("lists", "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {str(row["list"]): row for row in rows}


def test_a_list_of_lists_is_followed_as_it_gains_and_loses_repositories(
    github: Path, tmp_path: Path
) -> None:
    meta = GitRepo(tmp_path / "meta")
    meta.commit(
        {"README.md": meta_readme("alice/list-one", "bob/list-two", "carol/no-readme")
         + "- [Again](https://github.com/Alice/List-One) - the same, other case.\n"
         + "- [Topic](https://github.com/topics/awesome)\n- [Site](https://example.org/a/b)\n"},
        "start",
    )  # fmt: skip
    alice = GitRepo(github / "alice" / "list-one")
    alice.commit({"README.md": LIST.format(name="alice")}, "start")
    bob = GitRepo(github / "bob" / "list-two")
    bob.commit({"readme.markdown": LIST.format(name="bob")}, "start")  # any readme spelling
    carol = GitRepo(github / "carol" / "no-readme")
    carol.commit({"notes.txt": "not a list\n"}, "start")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"storage:\n  path: {tmp_path / 'db.sqlite3'}\n"
        f"lists_from:\n  - name: awesome\n    repo: {meta.path}\n    interval: 1h\n"
    )

    first = run("sync", "--config", str(config))
    assert first.returncode == 1  # carol's repository is not a list
    assert "carol--no-readme: FAILED: no readme (README.md" in first.stderr
    rows = lists_json(config)
    assert sorted(rows) == ["alice--list-one", "awesome", "bob--list-two", "carol--no-readme"]
    assert rows["awesome"]["links_lists"] == 3
    assert (rows["alice--list-one"]["status"], rows["alice--list-one"]["entries"]) == ("ok", 1)
    assert rows["alice--list-one"]["from"] == "awesome"
    assert rows["alice--list-one"]["repo"] == "https://github.com/alice/list-one"
    assert rows["bob--list-two"]["path"] == "readme.markdown"
    assert rows["carol--no-readme"]["status"] == "failing"
    text = run("lists", "--config", str(config)).stdout
    assert "alice--list-one: ok, 1 entries" in text and "from awesome" in text

    # Bob leaves the list of lists, Erin joins, Alice's list grows, Bob's too (unseen).
    erin = GitRepo(github / "erin" / "list-three")
    erin.commit({"README.md": LIST.format(name="erin")}, "start")
    meta.commit({"README.md": meta_readme("alice/list-one", "erin/list-three")}, "bob out")
    alice.commit({"README.md": LIST.format(name="alice") + "- [Two](https://two.example)\n"}, "+")
    bob_head = bob.commit({"readme.markdown": LIST.format(name="bob") + "- [X](https://x.ex)\n"},
                          "+")  # fmt: skip
    second = run("sync", "--config", str(config))
    assert second.returncode == 0, second.stderr
    rows = lists_json(config)
    assert rows["erin--list-three"]["from"] == "awesome" and rows["erin--list-three"]["entries"]
    assert rows["alice--list-one"]["entries"] == 2
    assert rows["bob--list-two"]["left"] is not None  # no longer followed …
    assert rows["bob--list-two"]["entries"] == 1  # … its history kept, its new commit unseen
    assert rows["bob--list-two"]["head"] != bob_head
    assert rows["carol--no-readme"]["left"] is not None
    assert "left it" in run("lists", "--config", str(config)).stdout

    # Bob comes back: the same list, its history, and what it missed.
    meta.commit({"README.md": meta_readme("alice/list-one", "bob/list-two")}, "bob back")
    assert run("sync", "--config", str(config), "--list", "awesome").returncode == 0
    rows = lists_json(config)
    assert rows["bob--list-two"]["left"] is None and rows["bob--list-two"]["head"] == bob_head
    assert rows["bob--list-two"]["entries"] == 2
    assert rows["erin--list-three"]["left"] is not None


def test_the_service_follows_what_a_list_of_lists_brings(github: Path, tmp_path: Path) -> None:
    meta = GitRepo(tmp_path / "meta")
    meta.commit({"README.md": meta_readme("alice/list-one", "bob/gone")}, "start")
    alice = GitRepo(github / "alice" / "list-one")
    alice.commit({"README.md": LIST.format(name="alice")}, "start")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"storage:\n  path: {tmp_path / 'db.sqlite3'}\nweb:\n  listen: 127.0.0.1:0\n"
        f"enrich:\n  enabled: false\nwebhooks:\n  secret: {SECRET}\n"
        f"lists_from:\n  - name: awesome\n    repo: {meta.path}\n    interval: 1h\n"
    )
    running = Running(config)
    try:
        running.wait_log("list alice--list-one synced")
        running.wait_log("list bob--gone failed")
        health = json.loads(running.get("/healthz")[1])
        assert health["lists_from"] == {"awesome": 2}
        assert health["count"]["lists"] == 3
        status, body = running.get("/lists/alice--list-one/")
        assert status == 200 and b"One alice" in body
        assert f'from <a href="{running.base}/lists/awesome/">awesome</a>'.encode() in body
        # Alice and Bob leave, Erin joins; a push to the list of lists says so at once.
        erin = GitRepo(github / "erin" / "list-three")
        erin.commit({"README.md": LIST.format(name="erin")}, "start")
        meta.commit({"README.md": meta_readme("erin/list-three")}, "change")
        body = github_push()
        host, port = running.base.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("POST", "/hooks/github?list=awesome", body, github_headers(body))
        assert connection.getresponse().status == 202
        connection.close()
        running.wait_log("list of lists awesome: 1 lists joined, 2 left")
        running.wait_log("list erin--list-three synced")
        details = json.loads(running.get("/healthz?details=1")[1])
        assert sorted(item["list"] for item in details["left"]) == ["alice--list-one", "bob--gone"]
        assert details["lists_from"] == {"awesome": 1}
        status, body = running.get("/lists/alice--list-one/")
        assert status == 200 and b"no longer in awesome since" in body  # its history kept
    finally:
        running.stop()


def test_hostile_lists_of_lists_are_bounded_and_named_safely() -> None:
    links = [entry(f"https://github.com/owner{i}/repo") for i in range(10_000)]
    links += [entry("https://github.com/OWNER0/REPO"), entry("https://github.com/owner0/repo.git")]
    found = linked_repositories(links, "https://github.com/me/meta")
    assert len(found) == 10_000  # duplicates (other case, .git) count once
    follow, count = plan_members(found, {}, set(), max_lists=1000)
    assert (len(follow), count) == (1000, 10_000)

    # Not repositories: a forge's own pages, users, other hosts and schemes, credentials.
    for url in (
        "https://github.com/topics/awesome", "https://github.com/sindresorhus",
        "https://example.org/owner/repo", "javascript:alert(1)//github.com/a/b",
        "https://user:pw@github.com/a/b", "ftp://github.com/a/b", "https://github.com/-a/b",
        "https://github.com/a/..", "https://github.com:99999/a/b", "https://github.com/a/b\x00c",
        "https://github.com/me/meta",
    ):  # fmt: skip
        assert not linked_repositories([entry(url)], "https://github.com/me/meta"), url
    assert repository_of("https://gitlab.com/g/p/-/tree/main") is not None
    assert repository_of("https://git.example.org/o/r", ["git.example.org"]) is not None
    found = repository_of("https://git.example.org:8443/o/r.git#readme", ["git.example.org:8443"])
    assert found is not None and found.repo == "https://git.example.org:8443/o/r"
    assert repository_of("https://git.example.org:9/o/r", ["git.example.org:8443"]) is None

    # Names that collide once made safe get a digest; configured names are not taken.
    colliding = linked_repositories(
        [entry("https://github.com/a-b/c"), entry("https://github.com/a/b-c"),
         entry("https://gitlab.com/a-b/c"), entry("https://github.com/x/taken")],
        "https://github.com/me/meta",
    )  # fmt: skip
    follow, _ = plan_members(colliding, {}, {"x--taken"}, max_lists=10)
    names = [name for name, _ in follow]
    assert len(set(n.casefold() for n in names)) == 4
    assert names[0] == "a-b--c" and names[3].startswith("x--taken-")
    assert all(len(name) <= 64 for name in names)
    hostile = safe_name("ünï/c\u202eode" + "x" * 100)  # no control or bidi characters
    assert hostile.startswith("n---c-ode") and len(hostile) == 64
    # A name kept from before is kept, even if another repository would now take it.
    follow, _ = plan_members(colliding[:1], {"https://github.com/a-b/c": "old"}, set(), 10)
    assert follow == [("old", "https://github.com/a-b/c")]


def test_lists_from_config_is_checked() -> None:
    config = parse_config({"lists_from": [{"repo": "https://github.com/sindresorhus/awesome"}]})
    assert [s.name for s in config.sources()] == ["awesome"]  # no default list then
    with pytest.raises(ConfigError, match=r"lists_from\[0\].max_lists"):
        parse_config({"lists_from": [{"repo": "https://github.com/a/b", "max_lists": 0}]})
    with pytest.raises(ConfigError, match=r"lists_from\[0\].forges"):
        parse_config({"lists_from": [{"repo": "https://github.com/a/b", "forges": ["a b"]}]})
    with pytest.raises(ConfigError, match="two lists are named 'b'"):
        parse_config({"lists_from": [{"repo": "https://github.com/a/b"}],
                      "lists": [{"repo": "https://gitlab.com/c/b"}]})  # fmt: skip


def test_a_hostile_list_of_lists_is_bounded_and_clear(github: Path, tmp_path: Path) -> None:
    """10,000 links (the same ones twice, non-repositories among them): the first max_lists
    repositories are followed, the bound is said, a missing repository is a failing list."""
    meta = GitRepo(tmp_path / "meta")
    links = "".join(
        f"- [r{n}](https://github.com/o{n}/r{n}) x\n- [again](https://github.com/O{n}/R{n}.git)\n"
        f"- [user](https://github.com/o{n})\n"
        for n in range(3_400)
    )
    meta.commit({"README.md": f"# Meta\n\n## Lists\n\n{links}"}, "many")
    GitRepo(github / "o0" / "r0").commit({"README.md": LIST.format(name="zero")}, "start")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"storage:\n  path: {tmp_path / 'db.sqlite3'}\n"
        f"lists_from:\n  - name: meta\n    repo: {meta.path}\n    max_lists: 5\n"
    )
    result = run("sync", "--config", str(config))
    assert "meta: links 3400 repositories; following the first 5 (max_lists)" in result.stderr
    assert result.returncode == 1  # four of the five do not exist
    rows = lists_json(config)
    assert sorted(rows) == ["meta", "o0--r0", "o1--r1", "o2--r2", "o3--r3", "o4--r4"]
    assert rows["o0--r0"]["status"] == "ok" and rows["meta"]["links_lists"] == 3400
    assert rows["o1--r1"]["status"] == "failing"
    assert "o1/r1" in str(rows["o1--r1"]["last_error"])  # names what could not be cloned
