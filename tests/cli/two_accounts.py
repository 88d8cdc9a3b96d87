"""A journal of two accounts, ``main`` and ``family``, written through the journal's real
writers (``account=``), for the review commands' tests: both follow algorithm 16 into AAPL
(two positions in one symbol, each realising against its own cost), and the family's MSFT
order was rejected by its broker.

======  ==================================  ===========================  ========
account  AAPL                               realised                     MSFT
======  ==================================  ===========================  ========
main     buy 30 @ 100, sell 10 @ 110: 20    10 x (110 - 100) = 100       -
family   buy 10 @ 101, sell 4 @ 90: 6       4 x (90 - 101) = -44         rejected
======  ==================================  ===========================  ========

Added together (one position of 40 @ 100.25) the sells would realise 56.5, not 56.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.execution.fixed_planner import make_signal
from tradebot.core.events import OrderFilled
from tradebot.core.ids import client_order_id
from tradebot.core.order_shape import MARKET
from tradebot.core.orders import IntentRole, OrderIntent, Plan, TimeInForce
from tradebot.core.signal import Leg, Signal
from tradebot.journal import open_journal
from tradebot.journal.interface import Journal

BROKER = "PA-SHARED"
T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
ACCOUNTS = ("family", "main")
OPEN = make_signal(16, opens=(("AAPL", "buy", "100"),), received_at=T0, leg_time=T0)
CLOSE = make_signal(
    16,
    closes=(("AAPL", "sell", "110"),),
    received_at=T0 + timedelta(hours=1),
    leg_time=T0 + timedelta(hours=1),
)
MSFT = make_signal(
    17,
    opens=(("MSFT", "buy", "400"),),
    received_at=T0 + timedelta(hours=2),
    leg_time=T0 + timedelta(hours=2),
)
#: the family's MSFT order, which its broker rejected
REJECTED = client_order_id(BROKER, [MSFT.open_legs[0].id], "open", account="family")
#: account -> (bought, its price, sold, its price)
TRADES = {"main": ("30", "100", "10", "110"), "family": ("10", "101", "4", "90")}


def intent(leg: Leg, qty: str, account: str) -> OrderIntent:
    role = IntentRole.OPEN if leg.kind == "open" else IntentRole.CLOSE
    return OrderIntent(
        client_order_id=client_order_id(BROKER, [leg.id], role.value, account=account),
        algo_id=leg.algo_id,
        symbol=leg.symbol,
        side=leg.side,
        qty=Decimal(qty),
        price=MARKET,
        time_in_force=TimeInForce.DAY,
        role=role,
        leg_ids=(leg.id,),
        reference_price=leg.price,
    )


def fill(order: OrderIntent, price: str, at: datetime) -> OrderFilled:
    return OrderFilled(
        client_order_id=order.client_order_id,
        broker_order_id=f"b-{order.client_order_id}",
        at=at,
        symbol=order.symbol,
        side=order.side,
        qty=order.qty,
        price=Decimal(price),
        cum_qty=order.qty,
        order_qty=order.qty,
        partial=False,
    )


def _decide(journal: Journal, signal: Signal, plans: dict[str, Plan]) -> None:
    signal_id = None
    for account, plan in plans.items():
        if signal_id is None:
            signal_id, _ = journal.record_signal_and_plan(signal, plan, account=account)
        else:
            journal.record_plan(signal_id, plan, account=account)


def config_text(urls: dict[str, tuple[str, str]] | None = None) -> str:
    """A config of the two accounts; ``urls``: an account's local Alpaca server (REST and
    stream URL), else its broker is the sim."""
    text = "alphahub: {email: u@example.com, password: p}\naccounts:\n"
    for name in ("main", "family"):
        if urls and name in urls:
            url, stream = urls[name]
            broker = (
                f"{{name: alpaca, alpaca: {{url: {url}, stream_url: {stream}, data_url: {url}, "
                f"key_id: {name}-key, secret_key: {name}-secret, timeout: 5, max_attempts: 1}}}}"
            )
        else:
            broker = "{name: sim}"
        text += (
            f"  {name}:\n    broker: {broker}\n    algorithms:\n"
            "      16: {strategy: fixed_shares, params: {shares: 1}}\n"
            "      17: {strategy: fixed_shares, params: {shares: 1}}\n"
        )
    return text


def write(at: str | Path) -> str:
    """The two accounts' rows into the journal at ``at``; the family's rejected MSFT order's
    client order id."""
    with open_journal(at) as journal:
        (opened,) = OPEN.open_legs
        (closed,) = CLOSE.close_legs
        buys = {a: intent(opened, TRADES[a][0], a) for a in TRADES}
        sells = {a: intent(closed, TRADES[a][2], a) for a in TRADES}
        _decide(journal, OPEN, {a: Plan((buys[a],)) for a in TRADES})
        for a, order in buys.items():
            journal.record_event(fill(order, TRADES[a][1], OPEN.received_at), account=a)
        _decide(journal, CLOSE, {a: Plan((sells[a],)) for a in TRADES})
        for a, order in sells.items():
            journal.record_event(fill(order, TRADES[a][3], CLOSE.received_at), account=a)
        (leg,) = MSFT.open_legs
        rejected = intent(leg, "5", "family")
        _decide(journal, MSFT, {"family": Plan((rejected,))})
        journal.record_rejected(rejected.client_order_id, "insufficient buying power")
        return rejected.client_order_id


def on_backend(
    request: pytest.FixtureRequest,
    factory: pytest.TempPathFactory,
    writer: Callable[[str | Path], object] = write,
) -> str:
    """A module fixture's journal of the two accounts on ``request.param``'s backend
    (``"sqlite"`` or ``"postgres"``, a database of the shared ``pg_server``), written by
    ``writer``; its path or URL."""
    if request.param == "sqlite":
        at: str | Path = factory.mktemp("two") / "journal.sqlite"
    else:
        at = request.getfixturevalue("pg_server").create_database()
    writer(at)
    return str(at)
