"""Several accounts in one bot (issue 22): a real run with the AlphaHub simulator and one
in-process sim broker per account (each made from its own ``broker:`` section). Each signal is
journaled once and planned once per account following its algorithm, at that account's size,
under ids carrying its tag, on rows carrying its name; an account follows only its own
algorithms and obeys its own kill switch and its own broker circuit breaker (one account's
open circuit holds that account's orders alone); a signal of an algorithm nobody follows any
more is refused once. Every wait is for an event (the observers'), with a generous deadline."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.accounts_harness import (
    FAMILY,
    MAIN,
    account_servers,
    accounts_config,
    credentials_env,
    key_of,
    secret_of,
)
from tests.e2e.harness import move_market_to
from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.core.ids import account_of
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Status
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.bot import Bot
from tradebot.runtime.killswitch import account_switch_path, write_kill_switch
from tradebot.runtime.observer import BotEvent, FillsRecorded, SignalHandled, Started
from tradebot.simulators.alphahub.server import AlphaHubSimulator

SIM = "{name: sim, sim: {prices: {AAPL: 189.50, VRTX: 216.08, MSFT: 400}, fill_delay: 0.05}}"
CONFIG = """\
alphahub: {url: HUB, email: demo@example.com, password: demo, connections: 1}
journal: {path: journal/tradebot.sqlite}
risk: {kill_switch_file: tradebot.halt}
accounts:
  main:
    mode: paper
    broker: SIM
    algorithms:
      17: {strategy: fixed_notional, params: {notional: 5000}}
MAIN_14
  small:
    mode: paper
    broker: SIM
    algorithms:
      17: {strategy: fixed_notional, params: {notional: 1000}}
""".replace("SIM", SIM)


def _config(hub: str, main_14: str) -> str:
    return CONFIG.replace("HUB", hub).replace("MAIN_14\n", main_14)


MAIN_14 = "      14: {strategy: fixed_shares, params: {shares: 10}}"
DEADLINE = 15  # generous: each wait ends as soon as the event arrives


class Recorder:
    def __init__(self) -> None:
        self.events: list[BotEvent] = []
        self._moved = asyncio.Event()

    def notice(self, event: BotEvent) -> None:
        self.events.append(event)
        self._moved.set()

    async def until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            self._moved.clear()
            await self._moved.wait()

    async def all(self, match: Callable[[BotEvent], bool], count: int) -> list[BotEvent]:
        while True:
            found = [e for e in self.events if match(e)]
            if len(found) >= count:
                return found
            self._moved.clear()
            await self._moved.wait()


def _fills(events: list[BotEvent]) -> list[tuple[str, str]]:
    """(account, client order id) of every fill the observers were told of."""
    return [
        (e.account, f.client_order_id)
        for e in events
        if isinstance(e, FillsRecorded)
        for f in e.fills
    ]


def _handled(account: str, algo_id: int) -> Callable[[BotEvent], bool]:
    return lambda e: (
        isinstance(e, SignalHandled) and e.account == account and e.signal.algo_id == algo_id
    )


def _leg(symbol: str, side: str, price: float, back: int = 0) -> dict[str, object]:
    """A leg stamped ``back`` seconds ago (a leg's identity holds its second, not its price)."""
    stamp = (datetime.now(UTC) - timedelta(seconds=back)).strftime("%Y-%m-%dT%H:%M:%S")
    return {"symbol": symbol, "side": side, "price": price, "timestamp": stamp}


async def test_two_accounts_each_plan_their_algorithms_at_their_sizes(tmp_path: Path) -> None:
    recorder = Recorder()
    async with AlphaHubSimulator(port=0) as hub:
        config_path = tmp_path / "config.yaml"
        config_path.write_text(_config(hub.url, MAIN_14 + "\n"))
        config = load_config(config_path)
        out = io.StringIO()
        bot = Bot(
            config,
            config_path,
            Mode.PAPER,
            load=load_config,
            out=out,
            watch_interval=0.05,
        )
        bot.observe(recorder)
        running = asyncio.create_task(bot.run())
        try:
            async with asyncio.timeout(DEADLINE):
                await bot.ready.wait()
                started = await recorder.all(lambda e: isinstance(e, Started), 2)
                assert sorted(e.account for e in started if isinstance(e, Started)) == [
                    "main",
                    "small",
                ]
                await hub.wait_joined(17)
                await hub.wait_joined(14)
                # 17: both accounts follow it, each at its own size
                await hub.push(17, {"open": [_leg("AAPL", "buy", 189.4)]})
                await recorder.all(_handled("main", 17), 1)
                await recorder.all(_handled("small", 17), 1)
                # 14: main's alone
                await hub.push(14, {"open": [_leg("VRTX", "buy", 216.0)]})
                await recorder.all(_handled("main", 14), 1)
                filled = await recorder.all(lambda e: isinstance(e, FillsRecorded), 3)
                assert {e.account for e in filled if isinstance(e, FillsRecorded)} == {
                    "main",
                    "small",
                }
                # a halt of small alone: main trades, small's legs are skipped
                write_kill_switch(
                    account_switch_path(tmp_path / "tradebot.halt", "small"),
                    reduce_only=False,
                    reason="small paused",
                    now=datetime.now(UTC),
                )
                await hub.push(17, {"open": [_leg("MSFT", "buy", 400.1)]})
                await recorder.all(_handled("main", 17), 2)
                (*_, halted) = await recorder.all(_handled("small", 17), 2)
                assert isinstance(halted, SignalHandled)
                assert not halted.result.sent and halted.result.plan.skipped
                # 14 followed by nobody any more (a live edit): refused once, by one account
                config_path.write_text(_config(hub.url, ""))
                await recorder.all(lambda e: type(e).__name__ == "ConfigReloaded", 1)
                await hub.push(14, {"open": [_leg("VRTX", "buy", 215.9, back=2)]})
                await recorder.all(_handled("main", 14), 2)
                # every order filled: main's 17 twice and 14, small's first 17
                await recorder.until(lambda: len(_fills(recorder.events)) >= 4)
                engines = {e.name: e for e in bot.parts.engines} if bot.parts else {}
                # small's broker circuit opens on small's failures alone: main's orders still
                # go out, small's (halt lifted) is held unsent for the re-check
                small_circuit = engines["small"].circuit
                for _ in range(small_circuit.circuit.threshold):
                    await small_circuit.failed("small's broker: no answer")
                assert not small_circuit.allows() and engines["main"].circuit.allows()
                account_switch_path(tmp_path / "tradebot.halt", "small").unlink()
                await hub.push(17, {"close": [_leg("AAPL", "sell", 189.6, back=1)]})
                (*_, closed) = await recorder.all(_handled("main", 17), 3)
                assert isinstance(closed, SignalHandled) and closed.result.sent
                (*_, held) = await recorder.all(_handled("small", 17), 3)
                assert isinstance(held, SignalHandled) and not held.result.sent
                await recorder.until(lambda: len(_fills(recorder.events)) >= 5)
                main_holds = await engines["main"].broker.positions()
                small_holds = await engines["small"].broker.positions()
                assert bot.handled == 8  # each account's plans: 3 + 3 of 17, 2 of 14
        finally:
            bot.request_stop()
            await running
    # each account's narration names it: one signal, told once per account that followed it
    told = [line for line in out.getvalue().splitlines() if "from algorithm 17" in line]
    assert sorted(line.split(": signal")[0] for line in told) == [
        "account main",
        "account main",
        "account main",
        "account small",
        "account small",
        "account small",
    ]
    # what each broker holds: main 12 MSFT, 10 VRTX (26 AAPL bought, 5000 / 189.50, and sold);
    # small 5 AAPL (its close held while its circuit is open)
    assert main_holds == {"MSFT": Decimal(12), "VRTX": Decimal(10)}
    assert small_holds == {"AAPL": Decimal(5)}
    with open_journal(tmp_path / "journal" / "tradebot.sqlite") as journal:
        rows = journal.entries(EntryFilter())
        signals = [r for r in rows if r.status is Status.SIGNAL]
        assert len(signals) == 5  # each signal journaled once, whoever follows it
        assert {r.account for r in signals} == {""}  # shared by the accounts
        plans = Counter((r.account, r.algo_id) for r in rows if r.status is Status.PLAN)
        assert plans == {("main", 17): 3, ("small", 17): 3, ("main", 14): 2}
        intents = [r for r in rows if r.status is Status.INTENT]
        assert intents and all(account_of(r.client_order_id or "") == r.account for r in intents)
        assert Counter(r.account for r in intents) == {"main": 4, "small": 2}
        # small's close, planned while its circuit was open: durable, never sent, said why
        (held_intent,) = [r for r in intents if r.account == "small" and r.side == "sell"]
        held_rows = sorted(
            (r for r in rows if r.client_order_id == held_intent.client_order_id),
            key=lambda r: r.id,
        )
        assert [r.status for r in held_rows] == [Status.INTENT, Status.ERROR]
        assert "broker_unavailable" in (held_rows[1].detail or "")
        unknown = [
            r for r in rows if r.status is Status.SKIPPED and r.data.get("reason") == "algo_unknown"
        ]
        assert [(r.account, r.algo_id) for r in unknown] == [("main", 14)]
        assert {s: q for _a, s, q in journal.rebuild_book(account="main")} == {
            "MSFT": Decimal(12),
            "VRTX": Decimal(10),
        }
        assert {s: q for _a, s, q in journal.rebuild_book(account="small")} == {"AAPL": Decimal(5)}


async def test_each_alpaca_account_uses_its_own_keys_whatever_apca_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two local Alpaca servers, each letting in only its account's key pair; APCA_* holds
    main's: with several accounts it must reach no account (family's server would refuse it and
    family would never trade; main's keys would reach family's broker)."""
    for name, value in credentials_env([MAIN, FAMILY]).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("APCA_API_KEY_ID", key_of(MAIN))
    monkeypatch.setenv("APCA_API_SECRET_KEY", secret_of(MAIN))
    recorder = Recorder()
    with account_servers([MAIN, FAMILY]) as servers:
        async with AlphaHubSimulator(port=0) as hub:
            config_path = tmp_path / "config.yaml"
            config_path.write_text(accounts_config(hub.url, servers))
            config = load_config(config_path)
            bot = Bot(config, config_path, Mode.PAPER, load=load_config, out=io.StringIO())
            bot.observe(recorder)
            running = asyncio.create_task(bot.run())
            try:
                async with asyncio.timeout(DEADLINE):
                    await bot.ready.wait()
                    await hub.wait_joined(16)
                    payload = {"open": [_leg("JBHT", "buy", 168.56)]}
                    for server in servers.values():
                        move_market_to(server, payload)
                    await hub.push(16, payload)
                    for name in (MAIN, FAMILY):
                        (handled,) = await recorder.all(_handled(name, 16), 1)
                        assert isinstance(handled, SignalHandled) and handled.result.sent
            finally:
                bot.request_stop()
                await running
        held = {name: [o["client_order_id"] for o in s.orders()] for name, s in servers.items()}
    assert {name: [account_of(i) for i in ids] for name, ids in held.items()} == {
        MAIN: [MAIN],
        FAMILY: [FAMILY],
    }


async def test_a_signal_the_backfill_journals_only_is_decided_for_every_account(
    tmp_path: Path,
) -> None:
    """``alphahub.backfill: journal``: a signal missed during a lapse is journaled once with
    its legs skipped for each account following it, so no account finds it unplanned later
    (the next start's recovery would plan it; the leader's poll would)."""
    recorder = Recorder()
    async with AlphaHubSimulator(port=0) as hub:
        config_path = tmp_path / "config.yaml"
        text = _config(hub.url, MAIN_14 + "\n").replace(
            "connections: 1}", "connections: 1, backfill: journal}"
        )
        config_path.write_text(text)
        config = load_config(config_path)
        bot = Bot(config, config_path, Mode.PAPER, load=load_config, out=io.StringIO())
        bot.observe(recorder)
        running = asyncio.create_task(bot.run())
        try:
            async with asyncio.timeout(DEADLINE):
                await bot.ready.wait()
                await hub.wait_joined(17)
                hub.drop()  # every connection: the push reaches nobody, the backfill reads it
                await hub.push(17, {"open": [_leg("AAPL", "buy", 189.4)]})
                await recorder.all(lambda e: type(e).__name__ == "BackfillDelivered", 1)
        finally:
            bot.request_stop()
            await running
    with open_journal(tmp_path / "journal" / "tradebot.sqlite") as journal:
        rows = journal.entries(EntryFilter())
        plans = Counter((r.account, r.algo_id) for r in rows if r.status is Status.PLAN)
        assert plans == {("main", 17): 1, ("small", 17): 1}
        assert not [r for r in rows if r.status is Status.INTENT]
        for name in ("main", "small"):
            assert journal.unplanned_signals(account=name) == ()
