from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from tests.config.helpers import WriteConfig


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Write dedented YAML to a config.yaml in a temporary folder; returns its path."""

    def write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
