"""Each leg sized by the rules in force when it arrived: the journal's rules records written
and read back, damaged or hostile ones refused with a reason, and on generated histories with
rules changed mid-period, every open leg sized by the rules the history had in force then, and
the parts still add up to the gap to the cent."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from tests.tracking.history import ALGO, OPS, RULE_SETS, Clock, play
from tradebot.cli.main import cli
from tradebot.config.loader import load_config
from tradebot.journal import open_journal
from tradebot.tracking.chain import decompose, ideal_sizes
from tradebot.tracking.journal_facts import read_period
from tradebot.tracking.rules_in_force import (
    InForce,
    LegSizer,
    NotInConfig,
    Record,
    Refused,
    RulesHistory,
    Unrecorded,
    read_rules,
    record_of,
)
from tradebot.tracking.sizing import (
    ACCOUNT_RULES_KEY,
    RULES_KEY,
    RulesRefused,
    rules_of,
    rules_record,
    strategy_from,
    trusted_strategies,
)
from tradebot.tracking.track import track

D = Decimal
EQUITY = D(100_000)
CONFIG = f"""\
journal:
  path: journal.sqlite
algorithms:
  {ALGO}:
    strategy: allocation
    params: {{pct: 10, max_positions: 4}}
  6:
    strategy: fixed_notional
    params: {{notional: 5000}}
  7:
    strategy: strategies.fixed_shares:FixedShares
    params: {{shares: 3.5}}
  8:
    strategy: percent_of_equity
    params: {{pct: 2.5}}
"""


def _config(folder: Path, text: str = CONFIG) -> Path:
    path = folder / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# -- the record: written, read back ------------------------------------------------------------
def test_each_algorithms_rules_come_back_as_the_configs_own_strategy(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path), env={})
    written = json.loads(json.dumps(rules_of(config)))  # as the journal stores it
    assert written[str(ALGO)] == {
        "strategy": "allocation",
        "params": {"pct": "10", "max_positions": 4},
    }
    trusted = trusted_strategies(config)
    for algo_id, algo in config.algorithms.items():
        assert strategy_from(written[str(algo_id)], trusted) == algo.sizer


@pytest.mark.parametrize(
    ("recorded", "reason"),
    [
        ("allocation", "not an object"),
        ({"strategy": "allocation"}, "no params"),
        ({"strategy": 5, "params": {}}, "no strategy name"),
        ({"strategy": "allocation", "params": {"pct": "-3", "max_positions": 4}}, "do not fit"),
        ({"strategy": "allocation", "params": {"pct": "NaN", "max_positions": 4}}, "do not fit"),
        ({"strategy": "allocation", "params": {"pct": 5, "max_positions": 4, "x": 1}}, "fit"),
        ({"strategy": "../../etc", "params": {}}, "neither built in nor in the current config"),
        ({"strategy": "os:system", "params": {}}, "neither built in nor in the current config"),
    ],
)
def test_damaged_or_hostile_rules_are_refused_with_a_reason(recorded: Any, reason: str) -> None:
    with pytest.raises(RulesRefused, match=reason):
        strategy_from(recorded, trusted_strategies(None))


def test_rules_naming_code_no_config_chose_never_import_it(tmp_path: Path) -> None:
    """The journal is data: a row naming ``package.module:Class`` would run that module's code
    on import. Only the strategies package's and the current config's are used."""
    name = "tests.tracking.untrusted_strategy"
    sys.modules.pop(name, None)
    config = load_config(_config(tmp_path), env={})
    with pytest.raises(RulesRefused, match="never imports code"):
        strategy_from({"strategy": f"{name}:Untrusted", "params": {}}, trusted_strategies(config))
    assert name not in sys.modules


def test_a_record_is_read_never_fatal() -> None:
    trusted = trusted_strategies(None)
    good = json.dumps({"rules": {"5": {"strategy": "fixed_shares", "params": {"shares": "2"}}}})
    record = record_of(10, 1, "config", good, trusted)
    assert record is not None and isinstance(record.of(5), InForce)
    assert isinstance(record.of(6), NotInConfig)
    # a reload by an older version, or a kill switch: no rules, no record
    assert record_of(10, 2, "config", json.dumps({"applied": []}), trusted) is None
    # a start by an older version: no rules on record from then on
    start = record_of(10, 3, "start", json.dumps({"mode": "paper"}), trusted)
    assert start is not None and isinstance(start.of(5), Unrecorded)
    for data in ("{not json", json.dumps({"rules": [1]}), json.dumps({"rules": {"x": {}}})):
        damaged = record_of(10, 4, "config", data, trusted)
        assert damaged is not None and isinstance(damaged.of(5), Refused), data


SEVERAL = """\
journal:
  path: journal.sqlite
accounts:
  main:
    broker: {name: sim}
    algorithms:
      5: {strategy: allocation, params: {pct: 30, max_positions: 3}}
  family:
    broker: {name: sim}
    algorithms:
      5: {strategy: allocation, params: {pct: 10, max_positions: 3}}
      6: {strategy: fixed_notional, params: {notional: 5000}}
"""


def test_a_start_of_several_accounts_records_each_accounts_rules(tmp_path: Path) -> None:
    """Each account sizes an algorithm by its own rules: the record keeps them apart, and each
    account's legs are read against its own (an account that follows an algorithm the other
    does not has it; the other has it not in its config)."""
    path = tmp_path / "config.yaml"
    path.write_text(SEVERAL, encoding="utf-8")
    config = load_config(path, env={})
    data = rules_record(config)
    assert RULES_KEY not in data  # whose would it be? never one account's for all
    assert data[ACCOUNT_RULES_KEY]["main"]["5"]["params"]["pct"] == "30"
    trusted = trusted_strategies(config)
    text = json.dumps(data)
    main = record_of(10, 1, "start", text, trusted, account="main")
    family = record_of(10, 1, "start", text, trusted, account="family")
    assert main is not None and family is not None
    main_5, family_5 = main.of(5), family.of(5)
    assert isinstance(main_5, InForce) and isinstance(family_5, InForce)
    assert main_5.strategy.params.pct == D(30) and family_5.strategy.params.pct == D(10)
    assert isinstance(main.of(6), NotInConfig) and isinstance(family.of(6), InForce)
    # an account this run did not trade: nothing in its config
    gone = record_of(10, 1, "start", text, trusted, account="old")
    assert gone is not None and isinstance(gone.of(5), NotInConfig)
    # no account named: several cannot be told apart, refused with the reason, never merged
    blind = record_of(10, 1, "start", text, trusted)
    assert blind is not None and isinstance(refused := blind.of(5), Refused)
    assert "several accounts (family, main)" in refused.reason


def test_a_start_of_one_account_records_both_shapes(tmp_path: Path) -> None:
    """One account: its rules under ``rules`` as before accounts (older versions read them) and
    under its name; read with or without the name, the same rules."""
    config = load_config(_config(tmp_path), env={})
    data = rules_record(config)
    assert data[RULES_KEY] == rules_of(config) == data[ACCOUNT_RULES_KEY]["default"]
    trusted = trusted_strategies(config)
    for account in (None, "default"):
        record = record_of(10, 1, "start", json.dumps(data), trusted, account=account)
        assert record is not None and isinstance(found := record.of(ALGO), InForce)
        assert (
            found.strategy.params.model_dump(mode="json") == rules_of(config)[str(ALGO)]["params"]
        )
    # a row written before accounts: its rules are the one account's, by any name
    old = json.dumps({RULES_KEY: rules_of(config)})
    record = record_of(10, 1, "start", old, trusted, account="default")
    assert record is not None and isinstance(record.of(ALGO), InForce)
    damaged = record_of(10, 1, "start", json.dumps({ACCOUNT_RULES_KEY: [1]}), trusted)
    assert damaged is not None and isinstance(damaged.of(ALGO), Refused)


def test_the_rules_in_force_are_the_latest_at_or_before_the_leg() -> None:
    a, b = object(), object()
    history = RulesHistory(
        [
            Record(200, 20, {5: b}),  # type: ignore[dict-item]
            Record(100, 10, {5: a}),  # type: ignore[dict-item]
            Record(300, 30, {}),
        ]
    )
    assert isinstance(history.at(5, 99, 9), Unrecorded)
    assert history.at(5, 100, 11) == InForce(10, a)  # type: ignore[arg-type]
    assert history.at(5, 200, 19) == InForce(10, a)  # type: ignore[arg-type]  # same time, before
    assert history.at(5, 250, 25) == InForce(20, b)  # type: ignore[arg-type]
    assert history.at(5, 300, 31) == NotInConfig(30)
    assert history.at_end(5) == NotInConfig(30)


# -- generated histories: every leg by the rules in force when it arrived ----------------------
def _write(folder: Path, ops: Sequence[tuple[Any, ...]]) -> tuple[Path, dict[str, int | None]]:
    path = folder / "journal.sqlite"
    path.unlink(missing_ok=True)
    clock = Clock()
    in_force: dict[str, int | None] = {}
    with open_journal(path, clock=clock) as journal:
        play(journal, clock, ops, in_force)
    return path, in_force


def _expected_kind(index: int | None) -> type:
    if index is None:
        return Unrecorded
    recorded = RULE_SETS[index].get(str(ALGO))
    if recorded is None:
        return NotInConfig
    return InForce if index in (0, 1, 2) else Refused


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(OPS)
def test_each_leg_is_sized_by_the_rules_in_force_when_it_arrived(
    tmp_path: Path, ops: list[tuple[Any, ...]]
) -> None:
    path, in_force = _write(tmp_path, ops)
    config = load_config(_config(tmp_path), env={})
    with open_journal(path, readonly=True) as journal:
        rules = read_rules(journal, until=None, trusted=trusted_strategies(config))
        period = read_period(journal, ALGO, since=None, until=None)
        (t,) = track(journal, config, algo_ids=[ALGO], equity=EQUITY)
    sizer = LegSizer(rules, ALGO, config.algorithms[ALGO].sizer, EQUITY)
    d = decompose(period, sizer)
    sizes = ideal_sizes(period, sizer)
    assert set(sizer.used) == set(in_force)
    for key, index in in_force.items():
        _, found = sizer.used[key]
        assert isinstance(found, _expected_kind(index)), (key, index, found)
        # no rules, no size: never guessed from other rules
        assert (sizes[key] is None) == isinstance(found, NotInConfig | Refused), (key, found)
        if isinstance(found, InForce):
            assert index is not None
            params = found.strategy.params.model_dump(mode="json")
            assert params == RULE_SETS[index][str(ALGO)]["params"]
    absent = [k for k, i in in_force.items() if _expected_kind(i) is NotInConfig]
    assert list(t.not_in_config) == absent
    # the exact reconciliation still holds, whatever rules sized the legs
    td = t.decomposition
    assert td.parts == d.parts
    assert sum((p.money for p in td.parts), D(0)) == td.gap == td.algorithm.pnl - td.account.pnl
    assert t.reconciled, (td.account, t.reviewed)


# -- a scene: an allocation changed mid-period, the algorithm removed, and back ----------------
SCENE: list[tuple[Any, ...]] = [
    ("open", "AAA", "buy", D(50), "skip", 1, D(1), D(50)),  # before any rules: current config
    ("start", 0),  # pct 10 over 4: 2,500 a leg
    ("open", "BBB", "buy", D(25), "skip", 1, D(1), D(25)),  # 100 shares
    ("rules", 1),  # pct 25 over 5: 5,000 a leg
    ("open", "CCC", "buy", D(25), "skip", 1, D(1), D(25)),  # 200 shares
    ("rules", 3),  # the algorithm removed
    ("open", "AAA", "buy", D(40), "skip", 1, D(1), D(40)),  # sized by no rules
    ("rules", 2),  # back, at a fixed notional of 3,000
    # marks: AAA 60, BBB 30, CCC 15, each by a market order and its fill at that price
    ("open", "AAA", "buy", D(60), "market", 1, D(1), D(60)),  # 50 shares
    ("open", "BBB", "buy", D(30), "market", 1, D(1), D(30)),  # 100 shares
    ("open", "CCC", "buy", D(15), "market", 1, D(1), D(15)),  # 200 shares
]


def _json(config: Path, *args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, ["track", "--config", str(config), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_an_allocation_changed_mid_period_sizes_each_leg_by_its_own(tmp_path: Path) -> None:
    _write(tmp_path, SCENE)
    (row,) = _json(_config(tmp_path), "--algo", str(ALGO))
    # AAA at 50 by today's config (pct 10 / 4): 50 shares, +10 at 60 = 500; BBB 100 shares at
    # 25 (pct 10 / 4), +5 = 500; CCC 200 shares at 25 (pct 25 / 5), -10 = -2,000; the AAA at
    # 40 left out; the three traded by the notional of 3,000 are at their marks: 0
    assert row["algorithm_pnl"] == "-1000.00"
    assert row["not_in_config"]["count"] == 1
    (left_out,) = row["not_in_config"]["legs"]
    assert left_out.startswith(f"{ALGO}:open:AAA:buy:")
    notes = " ".join(row["notes"])
    assert "1 open legs arrived before the journal recorded the rules" in notes
    assert f"1 open legs arrived while algorithm {ALGO} was not in the config" in notes
    assert left_out in notes
    # the basis points are of the rules in force at the period's end: 3,000, and it says so
    assert row["allocation"] == "3000.00"
    assert "basis points are of the one in force at the period's end" in notes
    assert sum(map(D, row["parts"].values()), D(0)) == D(row["gap"])
    assert row["reconciled"] is True


def test_an_algorithm_removed_by_the_periods_end_keeps_its_last_allocation(
    tmp_path: Path,
) -> None:
    _write(tmp_path, SCENE[:7])  # it ends with the algorithm out of the config
    (row,) = _json(_config(tmp_path), "--algo", str(ALGO))
    assert row["allocation"] == "25000.00"  # pct 25 of 100,000: the last rules it had
    assert "basis points are of the last it had, from #" in " ".join(row["notes"])


def test_legs_under_rules_the_journal_cannot_give_back_are_said_never_sized(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        [
            ("rules", 4),  # code no config chose
            ("open", "AAA", "buy", D(50), "skip", 1, D(1), D(50)),
            ("rules", 5),  # params that fit no strategy
            ("open", "BBB", "buy", D(25), "skip", 1, D(1), D(25)),
            ("rules", 0),
            ("open", "AAA", "buy", D(60), "market", 1, D(1), D(60)),  # 2,500 / 60
            ("open", "BBB", "buy", D(30), "market", 1, D(1), D(30)),
        ],
    )
    (row,) = _json(_config(tmp_path), "--algo", str(ALGO))
    assert row["algorithm_pnl"] == "0.00"  # only the two at their own marks
    notes = " ".join(row["notes"])
    assert "never imports code)): left out of the algorithm's result: 5:open:AAA:buy:" in notes
    assert "do not fit strategy 'allocation'" in notes
    assert row["not_in_config"]["count"] == 0
    assert row["reconciled"] is True


def test_without_a_change_nothing_is_said_of_one(tmp_path: Path) -> None:
    _write(tmp_path, [("start", 0), *SCENE[2:3], ("rules", 0), *SCENE[-3:]])
    (row,) = _json(_config(tmp_path), "--algo", str(ALGO))
    notes = " ".join(row["notes"])
    assert "older version" not in notes
    assert "not in the config" not in notes
    assert "allocation changed" not in notes
    assert row["not_in_config"] == {"count": 0, "legs": []}
    assert row["allocation"] == "10000.00"


def test_an_algorithm_gone_from_the_config_is_sized_by_its_recorded_rules(
    tmp_path: Path,
) -> None:
    _write(tmp_path, [("start", 2), *SCENE[-3:]])
    (row,) = _json(_config(tmp_path, "journal:\n  path: journal.sqlite\n"))
    assert row["allocation"] == "3000.00"  # the rules recorded, not today's (none)
    assert "cannot be sized" not in " ".join(row["notes"])
    assert row["reconciled"] is True


def test_both_backends_read_the_same_rules(journal_at: str | Path, tmp_path: Path) -> None:
    """SQLite and PostgreSQL: the rules records read back alike, the same figures."""
    clock = Clock()
    with open_journal(journal_at, clock=clock) as journal:
        play(journal, clock, SCENE)
    config = load_config(_config(tmp_path), env={})
    with open_journal(journal_at, readonly=True) as journal:
        (t,) = track(journal, config, algo_ids=[ALGO], equity=EQUITY)
    assert t.decomposition.algorithm.pnl == D("-1000.00")
    assert len(t.not_in_config) == 1 and t.allocation == D(3000)
    assert t.reconciled
