"""The start-up banner: what the bot is about to do, in words a person checks at a glance.

It is masked whole (:func:`tradebot.masking.mask`): the AlphaHub URL may carry a token or a
password, and the banner goes to the terminal and to whatever log collects it.
"""

from __future__ import annotations

from pathlib import Path

from tradebot import __version__
from tradebot.config.allocation import over_allocation
from tradebot.config.model import Config, Mode
from tradebot.core.account import AccountSnapshot
from tradebot.core.ids import account_tag
from tradebot.masking import mask


def _params(params: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def banner(
    config: Config,
    mode: Mode,
    broker: str,
    account: AccountSnapshot,
    journal: Path,
    kill_switch: Path | None,
    role: str | None = None,
    name: str | None = None,
) -> str:
    """``role``: with several processes on a PostgreSQL journal, this one's (leader, epoch);
    ``name``: with several accounts, the account's (``config`` its view), said first."""
    money = "REAL MONEY" if mode is Mode.LIVE else "paper, no real money"
    tag = account_tag(config.broker.account_id, account.account_id)
    tagged = "" if tag == account.account_id else f" (order ids tagged {tag})"
    lines = [
        f"tradebot {__version__}: {str(mode).upper()} trading ({money})"
        + (f", account {name}" if name else ""),
        f"  broker   {broker}, account {account.account_id}{tagged}:"
        f" equity {account.equity:,.2f}"
        f" {account.currency}, buying power {account.buying_power:,.2f}",
        f"  signals  AlphaHub {config.alphahub.url}, {config.alphahub.connections} connection(s)",
        f"  journal  {journal}",
        f"  halt     {kill_switch if kill_switch else 'no kill switch file configured'}",
        *([f"  role     {role}"] if role else []),
        "  algorithms:",
    ]
    subscribed = set(config.subscribed_algorithms)
    for algo_id, algo in sorted(config.algorithms.items()):
        state = "listening" if algo_id in subscribed and algo.enabled else "disabled"
        lines.append(
            f"    {algo_id:>4} {algo.name or '(unnamed)':<22} {state:<9} {algo.strategy}"
            f"({_params(algo.params)}) {algo.order_type}/{algo.time_in_force}"
            + (", shorts allowed" if algo.allow_short else "")
        )
    excess = over_allocation(config)
    if excess is not None:
        lines.append(f"  WARNING  {excess}")
    return mask("\n".join(lines))
