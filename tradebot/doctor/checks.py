"""Every check in order, each one's failure its own finding: a check never stops the others."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from tradebot.clock import utcnow
from tradebot.config.loader import LoadedConfig, read_config, resolve_mode
from tradebot.doctor import local, remote
from tradebot.doctor.findings import Finding, error, ok, skipped, warning
from tradebot.exceptions import TradebotError
from tradebot.runtime.paths import config_relative

NOT_CHECKED = "the config is not valid"
#: the config's warnings about credentials not set: the alphahub and broker checks try them for
#: real (the broker's keys may come from the environment, which the loader does not read)
_TRIED_FOR_REAL = frozenset(
    {"alphahub.email", "alphahub.password", "broker.alpaca.key_id", "broker.alpaca.secret_key"}
)


def examine(
    config_path: Path,
    *,
    live: bool = False,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], datetime] = utcnow,
) -> list[Finding]:
    """The findings for the config at ``config_path`` as ``tradebot run`` would use it
    (``live``: as ``run --live``)."""
    env = os.environ if environ is None else environ
    try:
        loaded = read_config(config_path, env)
        loaded.require_tradable()
        mode = resolve_mode(loaded.config, live_flag=live)
    except TradebotError as exc:
        names = ("alphahub", "broker", "clock", "journal folder", "dashboard port")
        return [error("config", str(exc)), *(skipped(name, NOT_CHECKED) for name in names)]
    config = loaded.config
    found = [*_config(loaded, mode.value)]
    found.append(_guarded("alphahub", lambda: remote.alphahub(config)))
    found += _guarded_all("broker", lambda: remote.broker(config, mode, env, now))
    journal_path = config_relative(config_path, config.journal.path)
    found += _guarded_all("journal", lambda: local.journal(config, journal_path, now()))
    found.append(_guarded("dashboard port", lambda: local.dashboard(config)))
    return found


def _config(loaded: LoadedConfig, mode: str) -> list[Finding]:
    config = loaded.config
    enabled = sum(1 for a in config.algorithms.values() if a.enabled)
    said = f"{loaded.file} is valid ({enabled} algorithms enabled, {mode} mode)"
    warned = [w for w in loaded.warnings if w.path not in _TRIED_FOR_REAL]
    return [ok("config", said), *(warning("config", str(w)) for w in warned)]


def _guarded(name: str, check: Callable[[], Finding]) -> Finding:
    return _guarded_all(name, lambda: [check()])[0]


def _guarded_all(name: str, check: Callable[[], list[Finding]]) -> list[Finding]:
    """A check that raises (a bug, an OS error) is an error finding, not a crash."""
    try:
        return check()
    except Exception as exc:
        return [error(name, f"the check failed: {type(exc).__name__}: {exc}")]
