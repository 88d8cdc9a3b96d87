"""The order outcomes as the journal's writes count them, each once per order however often the
broker reports it; the up gauge from the bot's start and stop. A real SQLite journal wrapped as
the bot wraps it, the real executor, the scripted broker."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.execution.fixed_planner import make_signal, simple_plan
from tests.scripted_broker import ACCEPT, T0, ScriptedBroker
from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.core.book import PositionBook
from tradebot.core.events import OrderFilled, OrderRejectedEvent
from tradebot.core.signal import Side
from tradebot.execution import Executor
from tradebot.execution.recovery import RecoveryReport, Settled
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.bot import Bot
from tradebot.runtime.metrics import BotMetrics, timed
from tradebot.runtime.observer import OrdersSettled, Started, Stopped


def samples(metrics: BotMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.render().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def orders(outcome: str, algo: str = "17") -> tuple[str, frozenset[tuple[str, str]]]:
    labels = {("account", "default"), ("algo", algo), ("outcome", outcome)}
    return ("tradebot_orders_total", frozenset(labels))


async def test_each_order_counted_once_however_often_the_broker_reports_it(
    tmp_path: Path,
) -> None:
    metrics = BotMetrics()
    wrap, _ = timed(metrics)
    with open_journal(tmp_path / "j.sqlite") as store:
        journal = wrap(store)
        broker = ScriptedBroker(fill=False)
        executor = Executor(journal, broker, journal.rebuild_book())
        broker.script = [ACCEPT, ACCEPT]
        signal = make_signal(17, opens=(("AAPL", "buy", "100"), ("NVDA", "buy", "100")))
        result = await executor.handle(signal, simple_plan)
        aapl, nvda = (o.intent.client_order_id for o in result.outcomes)
        # AAPL fills in two parts, and the stream then repeats the last one (a reconnect);
        # each event in a write of its own, as they arrive apart
        whole = broker.orders[aapl].qty

        def fill(cum: Decimal) -> OrderFilled:
            return OrderFilled(
                client_order_id=aapl,
                broker_order_id=broker.orders[aapl].broker_order_id,
                at=T0,
                symbol="AAPL",
                side=Side.BUY,
                qty=whole / 2,
                price=Decimal("100.01"),
                cum_qty=cum,
                order_qty=whole,
                partial=cum < whole,
            )

        for event in (fill(whole / 2), fill(whole), fill(whole)):
            await executor.apply_events([event])
        # the broker refuses NVDA after accepting it, and says so twice
        refused = OrderRejectedEvent(
            client_order_id=nvda, broker_order_id=None, at=T0, reason="halted symbol"
        )
        await executor.apply_events([refused])
        await executor.apply_events([replace(refused)])
    seen = samples(metrics)
    assert seen[orders("accepted")] == 2
    assert seen[orders("filled")] == 1
    assert seen[orders("rejected")] == 1
    assert orders("failed") not in seen
    assert (
        seen[("tradebot_fills_total", frozenset({("account", "default"), ("algo", "17")}))] == 2
    )  # the two parts
    assert not [name for name, _ in seen if name.endswith("_created")]


def test_an_order_the_recheck_finds_at_the_broker_is_accepted() -> None:
    metrics = BotMetrics()
    metrics.notice(OrdersSettled(Settled(found=("tb17-AAPL-o-0123456789abcdef",))))
    assert samples(metrics)[orders("accepted")] == 1


def test_up_from_the_start_until_the_stop(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "alphahub: {url: 'http://127.0.0.1:9', email: a@example.com, password: p}\n"
        "broker: {name: sim}\n"
        "algorithms:\n  17: {strategy: fixed_shares, params: {shares: 1}}\n"
    )
    config = load_config(path)
    bot = Bot(config, path, Mode.PAPER, load=load_config)
    metrics = BotMetrics()
    metrics.watch(bot, accounts=dict)
    up = ("tradebot_up", frozenset())
    assert samples(metrics)[up] == 0  # recovery not done
    report = RecoveryReport(PositionBook(), (), (), (), (), (), (), ())
    metrics.notice(Started(Mode.PAPER, "sim", "acct", report))
    assert samples(metrics)[up] == 1
    metrics.notice(Stopped())
    assert samples(metrics)[up] == 0
