"""How much of an account's equity its algorithms may claim together.

``allocation`` gives an algorithm ``pct`` of equity in all, split over ``max_positions``;
``percent_of_equity`` gives ``pct`` to every open leg, so it claims at least ``pct`` (one position)
and more as it holds more. When the algorithms that trade claim more than 100% together, the
account runs out before they are all invested: the planner shrinks or skips the last opens for
buying power (or they go on margin). That is legal, and sometimes meant, so it is a warning, shown
by ``tradebot config check`` and in the ``run`` banner. Other strategies (fixed notional, fixed
shares, your own) do not size from equity and are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from strategies.allocation import Allocation
from strategies.percent_of_equity import PercentOfEquity
from tradebot.config.model import AccountConfig, Config


@dataclass(frozen=True, slots=True)
class EquityShare:
    """One trading algorithm's claim on equity, in percent."""

    algo_id: int
    pct: Decimal
    per_position: bool  # percent_of_equity: the pct of each open, counted once

    def __str__(self) -> str:
        return f"{self.algo_id}: {self.pct}%{' per position' if self.per_position else ''}"


def equity_shares(config: Config, account: AccountConfig | None = None) -> tuple[EquityShare, ...]:
    """The claims of ``account``'s algorithms that trade (enabled and subscribed), by algorithm
    id; ``account`` defaults to the config's only one."""
    account = config.only_account if account is None else account
    shares = []
    for algo_id in sorted(config.subscribed_algorithms):
        algo = account.algorithms.get(algo_id)
        if algo is None or not algo.enabled:
            continue
        if isinstance(algo.sizer, Allocation | PercentOfEquity):
            per_position = isinstance(algo.sizer, PercentOfEquity)
            shares.append(EquityShare(algo_id, algo.sizer.params.pct, per_position))
    return tuple(shares)


def over_allocation(config: Config, account: AccountConfig | None = None) -> str | None:
    """A warning when an account's trading algorithms claim more than all its equity (default:
    the config's only account); None when they do not."""
    shares = equity_shares(config, account)
    total = sum((s.pct for s in shares), Decimal(0))
    if total <= 100:
        return None
    return (
        f"allocations add up to {total}% of equity ({', '.join(map(str, shares))}): with every"
        " algorithm invested the account runs short, and the last opens are shrunk or skipped"
        " for buying power (or use margin)"
    )
