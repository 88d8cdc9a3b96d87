from __future__ import annotations

from pathlib import Path

from tradebot.config.loader import load_config
from tradebot.exceptions import ConfigError
from tradebot.runtime.config_watch import ConfigChange, ConfigWatcher

BASE = """\
journal: {path: j.sqlite}
alphahub: {connections: 2}
risk: {max_order_notional: 1000}
algorithms:
  14: {strategy: fixed_shares, params: {shares: 10}}
  16: {strategy: fixed_shares, params: {shares: 5}}
"""


async def test_live_sections_apply_and_restart_sections_keep_their_value(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BASE)
    changes: list[ConfigChange] = []
    watcher = ConfigWatcher(path, load_config(path), load_config, on_change=changes.append)
    assert await watcher.check() is None  # nothing changed yet

    edited = BASE.replace("shares: 5", "shares: 7").replace("connections: 2", "connections: 3")
    path.write_text(edited.replace("max_order_notional: 1000", "max_order_notional: 500"))
    change = await watcher.check()
    assert change is not None and changes == [change]
    assert change.changed == ("risk", "algorithms.16")
    assert change.needs_restart == ("alphahub",)
    current = watcher.current
    assert current.algorithms[16].params == {"shares": 7}
    assert current.risk.max_order_notional == 500
    assert current.alphahub.connections == 2  # as started, until a restart


async def test_an_invalid_edit_is_reported_once_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BASE)
    errors: list[ConfigError] = []
    before = load_config(path)
    watcher = ConfigWatcher(path, before, load_config, on_invalid=errors.append)
    path.write_text(BASE.replace("shares: 5", "shares: -5"))
    assert await watcher.check() is None
    assert await watcher.check() is None  # the same bad content is not reported again
    assert len(errors) == 1 and "algorithms.16.params.shares" in str(errors[0])
    assert watcher.current == before


async def test_a_removed_file_keeps_the_running_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BASE)
    watcher = ConfigWatcher(path, load_config(path), load_config)
    path.unlink()
    assert await watcher.check() is None
    assert watcher.current.algorithms[14].params == {"shares": 10}
