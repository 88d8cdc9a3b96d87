"""Hostile ``accounts:`` values: never a crash, always a config or a ConfigError with a reason.

What loads obeys the section's rules (:mod:`tradebot.config.accounts_section`): every name by the
rule, every live account acknowledged, every mirror paper and following its original's
algorithms with credentials of its own.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebot.config.accounts_section import ACCOUNT_NAME
from tradebot.config.loader import load_config
from tradebot.config.model import Config, Mode
from tradebot.exceptions import ConfigError

#: ``FILE:LINE: key.path: what is wrong`` (a key may hold anything: only a message is asked for)
ISSUE = re.compile(r"^(?P<file>[^\n]+?\.yaml)(?::\d+)?: (?P<rest>.+): (?P<message>\S.*)$")
HEADER = re.compile(r"^[^\n]+\.yaml: \d+ problems$")

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["paper", "live", "main", "sim", "alpaca", "${MAIN_KEY}", "${UNSET}", "$${x"]),
)
WORDS = st.sampled_from(
    ["mode", "live_trading_acknowledged", "broker", "algorithms", "risk", "mirror_of", "name"]
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.one_of(WORDS, st.text(max_size=6), st.integers(0, 20)), inner, max_size=3
        )
    ),
    max_leaves=12,
)
NAMES = st.one_of(
    st.sampled_from(["main", "main-paper", "family", "default", "Main", "a.b", "", "x" * 17]),
    st.text(max_size=18),
    st.integers(-3, 20),
    st.booleans(),
)
CREDENTIAL = st.one_of(st.sampled_from(["${MAIN_KEY}", "${PAPER_KEY}", "k", "${NONE:-}"]), VALUES)
BROKER = st.one_of(
    st.fixed_dictionaries(
        {"name": st.sampled_from(["sim", "alpaca", "ib"])},
        optional={
            "alpaca": st.fixed_dictionaries(
                {}, optional={"key_id": CREDENTIAL, "secret_key": CREDENTIAL}
            )
        },
    ),
    VALUES,
)
ALGORITHMS = st.one_of(
    st.just({16: {"strategy": "allocation", "params": {"pct": 10, "max_positions": 2}}}),
    st.just({}),
    VALUES,
)
ACCOUNT = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "mode": st.one_of(st.sampled_from(["paper", "live"]), VALUES),
            "live_trading_acknowledged": st.one_of(st.booleans(), VALUES),
            "broker": BROKER,
            "algorithms": ALGORITHMS,
            "risk": st.one_of(st.just({"max_order_notional": 100}), VALUES),
            "mirror_of": st.one_of(NAMES, VALUES),
            "extra": VALUES,
        },
    ),
    VALUES,
)
ACCOUNTS = st.one_of(st.dictionaries(NAMES, ACCOUNT, max_size=4), VALUES)
TOP = st.fixed_dictionaries(
    {"accounts": ACCOUNTS},
    optional={"mode": st.just("paper"), "broker": st.just({"name": "sim"}), "risk": VALUES},
)
ENV = {"MAIN_KEY": "main-key", "PAPER_KEY": "paper-key"}


def _load(document: dict[str, Any]) -> Config | ConfigError:
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_config(path, ENV)
        except ConfigError as exc:
            return exc


@settings(max_examples=300, deadline=None)
@given(document=TOP)
def test_hostile_accounts_load_or_are_refused_with_a_reason(document: dict[str, Any]) -> None:
    _check(document)


def _check(document: dict[str, Any]) -> None:
    """A config that keeps every rule, or a ConfigError whose every line says what is wrong."""
    result = _load(document)
    if isinstance(result, ConfigError):
        rows = str(result).splitlines()
        assert rows and all(ISSUE.match(row) or HEADER.match(row) for row in rows), rows
        return
    for name, account in result.accounts.items():
        assert ACCOUNT_NAME.fullmatch(name) and account.name == name
        if account.mode is Mode.LIVE:
            assert account.live_trading_acknowledged and account.mirror_of is None
        if account.mirror_of is not None:
            original = result.accounts[account.mirror_of]
            assert account.mode is Mode.PAPER and original.mirror_of is None
            assert account.algorithms == original.algorithms and account.risk == original.risk
            if account.broker.name == "alpaca" and original.broker.name == "alpaca":
                mine, theirs = account.broker.alpaca, original.broker.alpaca
                assert mine.key_id is not None and mine.key_id != theirs.key_id
                assert mine.secret_key is not None and mine.secret_key != theirs.secret_key


def _base() -> dict[str, Any]:
    """A live account and its paper mirror, valid: what the edits below start from."""
    alpaca = {"key_id": "${MAIN_KEY}", "secret_key": "s1"}
    return {
        "accounts": {
            "main": {
                "mode": "live",
                "live_trading_acknowledged": True,
                "broker": {"name": "alpaca", "alpaca": alpaca},
                "algorithms": {
                    16: {"strategy": "allocation", "params": {"pct": 10, "max_positions": 2}}
                },
            },
            "main-paper": {
                "mirror_of": "main",
                "broker": {
                    "name": "alpaca",
                    "alpaca": {"key_id": "${PAPER_KEY}", "secret_key": "s2"},
                },
            },
        }
    }


#: where an edit lands, and what it may put there: near-valid values, and hostile ones
EDITS = {
    ("main", "mode"): st.sampled_from(["paper", "live"]),
    ("main", "live_trading_acknowledged"): st.booleans(),
    ("main-paper", "mode"): st.sampled_from(["paper", "live"]),
    ("main-paper", "mirror_of"): st.sampled_from(["main", "main-paper", "other", None]),
    ("main-paper", "broker", "name"): st.sampled_from(["sim", "alpaca"]),
    ("main-paper", "broker", "alpaca", "key_id"): CREDENTIAL,
    ("main-paper", "broker", "alpaca", "secret_key"): st.sampled_from(["s1", "s2", None]),
    ("main", "broker", "alpaca", "key_id"): CREDENTIAL,
    ("main-paper", "algorithms"): ALGORITHMS,
    ("main-paper", "risk"): st.one_of(st.just({"max_order_qty": 5}), VALUES),
    ("main", "risk"): st.one_of(st.just({"max_order_qty": 5}), VALUES),
}


@settings(max_examples=300, deadline=None)
@given(edits=st.dictionaries(st.sampled_from(sorted(EDITS)), st.none(), max_size=4), data=st.data())
def test_edited_accounts_load_only_by_the_rules(
    edits: dict[tuple[str, ...], None], data: st.DataObject
) -> None:
    document = _base()
    for path in edits:
        value = data.draw(EDITS[path], label=".".join(path))
        node = document["accounts"]
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(node, dict) else node
        if isinstance(node, dict):
            node[path[-1]] = value
    _check(document)
