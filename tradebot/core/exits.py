"""Exits attached to entries: their prices, their shape, and which entries can carry them. Pure.

An algorithm's ``exits`` (:class:`~tradebot.core.orders.ExitTerms`) protect each entry it opens:

* an entry **eligible for a bracket** (:func:`bracket_refusal` says why not) goes out as one
  Alpaca order with its exits as legs: ``bracket`` (take-profit and stop-loss) or ``oto`` (one of
  them). The legs are planned with it as EXIT intents whose ``parent`` is the entry's id: they
  are journaled (so their fills land on the algorithm's ledger) and never sent by themselves.
  Their prices are fixed when the entry is sent, from its limit price (a limit entry) or its
  reference price (a market entry).
* any other entry carries ``exits`` only; once it has filled, the exit manager
  (:mod:`tradebot.execution.exit_manager`) places :func:`after_fill_exits` for what it filled,
  priced from the fills' average price: an ``oco`` (take-profit limit with a stop-loss leg), a
  plain limit or stop, or a trailing stop.

Every exit id derives from the entry's (:func:`~tradebot.core.ids.exit_id`). Prices are rounded
to Alpaca's tick (0.01 at or above $1, 0.0001 below) toward the entry price, so an exit is never
further than asked; it is kept at least one tick away from the entry price, where Alpaca
requires it and where an exit at the entry price would be no exit at all.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import assert_never

from tradebot.core.ids import exit_id, exit_parts
from tradebot.core.market import price_tick
from tradebot.core.order_shape import (
    Bracket,
    Limit,
    Market,
    Oco,
    OrderPrice,
    Oto,
    Stop,
    TrailingStop,
)
from tradebot.core.orders import ExitKind, ExitTerms, IntentRole, OrderIntent, TimeInForce
from tradebot.core.quantity import is_whole
from tradebot.core.signal import Side

_HUNDRED = Decimal(100)

#: the note on an entry whose exits go after its fill because of the account's other holders
NOT_NETTED = (
    "another algorithm holds the opposite side of {symbol} in this account: this entry is not"
    " netted with it; its exits cover only what the account holds"
)


def _toward(price: Decimal, entry: Decimal) -> Decimal:
    """``price`` on Alpaca's tick, rounded toward ``entry``, and at least one tick off it."""
    step = price_tick(price)
    if price > entry:
        rounded = price.quantize(step, rounding=ROUND_FLOOR)
        return max(rounded, (entry + step).quantize(step, rounding=ROUND_CEILING))
    rounded = price.quantize(step, rounding=ROUND_CEILING)
    return min(rounded, (entry - step).quantize(step, rounding=ROUND_FLOOR))


def on_tick_toward_entry(price: Decimal, exit_side: Side, kind: ExitKind) -> Decimal:
    """An exit's price on Alpaca's tick, toward the position's entry (for a price whose entry
    is not at hand: the adapter's last check of what it sends). A sell exit closes a long
    bought below its take-profit and above its stop: its take-profit rounds down and its stop
    up; a buy exit (a short's) the other way. Prices :func:`exit_prices` made are unchanged."""
    down = (exit_side is Side.SELL) == (kind is ExitKind.TAKE_PROFIT)
    return price.quantize(price_tick(price), rounding=ROUND_FLOOR if down else ROUND_CEILING)


def exit_prices(
    entry_side: Side, basis: Decimal, terms: ExitTerms
) -> tuple[Decimal | None, Decimal | None]:
    """(take-profit limit, stop-loss stop) for a position entered on ``entry_side`` at
    ``basis``; None for an exit not configured. A long's take-profit is above the basis and its
    stop below; a short's the other way round."""
    sign = entry_side.sign
    tp = sl = None
    if terms.take_profit_pct is not None:
        tp = _toward(basis * (1 + sign * terms.take_profit_pct / _HUNDRED), basis)
    if terms.stop_loss_pct is not None:
        sl = _toward(basis * (1 - sign * terms.stop_loss_pct / _HUNDRED), basis)
    for price in (tp, sl):
        if price is not None and price <= 0:
            raise ValueError(f"an exit of {basis} at {terms} has no positive price")
    return tp, sl


def bracket_refusal(entry: OrderIntent, *, not_netted: bool) -> str | None:
    """Why ``entry``'s exits cannot travel with it as bracket legs (None: they can).

    ``not_netted``: another algorithm holds the opposite side of the symbol in the account, so
    the entry is not one position of its own at the broker (see :data:`NOT_NETTED`).
    """
    terms = entry.exits
    assert terms is not None
    if terms.trailing_stop_pct is not None:
        return "a trailing stop cannot be a bracket leg: it goes after the fill"
    if not_netted:
        return NOT_NETTED.format(symbol=entry.symbol)
    if entry.chase is not None:
        return (
            "a chased limit_then_market limit carries no bracket (canceling it would cancel"
            " its legs): its exits go after the fill"
        )
    if not is_whole(entry.qty):
        return "a fractional entry carries no bracket: its exits go after the fill"
    if entry.extended_hours:
        return "an extended-hours entry carries no bracket: its exits go after the fill"
    match entry.price:
        case Limit():
            if entry.time_in_force is not TimeInForce.GTC:
                return (
                    f"a limit {entry.time_in_force} entry carries no bracket (its gtc exits would"
                    " outlive it): its exits go after the fill"
                )
        case Market():
            if entry.time_in_force not in (TimeInForce.DAY, TimeInForce.GTC):
                return (
                    f"a market {entry.time_in_force} entry carries no bracket: its exits go"
                    " after the fill"
                )
        case Stop() | TrailingStop():
            return f"a {entry.order_type} entry carries no bracket: Alpaca's are market or limit"
        case _:
            assert_never(entry.price)
    return None


def with_exits(
    entry: OrderIntent, terms: ExitTerms, *, not_netted: bool
) -> tuple[OrderIntent, tuple[OrderIntent, ...]]:
    """``entry`` carrying ``terms``: as a bracket/oto with its EXIT legs, or with a note saying
    why its exits go after the fill (and no legs)."""
    entry = replace(entry, exits=terms)
    why_not = bracket_refusal(entry, not_netted=not_netted)
    if why_not is not None:
        return replace(entry, notes=(*entry.notes, why_not)), ()
    basis = entry.limit_price or entry.reference_price  # a market entry's: its reference
    tp, sl = exit_prices(entry.side, basis, terms)
    both = tp is not None and sl is not None
    shaped = replace(
        entry,
        attached=Bracket(tp, sl) if tp is not None and sl is not None else Oto(tp, sl),
        # the legs are gtc: a market entry fills at once, and its exits must outlive the day
        time_in_force=TimeInForce.GTC,
        notes=(
            *entry.notes,
            f"{'bracket' if both else 'oto'}: exits priced from {basis}"
            + (f", take-profit {tp}" if tp is not None else "")
            + (f", stop-loss {sl}" if sl is not None else ""),
        ),
    )
    legs = _legs(shaped, entry.client_order_id, tp, sl, parent=entry.client_order_id)
    return shaped, legs


def after_fill_exits(
    entry: OrderIntent, qty: Decimal, average_price: Decimal
) -> tuple[OrderIntent, ...]:
    """The exit orders for ``qty`` (whole shares, > 0) of ``entry`` filled at
    ``average_price``: an oco (take-profit with a stop-loss leg), a take-profit limit, a
    stop-loss stop, or a trailing stop. The oco's stop leg is journaled, never sent alone."""
    terms = entry.exits
    assert terms is not None and qty > 0 and is_whole(qty)
    base = replace(entry, qty=qty, reference_price=average_price)
    if terms.trailing_stop_pct is not None:
        return (
            _exit(
                base,
                exit_id(entry.client_order_id, ExitKind.TRAILING_STOP),
                TrailingStop(terms.trailing_stop_pct),
                note=f"trailing stop {terms.trailing_stop_pct}% from the best price",
            ),
        )
    tp, sl = exit_prices(entry.side, average_price, terms)
    entry_id = entry.client_order_id
    if tp is not None and sl is not None:
        oco_id = exit_id(entry_id, ExitKind.TAKE_PROFIT)
        oco = _exit(
            base,
            oco_id,
            Limit(tp),
            attached=Oco(tp, sl),
            note=f"oco from the fill price {average_price}: take-profit {tp}, stop-loss {sl}",
        )
        return (oco, *_legs(base, entry_id, None, sl, parent=oco_id))
    return _legs(base, entry_id, tp, sl, parent=None, basis=average_price)


def _legs(
    entry: OrderIntent,
    entry_id: str,
    tp: Decimal | None,
    sl: Decimal | None,
    *,
    parent: str | None,
    basis: Decimal | None = None,
) -> tuple[OrderIntent, ...]:
    how = f"leg of {parent}" if parent is not None else f"from the fill price {basis}"
    out = []
    if tp is not None:
        out.append(
            _exit(
                entry,
                exit_id(entry_id, ExitKind.TAKE_PROFIT),
                Limit(tp),
                parent=parent,
                note=f"take-profit {tp} ({how})",
            )
        )
    if sl is not None:
        out.append(
            _exit(
                entry,
                exit_id(entry_id, ExitKind.STOP_LOSS),
                Stop(sl),
                parent=parent,
                note=f"stop-loss {sl} ({how})",
            )
        )
    return tuple(out)


def _exit(
    entry: OrderIntent,
    cid: str,
    price: OrderPrice,
    *,
    note: str,
    attached: Oco | None = None,
    parent: str | None = None,
) -> OrderIntent:
    """An exit of ``entry``: the opposite side, gtc, regular hours, the entry's legs; its
    reference price is its own stop or limit price."""
    return OrderIntent(
        client_order_id=cid,
        algo_id=entry.algo_id,
        symbol=entry.symbol,
        side=entry.side.opposite(),
        qty=entry.qty,
        price=price,
        time_in_force=TimeInForce.GTC,
        role=IntentRole.EXIT,
        leg_ids=entry.leg_ids,
        # what the exit is measured against (its slippage in `tradebot report`): the price it
        # was placed to trade at; a trailing stop has none, so its entry's price stands in
        reference_price=_placed_at(price, entry.reference_price),
        notes=(note,),
        price_source=entry.price_source,
        attached=attached,
        parent=parent,
    )


def _placed_at(price: OrderPrice, otherwise: Decimal) -> Decimal:
    match price:
        case Stop(stop=stop):
            return stop
        case Limit(limit=limit):
            return limit
        case Market() | TrailingStop():
            return otherwise
        case _:
            assert_never(price)


def exit_kind(intent: OrderIntent) -> ExitKind:
    """Which exit an EXIT intent is, from its id's suffix (the ids are derived: ``-tp`` ...)."""
    kind = exit_kind_of(intent.client_order_id)
    if kind is None:
        raise ValueError(f"{intent.client_order_id} is not an exit's id")
    return kind


def exit_kind_of(client_order_id: str) -> ExitKind | None:
    """Which exit the order with this id is, or None for an entry or a close."""
    parts = exit_parts(client_order_id)
    return None if parts is None else ExitKind(parts[1])
