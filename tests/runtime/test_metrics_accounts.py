"""``/metrics`` per account (issue 22): every series an account causes carries an ``account``
label, from the event's account or the account the client order id names; its values stay the
config's accounts. A real SQLite journal wrapped as the bot wraps it, written as two accounts'
executors write it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from prometheus_client import CollectorRegistry

from tests.execution.fixed_planner import make_signal, simple_plan
from tests.runtime.test_metrics import samples
from tests.scripted_broker import T0
from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.core.book import PositionBook
from tradebot.core.events import OrderFilled
from tradebot.core.ids import client_order_id
from tradebot.core.order_snapshot import OrderSnapshot
from tradebot.core.orders import OrderIntent, Plan
from tradebot.execution.circuit import CircuitChange
from tradebot.execution.executor import ExecutionResult, OrderOutcome
from tradebot.execution.recovery import Settled
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.bot import Bot
from tradebot.runtime.latency_metrics import LatencyMetrics
from tradebot.runtime.metrics import OTHER_ACCOUNT, BotMetrics, timed
from tradebot.runtime.metrics_gauges import AccountGauges
from tradebot.runtime.observer import (
    BrokerCircuitChanged,
    OrdersSettled,
    OrderSubmitting,
    SignalHandled,
)

Key = tuple[str, frozenset[tuple[str, str]]]


def key(name: str, **labels: str) -> Key:
    return (name, frozenset(labels.items()))


def _as(account: str, intent: OrderIntent) -> OrderIntent:
    """``intent`` as ``account`` decides it: its id names the account."""
    coid = client_order_id("ACCT", intent.leg_ids, str(intent.role), account=account)
    return replace(intent, client_order_id=coid)


def _plan(account: str) -> Plan:
    signal = make_signal(16, opens=(("AAPL", "buy", "100"),))
    plan = simple_plan(signal, PositionBook())
    return replace(plan, intents=tuple(_as(account, i) for i in plan.intents))


def _fill(intent: OrderIntent) -> OrderFilled:
    return OrderFilled(
        client_order_id=intent.client_order_id,
        broker_order_id="b-" + intent.client_order_id,
        at=T0,
        symbol=intent.symbol,
        side=intent.side,
        qty=intent.qty,
        price=Decimal("100.01"),
        cum_qty=intent.qty,
        order_qty=intent.qty,
        partial=False,
    )


def test_orders_and_fills_count_under_the_account_their_id_names(tmp_path: Path) -> None:
    """Two accounts trade the same leg: each order and fill under its own account, with the
    algorithm read after the account's prefix (``family.tb16-...`` is algorithm 16's)."""
    metrics = BotMetrics(("default", "family"))
    wrap, _ = timed(metrics)
    with open_journal(tmp_path / "j.sqlite") as store:
        journal = wrap(store)
        signal_id = journal.record_signal(make_signal(16, opens=(("AAPL", "buy", "100"),)))
        for account in ("default", "family"):
            (intent,) = journal.record_plan(signal_id, _plan(account), account=account)
            snapshot = OrderSnapshot.accepted(intent, "b-" + intent.client_order_id, T0)
            journal.record_snapshot(snapshot, source="submit", account=account)
            journal.record_events([_fill(intent)], account=account)
    # after a restart the algorithm of an order comes from its id alone: the re-check finds
    # one of family's at the broker
    metrics._algo_of.clear()
    found = _as("family", make_plan_intent("NVDA")).client_order_id
    metrics.notice(OrdersSettled(Settled(found=(found,)), account="family"))
    seen = samples(metrics)
    for account, accepted in (("default", 1), ("family", 2)):
        labels = {"account": account, "algo": "16"}
        assert seen[key("tradebot_orders_total", **labels, outcome="accepted")] == accepted
        assert seen[key("tradebot_orders_total", **labels, outcome="filled")] == 1
        assert seen[key("tradebot_fills_total", **labels)] == 1


def make_plan_intent(symbol: str) -> OrderIntent:
    signal = make_signal(16, opens=((symbol, "buy", "100"),))
    return simple_plan(signal, PositionBook()).intents[0]


def test_an_id_naming_an_account_the_config_lacks_counts_under_the_broker_that_showed_it() -> None:
    """Cardinality stays the config's: an order whose id names an unknown account (another
    config's, at the same broker) counts under the account whose broker showed it; with no
    such account either, under ``other``."""
    metrics = BotMetrics(("main",))
    stranger = _as("stranger", make_plan_intent("AAPL")).client_order_id
    metrics.notice(OrdersSettled(Settled(found=(stranger,)), account="main"))
    metrics.notice(OrdersSettled(Settled(found=(stranger,)), account="gone"))
    # an id naming a configured account is that account's, whoever's write tells of it
    family = BotMetrics(("main", "family"))
    theirs = _as("family", make_plan_intent("AAPL")).client_order_id
    family.notice(OrdersSettled(Settled(found=(theirs,)), account="main"))
    labels = {"account": "family", "algo": "16", "outcome": "accepted"}
    assert samples(family)[key("tradebot_orders_total", **labels)] == 1
    seen = samples(metrics)
    accounts = {dict(labels).get("account") for _, labels in seen} - {None}
    assert accounts == {"main", OTHER_ACCOUNT}
    for account in ("main", OTHER_ACCOUNT):
        labels = {"account": account, "algo": "16", "outcome": "accepted"}
        assert seen[key("tradebot_orders_total", **labels)] == 1


def test_signals_and_legs_under_the_account_that_handled_them() -> None:
    metrics = BotMetrics(("default", "family"))
    signal = make_signal(16, opens=(("AAPL", "buy", "100"),))
    result = ExecutionResult(None, _plan("family"), ())
    metrics.notice(SignalHandled(signal, result, account="family"))
    seen = samples(metrics)
    assert seen[key("tradebot_signals_total", account="family", algo="16")] == 1
    assert key("tradebot_signals_total", account="default", algo="16") not in seen
    assert seen[key("tradebot_legs_total", account="family", algo="16", outcome="planned")] == 1


def test_the_circuit_of_one_account_opens_alone() -> None:
    metrics = BotMetrics(("main", "family"))
    change = CircuitChange(open=True, failures=3, detail="HTTP 503", open_for=0.0)
    metrics.notice(BrokerCircuitChanged(change, T0, account="family"))
    assert metrics.circuit_open == {"family": True}
    metrics.notice(BrokerCircuitChanged(replace(change, open=False), T0, account="family"))
    assert metrics.circuit_open == {"family": False}


def test_two_accounts_handling_one_signal_each_time_their_own_orders() -> None:
    """Both accounts' orders leave before either's signal is handled: each handled signal
    observes its own orders, and the other's are kept for its own."""
    registry = CollectorRegistry()
    latency = LatencyMetrics(registry)
    received = datetime.fromisoformat("2026-11-24T14:30:05+00:00")
    signal = make_signal(16, opens=(("AAPL", "buy", "100"),), received_at=received)
    plans = {a: _plan(a) for a in ("main", "family")}
    for n, (account, plan) in enumerate(plans.items(), start=1):
        at = received + timedelta(seconds=n / 10)
        latency.notice(OrderSubmitting(at, plan.intents[0], account=account))
    for account, plan in plans.items():
        intent = plan.intents[0]
        answered = OrderOutcome(intent, OrderSnapshot.accepted(intent, "b", received))
        latency.notice(
            SignalHandled(signal, ExecutionResult(None, plan, (answered,)), account=account)
        )
    for account, seconds in (("main", 0.1), ("family", 0.2)):
        labels = {"account": account, "algo": "16"}
        count = registry.get_sample_value("tradebot_signal_to_order_seconds_count", labels)
        total = registry.get_sample_value("tradebot_signal_to_order_seconds_sum", labels)
        assert (count, total) == (1, seconds), account


def test_each_account_has_its_own_broker_gauges(tmp_path: Path) -> None:
    """Equity, cash, reachability and the circuit, one series per account the bot knows."""
    path = tmp_path / "config.yaml"
    path.write_text(
        "alphahub: {url: 'http://127.0.0.1:9', email: a@example.com, password: p}\n"
        "broker: {name: sim}\n"
        "algorithms:\n  17: {strategy: fixed_shares, params: {shares: 1}}\n"
    )
    bot = Bot(load_config(path), path, Mode.PAPER, load=load_config)
    metrics = BotMetrics(("main", "family"))
    known = {
        "main": AccountGauges(Decimal("1000.5"), Decimal(250), reachable=True),
        "family": AccountGauges(None, None, reachable=False),
    }
    metrics.watch(bot, accounts=lambda: known)
    change = CircuitChange(open=True, failures=3, detail="HTTP 503")
    metrics.notice(BrokerCircuitChanged(change, T0, account="family"))
    seen = samples(metrics)
    assert seen[key("tradebot_equity_usd", account="main")] == 1000.5
    assert seen[key("tradebot_cash_usd", account="main")] == 250
    assert key("tradebot_equity_usd", account="family") not in seen  # never read: no number
    assert seen[key("tradebot_broker_reachable", account="main")] == 1
    assert seen[key("tradebot_broker_reachable", account="family")] == 0
    assert seen[key("tradebot_broker_circuit_open", account="main")] == 0
    assert seen[key("tradebot_broker_circuit_open", account="family")] == 1
