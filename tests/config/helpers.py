"""Helpers for config tests: load a file, get the error text, read a line back."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import pytest

from tradebot.config.loader import load_config
from tradebot.config.model import Config
from tradebot.exceptions import ConfigError

ROOT_CONFIG = Path(__file__).parents[2] / "config.yaml"


class WriteConfig(Protocol):
    def __call__(self, text: str, name: str = ...) -> Path: ...


def load(path: Path, env: Mapping[str, str] | None = None) -> Config:
    return load_config(path, env={} if env is None else env)


def error_text(path: Path, env: Mapping[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(path, env)
    return str(info.value)


def line(path: Path, number: int) -> str:
    """The text of a 1-based line of ``path``: to check an error points at the right place."""
    return path.read_text(encoding="utf-8").splitlines()[number - 1]
