"""``tradebot status`` per account (issue 22): for a config of several accounts (or with
``--account NAME``), a line per account: its mode and broker (from the config), the kill
switch it obeys (the global one and its own, the stricter:
:func:`~tradebot.runtime.killswitch.read_account_kill_switch`), today's orders and fills and
its newest row (from the journal, read-only beside a running bot). A config of one account
shows none: ``status`` reads as before accounts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tradebot.cli.accounts import require_known
from tradebot.exceptions import TradebotError
from tradebot.journal.counts import ROW_COUNTS, tally_rows
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.opener import configured, open_journal
from tradebot.runtime.context import start_of_trading_day
from tradebot.runtime.killswitch import HaltMode, read_account_kill_switch
from tradebot.runtime.paths import config_relative


@dataclass(frozen=True, slots=True)
class AccountStatus:
    account: str
    mode: str
    broker: str
    kill_switch: str  # "off", "halt" or "reduce_only", as the status file says it
    kill_switch_reason: str
    orders_today: int | None  # None: the journal could not be read
    fills_today: int | None
    last_row: str | None  # "#42 filled at 2026-..." (None: no row, or no journal)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        switch = self.kill_switch
        if self.kill_switch != "off":
            switch = f"{switch} ({self.kill_switch_reason})"
        today = (
            "today -"
            if self.orders_today is None
            else f"today {self.orders_today} orders, {self.fills_today} fills"
        )
        return (
            f"  {self.account:<16} {self.mode.upper():<5} broker {self.broker:<6} "
            f"kill switch {switch}; {today}; last row {self.last_row or '-'}"
        )


def shown_accounts(config: Any, account: str | None) -> list[str]:
    """The accounts ``status`` lists: ``[account]`` (one the config has, else a usage error
    naming them), else every account of a config of several, else none."""
    names = list(config.accounts)
    if account is not None:
        require_known(account, config=names)
        return [account]
    return names if len(names) > 1 else []


def _from_journal(journal: Journal, name: str, since: datetime) -> tuple[int, int, str | None]:
    statuses = (*ROW_COUNTS["orders"], *ROW_COUNTS["fills"])
    where = EntryFilter(statuses=statuses, since=since, accounts=(name,))
    found = tally_rows(journal.count_entries(where))
    ours = [c for algo, c in found.items() if algo is not None]
    newest = journal.entries(EntryFilter(accounts=(name,), limit=1))
    last = None
    if newest:
        row = newest[0]
        last = f"#{row.id} {row.status} at {row.as_dict()['at']}"
    return sum(c["orders"] for c in ours), sum(c["fills"] for c in ours), last


def account_statuses(
    config: Any, config_path: Path, names: list[str], now: datetime
) -> tuple[list[AccountStatus], str | None]:
    """Each account's status line; and why the journal's part is missing (None: read)."""
    if not names:
        return [], None
    switch_file = config.risk.kill_switch_file
    every = None if switch_file is None else config_relative(config_path, switch_file)
    path = config_relative(config_path, config.journal.path)
    counted: dict[str, tuple[int | None, int | None, str | None]] = {}
    problem = None
    try:
        with open_journal(configured(config.journal.url, path), readonly=True) as journal:
            since = start_of_trading_day(now)
            for name in names:
                counted[name] = _from_journal(journal, name, since)
    except (TradebotError, OSError) as exc:
        problem = f"journal not read: {exc}"
    out = []
    for name in names:
        account = config.accounts.get(name)
        state = read_account_kill_switch(every, name)
        orders, fills, last = counted.get(name, (None, None, None))
        out.append(
            AccountStatus(
                account=name,
                mode=str(account.mode) if account is not None else "-",
                broker=account.broker.name if account is not None else "-",
                kill_switch="off" if state.mode is HaltMode.RUNNING else str(state.mode),
                kill_switch_reason=state.reason,
                orders_today=orders,
                fills_today=fills,
                last_row=last,
            )
        )
    return out, problem


def render_accounts(lines: list[AccountStatus], problem: str | None) -> str:
    text = ["accounts:", *(line.line() for line in lines)]
    if problem:
        text.append(f"  ({problem})")
    return "\n".join(text)
