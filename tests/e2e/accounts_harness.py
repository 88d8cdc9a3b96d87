"""Several accounts end to end: `tradebot run` as a real process with an ``accounts:`` config,
the AlphaHub simulator, and one local Alpaca server per account, each accepting only its own
account's key pair (a key routed to the wrong server is refused, so an order at a server is
proof it came from that account's broker).

The accounts follow the same algorithms (14, 16, 17, 18) with different sizes: ``main`` 10
shares / $5,000, ``family`` 3 shares / $2,000 (fixed sizing, so the expected quantities do not
depend on the equity as the day goes on). Every wait is for a condition, with a deadline.
"""

from __future__ import annotations

import functools
import signal
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from tests.e2e.day import EXPECTED_ORDERS, Expected
from tests.e2e.harness import (
    ALGOS,
    BotProcess,
    _exists,
    entries,
    last_id,
    move_market_to,
    until,
    wait_subscribed,
)
from tradebot.core.ids import account_of
from tradebot.journal.opener import open_journal
from tradebot.journal.records import Status
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.simulators.alphahub.server import AlphaHubSimulator


@dataclass(frozen=True)
class Sizing:
    """One account's sizes: ``shares`` for 14 and 16 (fixed_shares), ``notional`` for 17 and
    18 (fixed_notional)."""

    shares: int
    notional: int

    def yaml(self) -> str:
        return f"""\
      14: {{strategy: fixed_shares, params: {{shares: {self.shares}}}, allow_short: true}}
      16: {{strategy: fixed_shares, params: {{shares: {self.shares}}}, allow_short: true}}
      17: {{strategy: fixed_notional, params: {{notional: {self.notional}}}}}
      18: {{strategy: fixed_notional, params: {{notional: {self.notional}}}}}
"""


MAIN, FAMILY, TWIN = "main", "family", "twin"
SIZES = {MAIN: Sizing(10, 5000), FAMILY: Sizing(3, 2000)}
#: the day's prices of the notional-sized legs (tests/e2e/day.py), to size them per account
_DAY_PRICES = {"AAPL": Decimal("189.50"), "NVDA": Decimal("131.20"), "MU": Decimal("88.40")}


class AccountServer(AlpacaServer):
    """The local Alpaca server of one account: only that account's key pair is let in, and
    :attr:`refusing` makes it refuse every login (REST and the trade-updates stream) as
    Alpaca does revoked keys."""

    def __init__(self, name: str) -> None:
        super().__init__(key=key_of(name), secret=secret_of(name))
        self.name = name
        self.refusing = False

    def authorized(self, key: str | None, secret: str | None) -> bool:
        return not self.refusing and super().authorized(key, secret)


def key_of(name: str) -> str:
    return f"{name}-key"


def secret_of(name: str) -> str:
    return f"{name}-secret"


def env_name(name: str, what: str) -> str:
    return f"TB_{name.upper()}_{what}"


def credentials_env(names: list[str]) -> dict[str, str]:
    """The environment holding each account's key pair (the config names the variables)."""
    env = {}
    for name in names:
        env[env_name(name, "KEY")] = key_of(name)
        env[env_name(name, "SECRET")] = secret_of(name)
    return env


def _broker_yaml(name: str, server: AlpacaServer) -> str:
    return f"""\
    broker:
      name: alpaca
      alpaca:
        url: {server.url}
        stream_url: {server.stream_url}
        data_url: {server.url}
        key_id: ${{{env_name(name, "KEY")}}}
        secret_key: ${{{env_name(name, "SECRET")}}}
        timeout: 2
        first_retry_delay: 0.05
        max_retry_delay: 0.5
        max_retry_after: 1
        reconnect_delay: 0.1
      circuit: {{failures: 2, probe_every: 0.5}}
"""


def accounts_config(
    hub_url: str, servers: Mapping[str, AlpacaServer], mirrors: Mapping[str, str] | None = None
) -> str:
    """A config with one account per server: its sizing from :data:`SIZES`, or, for a name in
    ``mirrors``, ``mirror_of`` the account named there."""
    mirrors = mirrors or {}
    blocks = []
    for name, server in servers.items():
        if name in mirrors:
            block = f"  {name}:\n    mirror_of: {mirrors[name]}\n" + _broker_yaml(name, server)
        else:
            block = (
                f"  {name}:\n    mode: paper\n"
                + _broker_yaml(name, server)
                + "    algorithms:\n"
                + SIZES[name].yaml()
            )
        blocks.append(block)
    return f"""\
alphahub:
  url: {hub_url}
  email: demo@example.com
  password: demo
  connections: 2
  heartbeat_interval: 1
  heartbeat_timeout: 2
  join_timeout: 2
  reconnect: {{first_delay: 0.05, max_delay: 0.5, healthy_after: 2}}
journal:
  path: journal/tradebot.sqlite
  recheck_interval: 1
risk:
  max_signal_age: 600
  kill_switch_file: tradebot.halt
accounts:
{"".join(blocks)}"""


@contextmanager
def account_servers(names: list[str]) -> Iterator[dict[str, AccountServer]]:
    with ExitStack() as stack:
        servers = {}
        for name in names:
            server = AccountServer(name)
            server.start()
            stack.callback(server.stop)
            servers[name] = server
        yield servers


@dataclass
class Accounts:
    """A running bot of several accounts with its simulators."""

    hub: AlphaHubSimulator
    servers: dict[str, AccountServer]
    bot: BotProcess
    config: Path
    journal: Path

    def move_market(self, payload: dict[str, Any]) -> None:
        for server in self.servers.values():
            move_market_to(server, payload)

    async def restart(self) -> None:
        """Start the bot again (after it was killed or stopped) and wait until it listens."""
        assert not self.bot.running
        await self.bot.start()
        await wait_subscribed(self.hub, ALGOS)

    async def push_and_wait(self, algo_id: int, payload: dict[str, Any]) -> None:
        """Push one frame (the markets first trade at its legs' prices) and wait until every
        account has planned it."""
        self.move_market(payload)
        mark = last_id(self.journal)
        await self.hub.push(algo_id, payload)
        await until_planned(self.journal, list(self.servers), algo_id, mark)


def planned_in(journal: Path, account: str, algo_id: int, mark: int) -> bool:
    """Whether ``account`` planned a signal of ``algo_id`` after row ``mark``."""
    rows = entries(
        journal, algo_ids=(algo_id,), statuses=(Status.PLAN,), accounts=(account,), after_id=mark
    )
    return bool(rows)


async def until_planned(journal: Path, names: list[str], algo_id: int, mark: int) -> None:
    """Until each account of ``names`` has planned a signal of ``algo_id`` after row ``mark``."""
    for name in names:
        planned = functools.partial(planned_in, journal, name, algo_id, mark)
        await until(planned, f"account {name}'s plan for algorithm {algo_id}")


@asynccontextmanager
async def running_accounts(
    folder: Path,
    names: list[str],
    *,
    mirrors: Mapping[str, str] | None = None,
    before_start: Any = None,
) -> AsyncIterator[Accounts]:
    """`tradebot run` in ``folder`` with one account (and one local Alpaca server) per name,
    subscribed to every algorithm; killed on the way out if the test left it running.
    ``before_start(servers)``: scripts the servers before the bot first meets them."""
    with account_servers(names) as servers:
        if before_start is not None:
            before_start(servers)
        async with AlphaHubSimulator(port=0) as hub:
            config = folder / "config.yaml"
            config.write_text(accounts_config(hub.url, servers, mirrors))
            bot = BotProcess(config, credentials_env(names))
            await bot.start()
            try:
                await wait_subscribed(hub, ALGOS)
                yield Accounts(hub, servers, bot, config, folder / "journal" / "tradebot.sqlite")
            finally:
                if bot.running:
                    await bot.stop(signal.SIGKILL)


# -- what each account must end with ---------------------------------------------------------


def expected_orders(name: str) -> list[Expected]:
    """The day's orders (tests/e2e/day.py) at ``name``'s sizes."""
    sizing = SIZES[name]
    out = []
    for e in EXPECTED_ORDERS:
        if e.algo_id in (14, 16):
            qty = Decimal(sizing.shares)
        else:
            qty = (Decimal(sizing.notional) / _DAY_PRICES[e.symbol]).quantize(
                Decimal(1), rounding=ROUND_DOWN
            )
        out.append(Expected(e.algo_id, e.symbol, e.side, qty, e.role))
    return out


def order_signature(order: dict[str, Any]) -> tuple[int, str, str, Decimal, str]:
    """(algorithm, symbol, side, qty, role letter) of an order at a server, read from its
    client order id (``[account.]tb<algo>-<SYMBOL>-<role>-...``)."""
    body = order["client_order_id"].split(".", 1)[-1]
    algo, symbol, role = body.split("-")[:3]
    return (int(algo.removeprefix("tb")), symbol, order["side"], Decimal(order["qty"]), role)


def server_orders(server: AlpacaServer) -> list[dict[str, Any]]:
    """The orders the bot placed at ``server`` (brackets' exit legs, which Alpaca lists as
    their own orders, left out)."""
    return [
        o
        for o in server.orders()
        if o["client_order_id"].split(".", 1)[-1].startswith("tb")
        and not o["client_order_id"].endswith(("-tp", "-sl"))
    ]


def signatures(server: AlpacaServer) -> Counter[tuple[int, str, str, Decimal, str]]:
    return Counter(order_signature(o) for o in server_orders(server))


def wanted(name: str) -> Counter[tuple[int, str, str, Decimal, str]]:
    return Counter((e.algo_id, e.symbol, e.side, e.qty, e.role) for e in expected_orders(name))


def server_positions(server: AlpacaServer) -> dict[str, Decimal]:
    with server.lock:
        return {s: Decimal(p.qty) for s, p in server.account.open_positions().items()}


def journal_positions(journal: Path, account: str) -> dict[str, Decimal]:
    """``account``'s book in the journal, netted per symbol (what its broker should hold)."""
    store = open_journal(journal, readonly=True)
    try:
        net: dict[str, Decimal] = {}
        for _algo, symbol, qty in store.rebuild_book(account=account):
            net[symbol] = net.get(symbol, Decimal(0)) + qty
        return {s: q for s, q in net.items() if q}
    finally:
        store.close()


def unresolved_in(journal: Path, account: str) -> int:
    if not _exists(journal):
        return 0
    store = open_journal(journal, readonly=True)
    try:
        return len(store.unresolved_intents(account=account))
    finally:
        store.close()


def assert_every_order_is_its_accounts(servers: Mapping[str, AlpacaServer]) -> None:
    """Each server holds only its account's ids (tagged with its name), each id once."""
    for name, server in servers.items():
        ids = [o["client_order_id"] for o in server.orders()]
        assert len(ids) == len(set(ids)), f"{name}: an id twice: {ids}"
        assert {account_of(i) for i in ids} <= {name}, f"{name} holds another's order: {ids}"


async def settled(accounts: Accounts) -> None:
    """Until every account's intents are resolved and its broker shows the journal's book."""
    for name, server in accounts.servers.items():
        await until(
            functools.partial(_resolved, accounts.journal, name),
            f"account {name}'s intents resolved",
        )
        await until(
            functools.partial(_books_agree, accounts.journal, name, server),
            f"account {name}'s journal book equal to its broker's positions",
        )


def _resolved(journal: Path, account: str) -> bool:
    return unresolved_in(journal, account) == 0


def _books_agree(journal: Path, account: str, server: AlpacaServer) -> bool:
    return journal_positions(journal, account) == server_positions(server)
