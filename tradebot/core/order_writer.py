"""From each symbol's planned move to the orders that carry it out. Pure.

The planner decides, per symbol, where an algorithm's holding should go (:class:`Move`); this
module writes the fewest orders that get it there: one order when the legs net out on one side
of zero, two for a flip, none when they cancel, each split again where it would take the
account's net position across zero (:mod:`.netting`). Orders that reduce the net form the close
group, sent first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import assert_never

from tradebot.core.exits import with_exits
from tradebot.core.ids import DEFAULT_ACCOUNT, client_order_id
from tradebot.core.market import PriceSource
from tradebot.core.netting import CLOSE_STEP, OPEN_STEP, ledger_steps, split_at_zero
from tradebot.core.order_shape import MARKET, ChaseTerms, Limit, OrderPrice, OrderType
from tradebot.core.orders import ExitTerms, IntentRole, OrderIntent, TimeInForce
from tradebot.core.risk import limit_price
from tradebot.core.signal import Leg, LegId, Side


@dataclass(frozen=True, slots=True)
class Move:
    """One symbol's planned change for the signal's algorithm."""

    symbol: str
    held: Decimal  # what the book holds
    target: Decimal  # where the plan takes it
    price: Decimal  # the reference price (the broker's, or the signal's standing in)
    close_legs: Sequence[Leg]
    open_legs: Sequence[Leg]  # opens that reached sizing (a refused flip still flattens)
    close_notes: Sequence[str] = ()
    open_notes: Sequence[str] = ()
    price_source: PriceSource = PriceSource.REFERENCE


@dataclass(frozen=True, slots=True)
class OrderStyle:
    """How every order of the plan is written."""

    account_id: str
    algo_id: int
    order_type: OrderType
    time_in_force: TimeInForce
    extended_hours: bool
    limit_offset_pct: Decimal
    price_collar_pct: Decimal | None
    chase: ChaseTerms | None = None  # limit_then_market: every limit carries its chase terms
    exits: ExitTerms | None = None  # every entry (an open step) carries them (core/exits.py)
    account: str = DEFAULT_ACCOUNT  # the config's account deciding the orders (their ids' tag)


def write_orders(
    moves: Sequence[Move], net_of: Callable[[str], Decimal], style: OrderStyle
) -> tuple[list[OrderIntent], list[Move]]:
    """The orders for ``moves`` in sending order (close group first), and the moves whose
    legs cancelled out. ``net_of(symbol)`` is the account's net position before the plan.

    Client order ids come from the legs an order serves and its step (``close``/``open``,
    with ``2`` for the far side of a zero-crossing split), so they are stable for a signal.

    With ``style.exits``, every order of an open step (an entry) carries them, as a bracket
    with its EXIT legs (listed last) where it can (:func:`~tradebot.core.exits.with_exits`).
    An entry against another algorithm's opposite position in the account is not netted with
    it into a bracket: its exits go after the fill, for what the account then holds.
    """
    closes: list[OrderIntent] = []
    opens: list[OrderIntent] = []
    legs_out: list[OrderIntent] = []
    cancelled: list[Move] = []
    for move in moves:
        steps = ledger_steps(move.held, move.target)
        if not steps:
            if move.close_legs or move.open_legs:
                cancelled.append(move)
            continue
        net = net_of(move.symbol)
        for step, delta in steps:
            legs, notes = _served(move, step if len(steps) > 1 else None)
            # the account is on the other side of zero: another algorithm holds it
            against = net != 0 and (net > 0) != (delta > 0)
            for piece, (qty, reduces) in enumerate(split_at_zero(net, delta)):
                role = step + ("2" if piece else "")
                intent = _intent(move, role, qty, reduces, legs, notes, style)
                if step == OPEN_STEP and style.exits is not None:
                    intent, exit_legs = with_exits(intent, style.exits, not_netted=against)
                    legs_out.extend(exit_legs)
                (closes if reduces else opens).append(intent)
                net += qty
    return closes + opens + legs_out, cancelled


def _served(move: Move, step: str | None) -> tuple[tuple[LegId, ...], list[str]]:
    """The legs one step's order serves and its notes: everything, unless a flip splits them."""
    if step is None:
        legs = [*move.close_legs, *move.open_legs]
        notes = list(dict.fromkeys([*move.close_notes, *move.open_notes]))  # a shared note once
    elif step == CLOSE_STEP:  # a flip's flatten serves the close, or the open that flips
        legs = list(move.close_legs or move.open_legs)
        notes = list(move.close_notes)
    else:
        legs, notes = list(move.open_legs), list(move.open_notes)
    ids = (legs[0].id,) if len(legs) == 1 else tuple(sorted(leg.id for leg in legs))
    return ids, notes


def _intent(
    move: Move,
    role: str,
    qty: Decimal,
    reduces: bool,
    leg_ids: tuple[LegId, ...],
    notes: list[str],
    style: OrderStyle,
) -> OrderIntent:
    side = Side.BUY if qty > 0 else Side.SELL
    price: OrderPrice
    match style.order_type:
        case OrderType.MARKET:
            price = MARKET
        case OrderType.LIMIT:
            limit, collar_note = limit_price(
                side, move.price, style.limit_offset_pct, style.price_collar_pct
            )
            price = Limit(limit, style.chase)
            if collar_note:
                notes = [*notes, collar_note]
        case OrderType.STOP | OrderType.TRAILING_STOP | OrderType.LIMIT_THEN_MARKET:
            # the config offers none of them as an entry (limit_then_market is written as a
            # chased limit before it gets here); a stop entry would need a stop price
            raise ValueError(f"an entry of type {style.order_type} needs what a leg cannot give")
        case _:
            assert_never(style.order_type)
    return OrderIntent(
        client_order_id=client_order_id(style.account_id, leg_ids, role, account=style.account),
        algo_id=style.algo_id,
        symbol=move.symbol,
        side=side,
        qty=abs(qty),
        price=price,
        time_in_force=style.time_in_force,
        role=IntentRole.CLOSE if reduces else IntentRole.OPEN,
        leg_ids=leg_ids,
        reference_price=move.price,
        extended_hours=style.extended_hours,
        notes=tuple(notes),
        price_source=move.price_source,
    )


def within_count(
    intents: Sequence[OrderIntent], room: int, held_of: Callable[[str], Decimal]
) -> tuple[list[OrderIntent], list[OrderIntent]]:
    """At most ``room`` of ``intents`` (kept in sending order), and the rest.

    Orders that reduce the algorithm's own holding (``held_of(symbol)`` before the plan) are
    kept first, then those that grow it, so dropping orders never leaves an open sized on the
    assumption that a close would free room. A symbol's orders after a dropped one are dropped
    too: the second half of a split or a flip never goes out alone.
    """
    ledger: dict[str, Decimal] = {}
    reducing: list[OrderIntent] = []
    growing: list[OrderIntent] = []
    for intent in intents:
        if intent.role is IntentRole.EXIT:
            continue  # a bracket leg is part of its entry's order: it goes or stays with it
        before = ledger.get(intent.symbol, held_of(intent.symbol))
        ledger[intent.symbol] = after = before + intent.signed_qty
        (reducing if abs(after) < abs(before) else growing).append(intent)
    kept: set[str] = set()
    dropped_symbols: set[str] = set()
    for intent in reducing + growing:
        if intent.symbol in dropped_symbols or len(kept) >= room:
            dropped_symbols.add(intent.symbol)
        else:
            kept.add(intent.client_order_id)
    kept |= {i.client_order_id for i in intents if i.parent is not None and i.parent in kept}
    return (
        [i for i in intents if i.client_order_id in kept],
        [i for i in intents if i.client_order_id not in kept],
    )
