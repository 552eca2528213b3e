"""Docs checked by tests: every config key is in config.example.yaml, which is itself valid."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT
from pydantic import BaseModel

from dltbot.config import Config, load_config, parse_config


def model_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        keys.add(key)
        annotation: Any = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        for candidate in inner:
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                keys |= model_keys(candidate, f"{key}.")
    return keys


def example_keys(data: Any, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    if isinstance(data, dict):
        for name, value in data.items():
            keys.add(f"{prefix}{name}")
            keys |= example_keys(value, f"{prefix}{name}.")
    elif isinstance(data, list):
        for item in data:
            keys |= example_keys(item, prefix)
    return keys


def commented_blocks(text: str) -> list[Any]:
    """The YAML of commented-out blocks ("# key:" at the start of a line, then "#   …")."""
    blocks, current = [], None
    for line in text.splitlines():
        if re.match(r"^# [a-z_]+:$", line):
            current = [line[2:]]
            blocks.append(current)
        elif current is not None and line.startswith("#   "):
            current.append(line[2:])
        else:
            current = None
    return [yaml.safe_load("\n".join(block)) for block in blocks]


def test_every_config_key_is_documented_in_the_example() -> None:
    text = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    keys = example_keys(yaml.safe_load(text))
    for block in commented_blocks(text):  # documented, but off by default
        keys |= example_keys(block)
    assert keys == model_keys(Config)
    parse_config(commented_blocks(text)[0])  # what it shows is valid


def test_example_config_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLTBOT_DATA_DIR", str(tmp_path))
    config = load_config(ROOT / "config.example.yaml")
    assert [s.name for s in config.sources()] == ["deeplearningtheory"]
    assert config.database_path() == tmp_path / "dltbot.sqlite3"  # the default place


def test_readme_names_the_commands() -> None:
    from dltbot.cli import build_parser

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command in commands:
        assert f"`dltbot {command}" in readme, command


def test_the_example_header_lists_every_environment_variable() -> None:
    import re

    from dltbot.config import ENV_OVERRIDES

    header = (ROOT / "config.example.yaml").read_text(encoding="utf-8").split("\n\n", 1)[0]
    documented = dict(re.findall(r"([A-Z_]+) → ([a-z_.]+)", header))
    table = {variable: ".".join(key) for variable, key in ENV_OVERRIDES.items()}
    assert documented.pop("DLTBOT_DATA_DIR") == "the"  # "→ the data directory of …"
    assert documented == table
