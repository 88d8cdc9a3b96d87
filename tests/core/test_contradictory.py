"""One judge for a signal's legs (issue 19): contradictory legs are all refused, with their
identity; flips, re-entries, sequences and exact copies are not contradictions; every payload,
even one with nothing valid in it, leaves a rejection to journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import T0, make_book, run
from tradebot.core.orders import SkipReason
from tradebot.core.render import plan_json, plan_table
from tradebot.core.signal import LegKind, Refusal, Signal, parse_leg_key, parse_signal
from tradebot.journal import EntryFilter, Status, open_journal

STAMP = "2021-04-26T14:30:01"
LATER = "2021-04-26T14:30:02"


def leg(symbol: str, side: str, price: str = "100", at: str = STAMP, **extra: Any) -> Any:
    return {"symbol": symbol, "side": side, "price": price, "timestamp": at} | extra


def parse(payload: dict[str, Any]) -> Signal:
    return parse_signal(16, payload, received_at=T0.replace(second=5))


def refusals(signal: Signal) -> list[tuple[str, str | None, str]]:
    return [
        (str(r.refusal), r.leg_id.symbol if r.leg_id else None, str(r.kind))
        for r in signal.rejected
    ]


def test_an_open_buy_and_an_open_sell_of_one_symbol_are_both_refused() -> None:
    """Issue 19 #2: today one full-size order on the side of whichever leg came last."""
    signal = parse({"open": [leg("AAPL", "buy"), leg("AAPL", "sell"), leg("MU", "buy")]})
    assert [x.symbol for x in signal.legs] == ["MU"]
    assert refusals(signal) == [
        ("contradictory", "AAPL", "open"),
        ("contradictory", "AAPL", "open"),
    ]
    reason = signal.rejected[0].reason
    assert "contradict each other on AAPL (buy @ 100, sell @ 100)" in reason
    result = run(signal)
    assert [i.symbol for i in result.intents] == ["MU"]  # never an AAPL order
    skips = [s.reason for s in result.skipped]
    assert skips == [SkipReason.CONTRADICTORY, SkipReason.CONTRADICTORY]
    assert "contradictory" in plan_table(result)
    assert [s["reason"] for s in json.loads(plan_json(result))["skipped"]] == [
        "contradictory",
        "contradictory",
    ]


def test_one_side_at_two_prices_or_weights_is_contradictory_too() -> None:
    prices = parse({"open": [leg("AAPL", "buy", "100"), leg("AAPL", "buy", "101")]})
    assert prices.legs == () and len(prices.rejected) == 2
    assert {r.refusal for r in prices.rejected} == {Refusal.CONTRADICTORY}
    weights = parse({"open": [leg("AAPL", "buy", weight="0.2"), leg("AAPL", "buy", weight="0.3")]})
    assert weights.legs == () and {r.refusal for r in weights.rejected} == {Refusal.CONTRADICTORY}
    closes = parse({"close": [leg("AAPL", "buy"), leg("AAPL", "sell")]})
    assert closes.legs == () and {r.refusal for r in closes.rejected} == {Refusal.CONTRADICTORY}


def test_every_leg_of_a_contradicted_symbol_is_refused_its_close_too() -> None:
    signal = parse(
        {"close": [leg("AAPL", "sell", at="2021-04-26T14:30:00")], "open": [
            leg("AAPL", "buy"), leg("AAPL", "sell")
        ]}
    )  # fmt: skip
    assert signal.legs == ()
    assert [k for _, _, k in refusals(signal)] == ["close", "open", "open"]


def test_an_exact_copy_is_one_leg_not_a_contradiction() -> None:
    signal = parse({"open": [leg("AAPL", "buy"), leg("AAPL", "buy")]})
    (only,) = signal.legs
    assert only.symbol == "AAPL"
    (copy,) = signal.rejected
    assert copy.refusal is Refusal.INVALID and copy.reason.startswith("the same leg appears twice")
    assert copy.leg_id is None  # the leg itself stands: no refusal of its identity


def test_the_documented_flip_and_a_re_entry_still_trade() -> None:
    # the demo's long-to-short flip: close sell + open sell, one timestamp
    flip = parse({"close": [leg("VRTX", "sell")], "open": [leg("VRTX", "sell")]})
    assert flip.rejected == ()
    assert [(x.kind, x.symbol) for x in flip.legs] == [
        (LegKind.CLOSE, "VRTX"),
        (LegKind.OPEN, "VRTX"),
    ]
    result = run(flip, make_book(a16_VRTX=10))
    sides = [(str(i.role), str(i.side), str(i.qty)) for i in result.intents]
    assert sides == [("close", "sell", "10"), ("open", "sell", "10")]
    # a close and an open of one symbol with other sides and prices: a re-entry, not refused
    again = parse({"close": [leg("VRTX", "buy", "99")], "open": [leg("VRTX", "buy", "101")]})
    assert again.rejected == () and len(again.legs) == 2
    # a rotation: close X, open Y
    rotation = parse({"close": [leg("VRTX", "sell")], "open": [leg("MU", "buy")]})
    assert rotation.rejected == () and len(rotation.legs) == 2


def test_legs_of_one_symbol_at_different_times_are_a_sequence() -> None:
    signal = parse({"open": [leg("AAPL", "buy"), leg("AAPL", "sell", at=LATER)]})
    assert signal.rejected == () and len(signal.legs) == 2


def test_a_close_stamped_after_an_open_of_its_symbol_contradicts_it() -> None:
    """Closes go first: the bot would end holding what the algorithm closed after opening."""
    signal = parse({"close": [leg("AAPL", "sell", at=LATER)], "open": [leg("AAPL", "buy")]})
    assert signal.legs == ()
    assert refusals(signal) == [
        ("contradictory", "AAPL", "close"),
        ("contradictory", "AAPL", "open"),
    ]
    assert "a close at 2021-04-26T14:30:02+00:00 after an open" in signal.rejected[0].reason


def test_weights_over_the_whole_keep_the_refused_legs_identity() -> None:
    signal = parse({"open": [leg("AAPL", "buy", weight="0.7"), leg("MU", "buy", weight="0.7")]})
    assert signal.legs == ()
    assert [r.leg_id.key if r.leg_id else None for r in signal.rejected] == [
        f"16:open:AAPL:buy:{STAMP}Z",
        f"16:open:MU:buy:{STAMP}Z",
    ]
    assert {r.refusal for r in signal.rejected} == {Refusal.INVALID}


def test_a_misspelled_group_key_is_rejected_by_name() -> None:
    """Issue 19 #8: ``{"opne": [...]}`` left no record at all."""
    signal = parse({"opne": [leg("AAPL", "buy")]})
    (rejected,) = signal.rejected
    assert signal.legs == () and rejected.kind is None
    assert rejected.reason == "unknown key 'opne': a signal has only 'open' and 'close'"
    assert "AAPL" in rejected.raw
    # beside a valid group: the valid legs trade, the unknown key is still reported
    both = parse({"open": [leg("MU", "buy")], "clsoe": [leg("AAPL", "sell")]})
    assert [x.symbol for x in both.legs] == ["MU"] and len(both.rejected) == 1


def test_a_payload_with_no_legs_is_rejected_as_such() -> None:
    for payload in ({}, {"open": []}, {"close": [], "open": []}):
        (rejected,) = parse(payload).rejected
        assert rejected.reason.startswith("the signal has no legs")


def test_every_refusal_is_a_skip_reason() -> None:
    assert {str(r) for r in Refusal} <= {str(s) for s in SkipReason}


def test_the_journal_keeps_a_refused_legs_identity_and_reason(tmp_path: Path) -> None:
    payload = {"open": [leg("AAPL", "buy"), leg("AAPL", "sell"), leg("MU", "buy")], "opne": []}
    signal = parse(payload)
    with open_journal(tmp_path / "j.sqlite") as journal:
        journal.record_signal(signal)
        rows = journal.entries(EntryFilter(statuses=(Status.LEG_REJECTED,), newest_first=False))
        (stored,) = journal.unplanned_signals()
    assert [(e.leg, e.symbol, e.side) for e in rows] == [
        (None, None, None),  # the unknown key: no leg to name
        (f"16:open:AAPL:buy:{STAMP}Z", "AAPL", "buy"),
        (f"16:open:AAPL:sell:{STAMP}Z", "AAPL", "sell"),
    ]
    assert rows[1].data["refusal"] == "contradictory"
    # planned after a restart, the refusal is still contradictory, never re-judged as invalid
    replanned = run(stored.signal)
    reasons = [str(s.reason) for s in replanned.skipped]
    assert reasons == ["invalid", "contradictory", "contradictory"]


def test_a_leg_key_reads_back_into_its_identity() -> None:
    signal = parse({"open": [leg("BRK.B", "buy", at="2021-04-26T14:30:01.250")]})
    (only,) = signal.legs
    assert parse_leg_key(only.id.key) == only.id
    hold = "16:open:AAPL:hold:2021-04-26T14:30:01Z"
    for junk in ("", "16:open:AAPL:buy", hold, "x:open:A:buy:Z", "16:open:A:buy:2021-04-26"):
        with pytest.raises(ValueError):
            parse_leg_key(junk)
    # read, but not written that way: another leg's identity, never taken for this one
    for other in ("016:open:A:buy:2021-04-26T14:30:01Z", "16:open:a:buy:2021-04-26T14:30:01Z"):
        with pytest.raises(ValueError):
            parse_leg_key(other)
