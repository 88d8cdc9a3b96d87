"""Exit legs in the journal, on each backend: a bracket's legs, reported in their parent's
snapshot under our ids, are recorded under their own intents, so their fills rebuild the
algorithm's position; an exit is never re-sent by hand, a bracket entry is re-sent plain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.core.helpers import ACCOUNT, make_config, make_signal, run
from tests.scripted_broker import T0
from tradebot.core.order_shape import OrderClass
from tradebot.core.order_snapshot import OrderSnapshot, OrderStatus
from tradebot.core.signal import Side
from tradebot.exceptions import ResendRefused
from tradebot.execution.resend import plan_resend
from tradebot.journal import EntryFilter, Status, open_journal
from tradebot.journal.base import JournalBase

OPEN = make_signal(opens=[("AAPL", "buy", "100")])
CONFIG = make_config({16: {"exits": {"take_profit_pct": "5", "stop_loss_pct": "2"}}})


@pytest.fixture
def journal(journal_at: str | Path) -> Iterator[JournalBase]:
    with open_journal(journal_at) as j:
        yield j


def snap(
    coid: str,
    side: Side,
    status: OrderStatus,
    filled: str,
    price: str | None = None,
    legs: tuple[OrderSnapshot, ...] = (),
) -> OrderSnapshot:
    return OrderSnapshot(
        coid,
        f"b-{coid[-2:]}",
        "AAPL",
        side,
        D(10),
        D(filled),
        None if price is None else D(price),
        status,
        T0,
        legs=legs,
    )


def test_leg_fills_are_the_algorithms_by_our_ids(journal: JournalBase) -> None:
    plan = run(OPEN, config=CONFIG, account=ACCOUNT)
    entry, tp, sl = plan.intents
    journal.record_signal_and_plan(OPEN, plan)
    held = (
        snap(tp.client_order_id, Side.SELL, OrderStatus.PENDING, "0"),
        snap(sl.client_order_id, Side.SELL, OrderStatus.PENDING, "0"),
    )
    journal.record_snapshot(
        snap(entry.client_order_id, Side.BUY, OrderStatus.FILLED, "10", "100", held),
        source="submit",
    )
    assert journal.rebuild_book().qty(16, "AAPL") == D(10)
    ended = (
        snap(tp.client_order_id, Side.SELL, OrderStatus.CANCELED, "0"),
        snap(sl.client_order_id, Side.SELL, OrderStatus.FILLED, "10", "97.9"),
    )
    parent = snap(entry.client_order_id, Side.BUY, OrderStatus.FILLED, "10", "100", ended)
    (fill,) = journal.record_snapshot(parent, source="lookup")
    assert (fill.client_order_id, fill.algo_id, fill.side, fill.qty) == (
        sl.client_order_id,
        16,
        Side.SELL,
        D(10),
    )
    assert journal.record_snapshot(parent, source="lookup") == ()  # once only
    assert journal.rebuild_book().qty(16, "AAPL") == 0
    rows = journal.entries(EntryFilter(client_order_ids=(tp.client_order_id,)))
    assert {r.status for r in rows} >= {Status.ACCEPTED, Status.CANCELED}
    assert journal.unresolved_intents() == ()


def test_exits_are_not_resent_by_hand_and_a_bracket_is_resent_plain(journal: JournalBase) -> None:
    plan = run(OPEN, config=CONFIG, account=ACCOUNT)
    entry, tp, _ = plan.intents
    journal.record_signal_and_plan(OPEN, plan)
    journal.record_rejected(entry.client_order_id, "no buying power")
    journal.record_failed(tp.client_order_id, "its entry was rejected")
    with pytest.raises(ResendRefused, match="is an exit"):
        plan_resend(journal, tp.client_order_id)
    again = plan_resend(journal, entry.client_order_id).intent
    assert again.order_class is OrderClass.SIMPLE and again.exits == entry.exits
    assert replace(again, notes=()).attached is None


def test_unresolved_intents_narrow_to_one_algorithm_and_its_symbols(journal: JournalBase) -> None:
    """What a close asks for (the exits in its way), read through the symbol index."""
    signals = {
        (16, "AAPL"): make_signal(opens=[("AAPL", "buy", "100")]),
        (16, "MSFT"): make_signal(opens=[("MSFT", "buy", "100")]),
        (17, "AAPL"): make_signal(algo_id=17, opens=[("AAPL", "buy", "100")]),
    }
    config = make_config(
        {a: {"exits": {"take_profit_pct": "5", "stop_loss_pct": "2"}} for a in (16, 17)}
    )
    for signal in signals.values():
        journal.record_signal_and_plan(signal, run(signal, config=config, account=ACCOUNT))
    everything = journal.unresolved_intents()
    assert len(everything) == 9  # three brackets: each entry with its two legs
    mine = journal.unresolved_intents(algo_id=16, symbols=("AAPL",))
    assert {(s.intent.algo_id, s.intent.symbol) for s in mine} == {(16, "AAPL")}
    assert len(mine) == 3
    both = journal.unresolved_intents(algo_id=16, symbols=("AAPL", "MSFT"))
    assert len(both) == 6
    assert {s.intent.algo_id for s in journal.unresolved_intents(symbols=("AAPL",))} == {16, 17}
