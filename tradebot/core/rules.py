"""What the planner obeys: the slice of ``config.yaml`` it needs, as plain frozen values. Pure.

:func:`~tradebot.core.planner.plan` takes a :class:`PlanningRules`, never the whole ``Config``:
the core knows nothing of YAML, pydantic sections or where the file is, and ``tradebot.config``
builds these values (``Config.planning``, from :func:`tradebot.config.planning.planning_rules`)
once per load. So the config depends on the core, never the reverse.

The values here carry no defaults: each is written once, on its key in ``tradebot/config``, and
a field has the name of the key it comes from (``chase_after``, ``account_id``). A default here
would be a second copy that could drift from the config's (``tests/config/test_defaults.py``).

Limits here are already *effective*: an algorithm's :attr:`AlgorithmRules.risk` is the account's
limits tightened by its own (``RiskConfig.tightened_by``), so the planner never merges them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradebot.core.ids import DEFAULT_ACCOUNT
from tradebot.core.order_shape import OrderType
from tradebot.core.orders import ExitTerms, TimeInForce
from tradebot.core.sizing import SizingStrategy


class CloseNotHeld(StrEnum):
    """What to do with a close leg for a symbol the algorithm does not hold."""

    SKIP = "skip"  # journal it as skipped (the default)
    IGNORE = "ignore"  # the same, at debug level: for feeds known to send such closes


class ReferencePricePolicy(StrEnum):
    """What to do with a leg when the broker has no reference price for its symbol."""

    REQUIRED = "required"  # skip it (no_reference_price), journaled and shown
    SIGNAL_IF_UNAVAILABLE = "signal_if_unavailable"  # size and check it at the signal's price


class MarketClosedPolicy(StrEnum):
    """What to do with a signal that arrives while the market is closed."""

    QUEUE = "queue"  # send day orders; the broker queues them for the open
    SKIP = "skip"  # skip every leg with a reason
    EXTENDED_HOURS = "extended_hours"  # limit orders eligible for extended hours


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskLimits:
    """Limits that can only make the bot trade less (``risk:`` in config.yaml). ``None``: none."""

    max_order_notional: Decimal | None
    max_position_notional: Decimal | None
    max_algo_exposure: Decimal | None
    max_symbol_exposure: Decimal | None
    max_orders_per_day: int | None
    max_daily_loss: Decimal | None
    max_signal_age: float | None
    price_collar_pct: Decimal | None
    reference_price: ReferencePricePolicy | None
    reference_max_age: float | None  # seconds; see tradebot.core.market.stale_reference
    max_order_qty: Decimal | None
    allow_symbols: tuple[str, ...] | None
    deny_symbols: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AlgorithmRules:
    """How one algorithm's legs are sized, ordered and limited (``algorithms.ID:``)."""

    strategy: str  # its name in config.yaml, for skip details
    sizer: SizingStrategy[Any]
    risk: RiskLimits  # effective: the account's limits tightened by the algorithm's own
    enabled: bool
    order_type: OrderType
    time_in_force: TimeInForce
    limit_offset_pct: Decimal
    chase_after: float  # limit_then_market: seconds before the rest goes at market
    chase_pct: Decimal  # limit_then_market: percent past the limit
    allow_short: bool
    allow_fractional: bool
    on_close_not_held: CloseNotHeld
    market_closed: MarketClosedPolicy
    exits: ExitTerms | None  # exits attached to every entry (core/exits.py)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanningRules:
    """Everything from the config that one :func:`~tradebot.core.planner.plan` call obeys."""

    #: ``journal.recovery_max_age``, seconds: how old a leg backfilled from AlphaHub's history
    #: may be when the algorithm sets no ``max_signal_age`` (the bound on orders a crash left)
    recovery_max_age: float

    #: per AlphaHub algorithm id; a signal for an id missing here is skipped (algo_unknown)
    algorithms: Mapping[int, AlgorithmRules]
    #: the account-wide limits (``risk:``): counts and losses summed over every algorithm are
    #: held to these
    account_risk: RiskLimits
    #: ``broker.account_id``: a fixed account tag for client order ids (``None``: the broker's)
    account_id: str | None
    #: the config's account these rules are (``accounts:``): its name tags every client order id
    #: the plan writes (:func:`~tradebot.core.ids.client_order_id`; none for the default)
    account: str = DEFAULT_ACCOUNT
