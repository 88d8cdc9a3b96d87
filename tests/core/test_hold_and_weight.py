"""``hold`` legs and per-leg ``weight`` through the planner, the plan's text and the journal."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from tests.core.helpers import T0, make_config, run
from tradebot.core.orders import SkipReason
from tradebot.core.render import plan_json, plan_table
from tradebot.core.signal import parse_signal
from tradebot.execution.executor import ExecutionResult
from tradebot.journal import EntryFilter, Status, open_journal
from tradebot.runtime.narrate import narrate

STAMP = "2021-04-26T14:30:01"


def leg(symbol: str, side: str, **extra: object) -> dict[str, object]:
    return {"symbol": symbol, "side": side, "price": "100", "timestamp": STAMP} | extra


SIGNAL = parse_signal(
    16,
    {"close": [leg("KEEP", "hold")], "open": [leg("AAA", "buy", weight="0.5"), leg("BBB", "buy")]},
    received_at=T0,
)
ALLOCATION = make_config(
    {16: {"strategy": "allocation", "params": {"pct": 30, "max_positions": 3}}}
)


def test_a_hold_leg_is_skipped_as_hold_never_an_order_nor_invalid() -> None:
    result = run(SIGNAL)
    assert [i.symbol for i in result.intents] == ["AAA", "BBB"]
    (skip,) = result.skipped
    assert skip.reason is SkipReason.HOLD and skip.key == "16:close:KEEP:hold:2021-04-26T14:30:01Z"
    assert "hold" in plan_table(result)
    assert json.loads(plan_json(result))["skipped"][0]["reason"] == "hold"


def test_a_hold_leg_stays_hold_when_the_whole_signal_is_skipped() -> None:
    result = run(SIGNAL, config=make_config({16: {"enabled": False}}))
    reasons = {s.key: s.reason for s in result.skipped}
    assert reasons["16:close:KEEP:hold:2021-04-26T14:30:01Z"] is SkipReason.HOLD
    assert {r for r in reasons.values()} == {SkipReason.HOLD, SkipReason.ALGO_DISABLED}


def test_allocation_sizes_a_weighted_leg_by_its_weight_and_the_plan_says_so() -> None:
    result = run(SIGNAL, config=ALLOCATION)
    by_symbol = {i.symbol: i for i in result.intents}
    # 30% of 100,000 x 0.5 = 15,000 at 100; the unweighted leg gets the even split, 10,000
    assert by_symbol["AAA"].qty == 150 and by_symbol["BBB"].qty == 100
    assert any("weight 0.5" in note for note in by_symbol["AAA"].notes)
    assert not any("weight" in note for note in by_symbol["BBB"].notes)
    assert "weight 0.5" in plan_table(result)


def test_the_bots_paragraph_names_the_hold() -> None:
    text = narrate(16, SIGNAL.leg_count, ExecutionResult(7, run(SIGNAL), ()))
    assert text.startswith("signal 7 from algorithm 16, 3 leg(s) -> 2 order(s), 1 skipped")
    assert "skipped close hold KEEP: hold (the signal says keep the position" in text


def test_the_journal_records_the_hold_and_the_weight_and_recovery_restores_them(
    tmp_path: Path,
) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        signal_id = journal.record_signal(SIGNAL)
        (stored,) = journal.unplanned_signals()
        assert stored.signal.held == SIGNAL.held
        assert [leg.weight for leg in stored.signal.legs] == [Decimal("0.5"), None]
        journal.record_plan(signal_id, run(SIGNAL))
        (row,) = journal.entries(EntryFilter(statuses=(Status.SKIPPED,)))
    assert row.leg == "16:close:KEEP:hold:2021-04-26T14:30:01Z"
    assert row.symbol == "KEEP" and row.algo_id == 16 and row.data["reason"] == "hold"
