"""Deliberate re-sends: only after a failure, only what did not fill, and only once."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.execution.fixed_planner import make_signal, simple_plan
from tests.scripted_broker import T0
from tradebot.core.book import PositionBook
from tradebot.core.order_snapshot import OrderSnapshot, OrderStatus
from tradebot.core.orders import Plan
from tradebot.core.signal import Side
from tradebot.exceptions import ResendRefused
from tradebot.execution.resend import plan_resend
from tradebot.journal import open_journal
from tradebot.journal.base import JournalBase


@pytest.fixture
def journal(journal_at: str | Path) -> Iterator[JournalBase]:
    """A journal on each backend: these tests are the store's behaviour, whichever it is."""
    with open_journal(journal_at) as j:
        yield j


def planned(journal: JournalBase) -> str:
    signal = make_signal(7, opens=(("AAPL", "buy", "189"),))
    _, (intent,) = journal.record_signal_and_plan(signal, simple_plan(signal, PositionBook()))
    return intent.client_order_id


def snapshot(cid: str, status: OrderStatus, filled: str) -> OrderSnapshot:
    return OrderSnapshot(
        cid, "b-1", "AAPL", Side.BUY, Decimal(10), Decimal(filled), Decimal(189), status, T0
    )


def test_only_an_order_that_ended_without_filling_can_be_sent_again(
    journal: JournalBase,
) -> None:
    with pytest.raises(ResendRefused, match="no order"):
        plan_resend(journal, "tb7-NOPE-o-0000")
    cid = planned(journal)
    with pytest.raises(ResendRefused, match="no final outcome"):
        plan_resend(journal, cid)
    journal.record_snapshot(snapshot(cid, OrderStatus.FILLED, "10"), source="submit")
    with pytest.raises(ResendRefused, match="ended filled"):
        plan_resend(journal, cid)


def test_a_rejected_order_is_sent_again_whole_under_the_next_attempt_id(
    journal: JournalBase,
) -> None:
    cid = planned(journal)
    journal.record_rejected(cid, "insufficient buying power")
    again = plan_resend(journal, cid)
    assert again.intent.client_order_id == f"{cid}-a1" and again.intent.attempt == 1
    assert again.intent.qty == Decimal(10)
    assert "insufficient buying power" in again.outcome
    assert again.intent.leg_ids == again.original.leg_ids


def test_after_a_partial_fill_and_a_cancel_only_the_rest_is_sent(journal: JournalBase) -> None:
    cid = planned(journal)
    journal.record_snapshot(snapshot(cid, OrderStatus.CANCELED, "4"), source="lookup")
    assert plan_resend(journal, cid).intent.qty == Decimal(6)


def test_a_resend_that_failed_again_may_be_sent_a_third_time_but_not_a_live_one(
    journal: JournalBase,
) -> None:
    cid = planned(journal)
    journal.record_rejected(cid, "market closed")
    first = plan_resend(journal, cid).intent
    journal.record_plan(None, Plan(intents=(first,)))
    with pytest.raises(ResendRefused, match=f"already sent again as {first.client_order_id}"):
        plan_resend(journal, cid)  # the re-send is live
    journal.record_rejected(first.client_order_id, "market closed")
    second = plan_resend(journal, first.client_order_id).intent
    assert second.client_order_id == f"{cid}-a2" and second.attempt == 2
