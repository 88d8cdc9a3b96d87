"""The plan for ``benchmarks/plan.py``'s signal, written out and compared with a stored copy.

Speed work on the planner must not change a single field of what it plans: this pins every
intent (client order id, quantity, prices, notes), every skip and every note for the
benchmark's inputs, with every limit on, with none, and with the variants that reach the
rest of the code (limits that cap closes and opens, limit orders, chased limits with exits,
fractional shares). A deliberate change of behaviour regenerates the file:

    TRADEBOT_GOLDEN_WRITE=1 .venv/bin/python -m pytest tests/core/test_plan_golden.py
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import pytest

from tradebot.core.orders import OrderIntent, Plan, shape_prices

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden" / "plan_benchmark.txt"

#: the benchmark's opens replaced: against holdings (a flip each way), with one, and new
FLIPS = (
    ("S004", "sell", "50"),  # algorithm 7 is long 5: flatten, then short
    ("S005", "buy", "50"),  # short 6: flatten, then long
    ("S006", "buy", "50"),  # long 7: already held
    ("NEWA", "buy", "168.56"),
)


class Variant(NamedTuple):
    limits: bool
    algorithm: dict[str, Any]
    opens: tuple[tuple[str, str, str], ...] | None = None  # None: the benchmark's
    unmarked: tuple[str, ...] = ()  # held symbols with no price to value them at
    moved: dict[str, str] | None = None  # the broker's price, where not the signal's


LIMIT_ORDERS = {"order_type": "limit", "time_in_force": "gtc", "limit_offset_pct": "0.5"}
EXITS = {"take_profit_pct": 5, "stop_loss_pct": 3}
VARIANTS: dict[str, Variant] = {
    "every limit on": Variant(True, {}),
    "no limits": Variant(False, {}),
    "closes capped, limit orders": Variant(
        True, {"risk": {"max_order_notional": 150}} | LIMIT_ORDERS
    ),
    "opens capped by exposure, brackets": Variant(
        True,
        {"risk": {"max_algo_exposure": 10800, "max_symbol_exposure": 1400}, "exits": EXITS}
        | LIMIT_ORDERS,
    ),
    "limit_then_market with exits": Variant(
        True, {"order_type": "limit_then_market", "limit_offset_pct": "0.1", "exits": EXITS}
    ),
    "fractional, trailing stop": Variant(
        True, {"allow_fractional": True, "exits": {"trailing_stop_pct": 2}}
    ),
    "flips": Variant(True, {}, FLIPS),
    "flips, exposure capped": Variant(True, {"risk": {"max_algo_exposure": 10400}}, FLIPS),
    "a holding that cannot be valued": Variant(True, {}, unmarked=("S020",)),
    "the market moved": Variant(
        True, {}, moved={"NEWA": "169.10", "NEWC": "142.5", "S001": "101.9", "S002": "55"}
    ),
}


def _benchmark() -> ModuleType:
    # the benchmark is a script: it imports its neighbours (``targets``) from its own folder
    folder = str(ROOT / "benchmarks")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("plan_benchmark", ROOT / "benchmarks" / "plan.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def flat(intent: OrderIntent) -> str:
    """``intent`` written as the flat record it was before its shape became a sum type
    (``core/orders.py``), field for field: the file stored then still pins every plan."""
    chase = intent.chase
    prices = shape_prices(intent)
    fields = {
        "client_order_id": intent.client_order_id,
        "algo_id": intent.algo_id,
        "symbol": intent.symbol,
        "side": intent.side,
        "qty": intent.qty,
        "order_type": intent.order_type,
        "time_in_force": intent.time_in_force,
        "role": intent.role,
        "leg_ids": intent.leg_ids,
        "reference_price": intent.reference_price,
        "limit_price": intent.limit_price,
        "extended_hours": intent.extended_hours,
        "attempt": intent.attempt,
        "notes": intent.notes,
        "price_source": intent.price_source,
        "chase": _Raw(
            "None"
            if chase is None
            else f"ChaseTerms(after={chase.chase_after!r}, pct={chase.chase_pct!r})"
        ),
        "exits": intent.exits,
        "order_class": intent.order_class,
        **{
            name: prices.get(name)
            for name in ("take_profit_price", "stop_loss_price", "stop_price", "trail_pct")
        },
        "parent": intent.parent,
    }
    return f"OrderIntent({', '.join(f'{k}={v!r}' for k, v in fields.items())})"


class _Raw(str):
    def __repr__(self) -> str:
        return str(self)


def render(name: str, result: Plan) -> str:
    lines = [f"== {name}"]
    lines += [f"intent {flat(intent)}" for intent in result.intents]
    lines += [f"skip {skip!r}" for skip in result.skipped]
    lines += [f"note {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


def rendered() -> str:
    bench = _benchmark()
    out = []
    for name, variant in VARIANTS.items():
        config = bench.make_config(variant.limits, **variant.algorithm)
        call = bench.inputs(config, variant.opens or bench.OPENS, variant.unmarked, variant.moved)
        first = call()
        assert call() == first  # planning twice changes nothing (the book is shared)
        out.append(render(name, first))
    return "\n".join(out)


def test_the_benchmark_signal_plans_exactly_as_stored() -> None:
    text = rendered()
    if os.environ.get("TRADEBOT_GOLDEN_WRITE"):
        GOLDEN.write_text(text)
        pytest.skip("golden file written")
    assert text == GOLDEN.read_text()


def test_the_variants_reach_what_they_are_for() -> None:
    """The golden file covers the code it is meant to: caps, limit prices, chases, exits."""
    text = GOLDEN.read_text()
    for expected in (
        "close capped by max_order_notional",
        "cannot check max_algo_exposure: no price for held S020",
        "capped by max_algo_exposure",
        "limit_price=Decimal(",
        "chase=ChaseTerms(",
        "role=<IntentRole.EXIT",
        "order_class=<OrderClass.BRACKET",
        "trailing_stop_pct=Decimal(",
    ):
        assert expected in text, expected
