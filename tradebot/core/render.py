"""A :class:`~tradebot.core.orders.Plan` as text for people (a table) or programs (JSON).

Used by ``tradebot plan`` and by the run loop's log. Pure: strings in, strings out. Quantities and
prices are printed exactly (``Decimal``), as strings in JSON so no float ever rounds them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tradebot.core.order_shape import OrderClass
from tradebot.core.orders import OrderIntent, Plan, SkippedLeg, shape_prices


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """Plain JSON-ready data: ``{"intents": [...], "skipped": [...], "notes": [...]}``."""
    return {
        "intents": [_intent_dict(i) for i in plan.intents],
        "skipped": [_skipped_dict(s) for s in plan.skipped],
        "notes": list(plan.notes),
    }


def plan_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2)


def plan_table(plan: Plan) -> str:
    """Orders in sending order, then skipped legs with their reasons, then plan notes."""
    lines: list[str] = []
    if plan.intents:
        lines.append("Orders (the close group goes out first, then the open group):")
        rows = [
            ["#", "group", "side", "qty", "symbol", "type", "tif", "price", "notional", "client id"]
        ]
        for n, intent in enumerate(plan.intents, 1):
            # which price the order was sized at: the reference, or the signal's standing in
            price = f"~{intent.reference_price} {intent.price_source}"
            if intent.limit_price:
                price = f"{intent.limit_price} lmt, {price}"
            rows.append(
                [
                    str(n),
                    str(intent.role),
                    str(intent.side),
                    _number(intent.qty),
                    intent.symbol,
                    str(intent.order_type) + (" ext" if intent.extended_hours else ""),
                    str(intent.time_in_force),
                    price,
                    f"{intent.notional:,.2f}",
                    intent.client_order_id,
                ]
            )
        for n, row in enumerate(_aligned(rows)):
            lines.append("  " + row)
            if n:
                intent = plan.intents[n - 1]
                lines += [f"       leg: {leg}" for leg in intent.leg_ids]
                lines += [f"       note: {note}" for note in intent.notes]
    else:
        lines.append("No orders.")
    if plan.skipped:
        lines += ["", "Skipped legs:"]
        rows = [["leg", "reason", "why"]]
        rows += [[_leg_label(s), str(s.reason), s.detail] for s in plan.skipped]
        lines += ["  " + row for row in _aligned(rows)]
    if plan.notes:
        lines += ["", "Notes:"] + [f"  {note}" for note in plan.notes]
    return "\n".join(lines)


def _intent_dict(intent: OrderIntent) -> dict[str, Any]:
    return {
        "client_order_id": intent.client_order_id,
        "group": str(intent.role),
        "algo_id": intent.algo_id,
        "symbol": intent.symbol,
        "side": str(intent.side),
        "qty": _number(intent.qty),
        "order_type": str(intent.order_type),
        "time_in_force": str(intent.time_in_force),
        "limit_price": None if intent.limit_price is None else _number(intent.limit_price),
        "reference_price": _number(intent.reference_price),
        "price_source": str(intent.price_source),
        "notional": _number(intent.notional),
        "extended_hours": intent.extended_hours,
        "legs": [leg.key for leg in intent.leg_ids],
        "notes": list(intent.notes),
        # exits (core/exits.py): only where the order has them
        **(
            {"order_class": str(intent.order_class)}
            if intent.order_class is not OrderClass.SIMPLE
            else {}
        ),
        **{name: _number(value) for name, value in shape_prices(intent).items()},
        **({"parent": intent.parent} if intent.parent is not None else {}),
    }


def _skipped_dict(skipped: SkippedLeg) -> dict[str, Any]:
    data: dict[str, Any] = {
        "leg": skipped.key,
        "reason": str(skipped.reason),
        "detail": skipped.detail,
    }
    if skipped.rejected is not None:
        data["raw"] = skipped.rejected.raw
    return data


def _leg_label(skipped: SkippedLeg) -> str:
    if skipped.key is not None:
        return skipped.key
    rejected = skipped.rejected
    if rejected is None:
        return "?"
    where = f"[{rejected.index}]" if rejected.index is not None else ""
    return f"{rejected.algo_id}:{rejected.kind or 'payload'}{where}"


def _number(value: Decimal) -> str:
    return format(value, "f")


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell; the last column is left ragged."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    ]
