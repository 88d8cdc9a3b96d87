"""Booleans are strict: only an unquoted true or false (in one case: true, True, TRUE)."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from tests.config.helpers import WriteConfig, error_text, load
from tradebot.config.model import Config
from tradebot.config.strategy import builtin_names, resolve_strategy

ALGO = "algorithms:\n  14:\n    strategy: fixed_shares\n    params: {shares: 1}\n"
ACCEPTED = {"true": True, "True": True, "TRUE": True, "false": False, "False": False}
ACCEPTED["FALSE"] = False
HINT = "not a boolean: use true or false"

#: every boolean key, as text to append to ALGO (with its line in the file)
BOOLEAN_KEYS = {
    "live_trading_acknowledged": ("live_trading_acknowledged: {}\n", 5),
    "algorithms.14.enabled": ("    enabled: {}\n", 5),
    "algorithms.14.allow_short": ("    allow_short: {}\n", 5),
    "algorithms.14.allow_fractional": ("    allow_fractional: {}\n", 5),
    "broker.sim.shortable": ("broker:\n  sim:\n    shortable: {}\n", 7),
    "broker.sim.fractionable": ("broker:\n  sim:\n    fractionable: {}\n", 7),
    "broker.alpaca.stream": ("broker:\n  alpaca:\n    stream: {}\n", 7),
}


def _value(config: Config, path: str) -> Any:
    value: Any = config
    for part in path.split("."):
        value = value[int(part)] if part.isdigit() else getattr(value, part)
    return value


def _case_variants(word: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(word, upper, strict=True))
    )


WORDS = ["true", "false", "yes", "no", "on", "off", "y", "n", "t", "f", "1", "0", "enabled"]
SPELLINGS = st.sampled_from(WORDS).flatmap(_case_variants)
QUOTES = st.sampled_from(["{}", '"{}"', "'{}'"])


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(BOOLEAN_KEYS)), spelling=SPELLINGS, quote=QUOTES)
def test_only_unquoted_true_or_false_is_a_boolean(
    write_config: WriteConfig, key: str, spelling: str, quote: str
) -> None:
    text, line = BOOLEAN_KEYS[key]
    path = write_config(ALGO + text.format(quote.format(spelling)))
    if quote == "{}" and spelling in ACCEPTED:
        assert _value(load(path), key) is ACCEPTED[spelling]
        return
    message = error_text(path)
    assert message.startswith(f"{path}:{line}: {key}: {HINT}"), message


def test_yes_and_no_are_still_text_where_text_is_expected(write_config: WriteConfig) -> None:
    # YAML 1.1 would read these tickers as booleans: deny_symbols: [ON] denied "TRUE"
    path = write_config(ALGO + "risk:\n  deny_symbols: [ON, off, Y, NO]\n")
    config = load(path)
    assert config.risk.deny_symbols == ("ON", "OFF", "Y", "NO")
    assert load(write_config(ALGO + "    name: yes\n")).algorithms[14].name == "yes"


def test_an_explicit_bool_tag_is_held_to_the_same_rule(write_config: WriteConfig) -> None:
    path = write_config(ALGO + "    allow_short: !!bool yes\n")
    assert error_text(path).startswith(f"{path}:5: algorithms.14.allow_short: {HINT}")


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("FALSE", False)])
def test_unquoted_flags_from_the_environment(
    write_config: WriteConfig, value: str, expected: bool
) -> None:
    path = write_config(ALGO + "    allow_short: ${TB_SHORT}\n")
    assert load(path, {"TB_SHORT": value}).algorithms[14].allow_short is expected
    assert HINT in error_text(path, {"TB_SHORT": "yes"})
    quoted = write_config(ALGO + '    allow_short: "${TB_SHORT}"\n', name="quoted.yaml")
    assert HINT in error_text(quoted, {"TB_SHORT": value})  # quoted: text, as written


def _booleans(model: type[BaseModel], where: str) -> list[tuple[str, Any]]:
    found = []
    for name, field in model.model_fields.items():
        for tp in _types(field.annotation):
            if tp is bool:
                found.append((f"{where}.{name}", field))
            elif isinstance(tp, type) and issubclass(tp, BaseModel):
                found.extend(_booleans(tp, f"{where}.{name}"))
    return found


def _types(tp: Any) -> list[Any]:
    if get_origin(tp) in (Union, types.UnionType, dict, tuple, list):
        return [t for arg in get_args(tp) for t in _types(arg)]
    return [tp]


def test_every_boolean_field_of_every_model_is_strict() -> None:
    """A guard for keys added later: a plain ``bool`` field would read "yes" and 1 as true."""
    fields = _booleans(Config, "config")
    for name in builtin_names():
        fields.extend(_booleans(resolve_strategy(name).Params, f"strategies.{name}"))
    assert len(fields) >= len(BOOLEAN_KEYS)
    lax = [where for where, field in fields if not any(m.strict for m in field.metadata)]
    assert lax == [], "use StrictBool for these"
