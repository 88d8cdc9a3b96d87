"""``tradebot demo --accounts``: two accounts with different allocations trade the same signals.

The session of :mod:`tradebot.demo.scenario`, played to one bot whose config has two accounts
(``accounts:``), ``main`` with the demo's allocations and ``family`` with smaller ones, each at
its own local Alpaca server letting in only its own key pair. One listener, one journal; each
account plans from its own ledger and sends to its own broker. The demo ends with the report
(``tradebot report``, each account apart), each account's result (its orders filled, its
positions, cash and equity at its broker), and the accounts side by side against the algorithms
they follow (``tradebot track``'s closing table).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.core.ids import DEFAULT_ACCOUNT, account_of
from tradebot.demo.runner import ALGORITHMS, STEP_TIMEOUT, played, prepare_folder
from tradebot.demo.scenario import Step, market_prices, steps
from tradebot.journal.interface import EntryFilter
from tradebot.journal.opener import open_journal
from tradebot.journal.records import Status
from tradebot.runtime.bot import Bot
from tradebot.runtime.observer import BotEvent, FillsRecorded, SignalHandled
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.simulators.alphahub.server import AlphaHubSimulator

#: the local Alpaca servers trade this far above the signal price (as in the one-account demo)
FILL_OFFSET = Decimal("0.03")
CASH = Decimal(100000)


@dataclass(frozen=True)
class DemoAccount:
    name: str
    #: (algorithm, name, strategy, params, extra YAML): what the account follows and its sizing
    algorithms: tuple[tuple[int, str, str, str, str], ...]

    def sizing(self) -> str:
        """One line: each algorithm's sizing, for the result."""
        return ", ".join(f"{a} {s} {p}" for a, _n, s, p, _x in self.algorithms)


_SHORT = "allow_short: true"
_EXITS = "exits: {take_profit_pct: 6, stop_loss_pct: 3}"
#: the same signals, two allocations: family follows every algorithm with half main's sizes
ACCOUNTS = (
    DemoAccount(
        "main",
        (
            (14, "Minotaur 1-Stock", "allocation", "{pct: 20, max_positions: 1}", _SHORT),
            (16, "Minotaur 3-Stock", "allocation", "{pct: 30, max_positions: 3}", _SHORT),
            (17, "Minotaur Optimus 1", "allocation", "{pct: 20, max_positions: 1}", ""),
            (18, "The Optimizer", "percent_of_equity", "{pct: 10}", _EXITS),
        ),
    ),
    DemoAccount(
        "family",
        (
            (14, "Minotaur 1-Stock", "allocation", "{pct: 10, max_positions: 1}", _SHORT),
            (16, "Minotaur 3-Stock", "allocation", "{pct: 15, max_positions: 3}", _SHORT),
            (17, "Minotaur Optimus 1", "allocation", "{pct: 10, max_positions: 1}", ""),
            (18, "The Optimizer", "percent_of_equity", "{pct: 5}", _EXITS),
        ),
    ),
)


def _key(name: str) -> tuple[str, str]:
    return f"demo-{name}-key", f"demo-{name}-secret"


def _account_yaml(account: DemoAccount, server: AlpacaServer) -> str:
    key, secret = _key(account.name)
    lines = [
        f"  {account.name}:",
        "    mode: paper",
        "    broker:",
        "      name: alpaca",
        "      alpaca:",
        f"        url: {server.url}",
        f"        stream_url: {server.stream_url}",
        f"        data_url: {server.url}",
        f"        key_id: {key}",
        f"        secret_key: {secret}",
        "    algorithms:",
    ]
    for algo_id, title, strategy, params, extra in account.algorithms:
        lines += [
            f"      {algo_id}:",
            f"        name: {title}",
            f"        strategy: {strategy}",
            f"        params: {params}",
        ]
        if extra:
            lines.append(f"        {extra}")
    return "\n".join(lines) + "\n"


def accounts_demo_config(alphahub_url: str, servers: dict[str, AlpacaServer]) -> str:
    accounts = "".join(_account_yaml(a, servers[a.name]) for a in ACCOUNTS)
    return f"""\
# Written by `tradebot demo --accounts`: every service here is a local simulator on 127.0.0.1.
alphahub:
  url: {alphahub_url}
  email: demo@example.com
  password: demo
  connections: 2
  heartbeat_interval: 5
journal:
  path: journal/tradebot.sqlite
risk:
  max_order_notional: 25000
  max_signal_age: 300
  kill_switch_file: tradebot.halt
accounts:
{accounts}"""


@contextlib.contextmanager
def _servers() -> Iterator[dict[str, AlpacaServer]]:
    with contextlib.ExitStack() as stack:
        servers = {}
        for account in ACCOUNTS:
            key, secret = _key(account.name)
            server = AlpacaServer(key=key, secret=secret, cash=CASH)
            server.account.account_number = f"PA00DEMO{account.name.upper()}"  # two accounts
            server.start()
            stack.callback(server.stop)
            servers[account.name] = server
        yield servers


class _PerAccount:
    """What each account has done so far, from the bot's events: signals handled and fills
    recorded (a fill's account is its client order id's tag)."""

    def __init__(self) -> None:
        self.handled: Counter[str] = Counter()
        self.fills: dict[str, list[tuple[int, str]]] = {a.name: [] for a in ACCOUNTS}
        self.changed = asyncio.Event()

    def notice(self, event: BotEvent) -> None:
        if isinstance(event, SignalHandled):
            self.handled[getattr(event, "account", DEFAULT_ACCOUNT)] += 1
        elif isinstance(event, FillsRecorded):
            for fill in event.fills:
                account = account_of(fill.client_order_id)
                self.fills.setdefault(account, []).append((fill.algo_id, fill.symbol))
        else:
            return
        self.changed.set()

    async def until(self, done: Callable[[], bool]) -> None:
        while not done():
            self.changed.clear()
            await self.changed.wait()


async def run_accounts_demo(folder: Path, *, out: TextIO) -> Path:
    """Play the scenario to two accounts; returns the config file."""
    prepare_folder(folder)

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    with _servers() as servers:
        async with AlphaHubSimulator(port=0) as hub:
            config_path = folder / "config.yaml"
            config_path.write_text(accounts_demo_config(hub.url, servers))
            config = load_config(config_path)
            bot = Bot(config, config_path, Mode.PAPER, load=load_config, out=out)
            seen = _PerAccount()
            bot.observe(seen)
            await played(bot, hub, lambda: _play(hub, servers, seen, say))
            await asyncio.to_thread(_report, config_path, say)
            say("\n== each account's result")
            for line in results(folder / "journal" / "tradebot.sqlite", servers):
                say(line)
            journal = folder / "journal" / "tradebot.sqlite"
            await asyncio.to_thread(_tracking, config_path, journal, say)
    return config_path


async def _play(
    hub: AlphaHubSimulator,
    servers: dict[str, AlpacaServer],
    seen: _PerAccount,
    say: Callable[[str], None],
) -> None:
    names = [a.name for a in ACCOUNTS]
    handled = Counter({name: seen.handled[name] for name in names})
    for number, step in enumerate(steps(lambda: datetime.now(UTC)), start=1):
        say(f"\n== demo step {number}: {step.title} (accounts {', '.join(names)})")
        if step.fault == "drop":
            hub.drop(hub.connections[0])
        elif step.fault == "lapse":
            hub.drop()  # every connection: the push below reaches nobody
        fills_before = {name: len(seen.fills[name]) for name in names}
        for symbol, price in market_prices(step).items():
            for server in servers.values():
                server.set_price(symbol, price + FILL_OFFSET)
        if step.payload is not None:
            await hub.push(step.algo_id, step.payload, times=step.times)
        if step.delivered:
            handled.update(names)  # every account follows every algorithm
        async with asyncio.timeout(STEP_TIMEOUT):
            for name in names:
                if step.flat is not None:
                    await seen.until(_exit_filled(seen, name, step, fills_before[name]))
                await seen.until(_handled(seen, name, handled[name]))
            for algo_id in ALGORITHMS:
                await hub.wait_joined(algo_id, 2)
    say("\n== demo: all steps played; stopping the bot")


def _handled(seen: _PerAccount, name: str, count: int) -> Callable[[], bool]:
    return lambda: seen.handled[name] >= count


def _exit_filled(seen: _PerAccount, name: str, step: Step, before: int) -> Callable[[], bool]:
    """Whether ``name`` recorded a fill of the step's (algorithm, symbol) since ``before``:
    the exit the market's move fired at that account's broker."""
    assert step.flat is not None
    flat = step.flat
    return lambda: flat in seen.fills[name][before:]


def _report(config_path: Path, say: Callable[[str], None]) -> None:
    """The journal's report, each account apart, by the real command."""
    from tradebot.cli.main import cli

    say("\n== report (tradebot report): each account apart")
    cli.main(["report", "--config", str(config_path)], standalone_mode=False)


def _tracking(config_path: Path, journal_path: Path, say: Callable[[str], None]) -> None:
    """Each account against the algorithms it follows, side by side: ``tradebot track``'s
    closing table (its results per account, and the gap's parts: ``tradebot track``), with
    AlphaHub's history read from the simulator as the command reads it."""
    from tradebot.cli.track_coverage import alphahub_settings
    from tradebot.journal import open_journal
    from tradebot.tracking.history_legs import from_alphahub
    from tradebot.tracking.render import side_by_side
    from tradebot.tracking.track import track

    config = load_config(config_path)
    reader = from_alphahub(alphahub_settings(config))
    with open_journal(journal_path, readonly=True) as journal:
        tracked = [
            t
            for name in config.accounts
            for t in track(journal, config, history=reader, account=name)
        ]
    say(
        "\n== tracking: each account against the algorithms (tradebot track; each gap's parts:"
        " tradebot track --account NAME)"
    )
    say(side_by_side(tracked))
    if not all(t.reconciled for t in tracked):
        say("an account's result differs from the review's: see tradebot track")


def results(journal: Path, servers: dict[str, AlpacaServer]) -> list[str]:
    """Each account's result: its sizing, orders filled (the journal's), positions, cash and
    equity (its broker's)."""
    store = open_journal(journal, readonly=True)
    try:
        filled = {
            a.name: len(store.entries(EntryFilter(statuses=(Status.FILLED,), accounts=(a.name,))))
            for a in ACCOUNTS
        }
    finally:
        store.close()
    lines = []
    for account in ACCOUNTS:
        server = servers[account.name]
        with server.lock:
            paper = server.account
            positions = {s: Decimal(p.qty) for s, p in paper.open_positions().items()}
            cash, equity = paper.cash, paper.equity()
        held = ", ".join(f"{s} {q:,}" for s, q in sorted(positions.items())) or "none"
        change = equity - CASH
        lines += [
            f"account {account.name}: {account.sizing()}",
            f"  orders filled  {filled[account.name]}",
            f"  positions      {held}",
            f"  cash           {cash:,.2f}",
            f"  equity         {equity:,.2f} ({'+' if change >= 0 else '-'}{abs(change):,.2f}"
            f" on {CASH:,.2f})",
        ]
    return lines
