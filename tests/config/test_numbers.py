"""Every number key is finite and bounded (issue 19, item 6): ``.inf`` passed for timeouts, then
``run`` failed on it.

The keys come from the model itself (:mod:`tests.config.model_keys`), strategy params included: a
key added tomorrow is tested here without being listed.
"""

from __future__ import annotations

import importlib
import re
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import Field

import tradebot.config
from tests.config.helpers import error_text, load
from tests.config.model_keys import Key, is_number, leaf_keys, section_models
from tradebot.config.errors import FINITE_HINT
from tradebot.config.frozen import Frozen
from tradebot.config.model import Config
from tradebot.core.signal import Leg
from tradebot.core.sizing import Sizing, SizingContext, SizingStrategy, StrategyParams

ISSUE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<path>.+?): (?P<message>.+)$")

NUMBER_KEYS = {
    key.dotted + (f" ({key.strategy})" if key.strategy else ""): key
    for key in leaf_keys()
    if is_number(key.type)
}

#: YAML's infinities and NaN, and the text pydantic would read as them
NOT_FINITE = [".inf", "-.inf", "+.inf", ".Inf", ".NAN", ".nan", "'inf'", "'-Infinity'", "'NaN'"]
#: a plain number beyond every sensible range (10**300; YAML reads 1e300 as text)
HUGE = "1" + "0" * 300


def issues_at(text: str) -> dict[tuple[str, str], str]:
    found = [ISSUE.match(row) for row in text.splitlines()]
    return {(m["line"], m["path"]): m["message"] for m in found if m}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def value_at(config: Config, key: Key) -> object:
    value: object = config
    for part in key.path:
        if isinstance(value, dict):
            value = value[part]
        elif isinstance(value, tuple):
            assert isinstance(part, int)
            value = value[part]
        else:
            value = getattr(value, str(part))
    return value


def test_the_walk_finds_the_number_keys_of_every_section() -> None:
    found = set(NUMBER_KEYS)
    for expected in (
        "alphahub.heartbeat_timeout",
        "alphahub.reconnect.healthy_after",
        "broker.alpaca.timeout",
        "broker.sim.prices.AAPL",
        "journal.recovery_max_age",
        "dashboard.port",
        "risk.max_order_notional",
        "algorithms.14.chase_after",
        "algorithms.14.risk.max_signal_age",
        "algorithms.14.exits.stop_loss_pct",
        "algorithms.14.params.shares (fixed_shares)",
        "algorithms.14.params.max_positions (allocation)",
    ):
        assert expected in found


def test_the_walk_reaches_every_section_of_the_config_package() -> None:
    """A section is a module of its own (``tradebot/config/*_section.py``): each is walked."""
    package = Path(tradebot.config.__file__).parent
    defined = {
        cls
        for path in sorted(package.glob("*.py"))
        for cls in vars(importlib.import_module(f"tradebot.config.{path.stem}")).values()
        if isinstance(cls, type) and issubclass(cls, Frozen) and cls is not Frozen
    }
    assert len(defined) >= 12
    assert defined - section_models() == set()


#: (key, raw value); text is no integer anyway ("should be a valid integer"): ints get YAML's only
CASES = [
    (name, raw)
    for name, key in sorted(NUMBER_KEYS.items())
    for raw in NOT_FINITE
    if not (key.type is int and raw.startswith("'"))
]


@pytest.mark.parametrize(("name", "raw"), CASES)
def test_infinity_and_nan_are_refused_for_every_number_key(
    tmp_path: Path, name: str, raw: str
) -> None:
    key = NUMBER_KEYS[name]
    text, line = key.document(raw)
    found = issues_at(error_text(write(tmp_path, text)))
    assert found.get((str(line), key.dotted)) == FINITE_HINT, found


@pytest.mark.parametrize("name", sorted(NUMBER_KEYS))
def test_every_number_key_has_an_upper_bound(tmp_path: Path, name: str) -> None:
    key = NUMBER_KEYS[name]
    text, line = key.document(HUGE)
    found = issues_at(error_text(write(tmp_path, text)))
    # sim.prices: the price table's own check names the symbol (``AAPL: price ... is above``)
    message = found.get((str(line), key.dotted)) or found.get((str(line - 1), "broker.sim.prices"))
    assert message is not None, found
    assert "less than" in message or "above" in message, message


@pytest.mark.parametrize("name", sorted(NUMBER_KEYS))
def test_a_plain_number_is_accepted_for_every_number_key(tmp_path: Path, name: str) -> None:
    """The other side of both guards: an ordinary value (1) loads, as that number."""
    key = NUMBER_KEYS[name]
    text, _ = key.document("1")
    value = value_at(load(write(tmp_path, text)), key)
    if key.strategy is not None:  # params are kept as validated plain data
        assert value == 1
        return
    assert value == 1 and type(value) is {int: int, float: float, Decimal: Decimal}[key.type]


class KnobParams(StrategyParams):
    knob: float = Field(gt=0)  # no upper bound, no finite type: as a user might write it


class FloatKnob(SizingStrategy[KnobParams]):
    """A user's strategy with a plain float param, named as ``tests.config.test_numbers:...``."""

    Params = KnobParams

    def size(self, leg: Leg, ctx: SizingContext) -> Sizing:
        return Sizing(Decimal(1), "one")


@pytest.mark.parametrize(("raw", "refused"), [(".inf", True), (".nan", True), ("2.5", False)])
def test_a_users_strategy_params_are_finite_too(tmp_path: Path, raw: str, refused: bool) -> None:
    text = (
        "algorithms:\n  14:\n    strategy: tests.config.test_numbers:FloatKnob\n"
        f"    params: {{knob: {raw}}}\n"
    )
    path = write(tmp_path, text)
    if not refused:
        assert load(path).algorithms[14].params == {"knob": 2.5}
        return
    assert issues_at(error_text(path)) == {("4", "algorithms.14.params.knob"): FINITE_HINT}
