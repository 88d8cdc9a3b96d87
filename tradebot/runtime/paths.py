"""Paths in config.yaml are relative to the config file's folder, not to the current directory.

So ``tradebot run --config ~/bots/a/config.yaml`` and ``cd ~/bots/a && tradebot run`` use the
same journal and the same kill switch.
"""

from __future__ import annotations

from pathlib import Path


def config_relative(config_file: str | Path, value: str | Path) -> Path:
    """``value`` as an absolute path, read relative to ``config_file``'s folder."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    return (Path(config_file).expanduser().resolve().parent / path).resolve()
