"""A running bot refuses the config traps in a live edit too, and keeps the config it has.

The watcher reloads with the loader ``run`` starts with (``load_config``): the same rules, the
same FILE:LINE: key messages.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tradebot.config.loader import load_config
from tradebot.exceptions import ConfigError
from tradebot.runtime.config_watch import ConfigWatcher

BASE = """\
algorithms:
  14:
    strategy: fixed_shares
    params: {shares: 10}
"""

EDITS = {
    "16 and '16'": (
        BASE + "  16: {strategy: fixed_shares, params: {shares: 1}}\n"
        "  '16': {strategy: fixed_shares, params: {shares: 2}}\n",
        "6: algorithms.16: algorithm 16 is written twice",
    ),
    "an octal id": (
        BASE + "  016: {strategy: fixed_shares, params: {shares: 1}}\n",
        "5: algorithms.016: not an algorithm id",
    ),
    "a stop entry": (BASE + "    order_type: stop\n", "5: algorithms.14.order_type: should be"),
    "an infinite chase": (
        BASE + "    chase_after: .inf\n",
        "5: algorithms.14.chase_after: not a finite number",
    ),
    "a NaN limit": (
        "risk: {max_daily_loss: .nan}\n" + BASE,
        "1: risk.max_daily_loss: not a finite number",
    ),
}


@pytest.mark.parametrize("kind", sorted(EDITS))
async def test_a_trap_in_a_live_edit_is_refused_and_the_old_config_stays(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BASE)
    before = load_config(path)
    errors: list[ConfigError] = []
    watcher = ConfigWatcher(path, before, load_config, on_invalid=errors.append)
    text, expected = EDITS[kind]
    path.write_text(text)
    assert await watcher.check() is None
    assert watcher.current is before
    assert len(errors) == 1 and f"{path}:{expected}" in str(errors[0])
    # the other side: the same file made right is applied
    path.write_text(BASE.replace("shares: 10", "shares: 11"))
    change = await watcher.check()
    assert change is not None and watcher.current.algorithms[14].params == {"shares": 11}
