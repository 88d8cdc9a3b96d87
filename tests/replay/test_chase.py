"""The chaser of ``limit_then_market`` in a replay: a limit that rests is chased as live (the
timer, the price, a later signal, the limits in force), its remainder under the live id."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradebot.core.ids import remainder_id
from tradebot.core.order_shape import MARKET, Limit
from tradebot.replay.engine import Replayed, run_replay
from tradebot.replay.history_file import history_text, parse_file
from tradebot.replay.prices_file import PricePoint
from tradebot.replay.timeline import timeline

from .helpers import arrivals_of, load, run_cli, run_json, write_config, write_history

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
CHASE = "order_type: limit_then_market, chase_after: 60, chase_pct: 0.33"


def chasing(folder: Path, name: str = "config.yaml", *, keys: str = CHASE, risk: str = "") -> Path:
    """helpers.write_config's two algorithms, limit_then_market."""
    text = f"""\
broker:
  name: sim
  sim: {{cash: 100000, slippage_bps: 0}}
journal:
  path: journal.sqlite
risk:
  max_signal_age: 300
  price_collar_pct: 5
{risk}
algorithms:
  1: {{strategy: allocation, params: {{pct: 20, max_positions: 2}}, allow_short: true, {keys}}}
  2: {{strategy: allocation, params: {{pct: 20, max_positions: 2}}, allow_short: true, {keys}}}
"""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def leg(symbol: str, side: str, price: str, at: datetime) -> dict[str, Any]:
    return {"price": price, "side": side, "symbol": symbol, "timestamp": f"{at:%Y-%m-%dT%H:%M:%S}"}


def replay_of(
    folder: Path,
    legs: list[dict[str, Any]],
    prices: Sequence[tuple[int, str]] = (),
    *,
    keys: str = CHASE,
    risk: str = "",
) -> Replayed:
    """Algorithm 1's ``legs`` replayed; ``prices``: (seconds after T0, price of X) rows."""
    config = load(chasing(folder, keys=keys, risk=risk))
    history = parse_file(json.loads(history_text({1: legs})), config.alphahub.zone)
    arrivals = timeline(history, known=config.algorithms)
    tape = [PricePoint(T0 + timedelta(seconds=s), "X", Decimal(p)) for s, p in prices]
    return run_replay(config, arrivals, tape)


def fills(done: Replayed) -> list[tuple[Decimal, Decimal]]:
    """(quantity held, average cost) of algorithm 1's X."""
    position = done.tally.positions[1, "X"]
    return [(position.qty, position.cost)]


def test_a_limit_that_never_fills_ends_filled_at_market_by_the_timer(tmp_path: Path) -> None:
    """Limits at the market rest in the sim (a limit fills only when a price goes through it):
    each is chased after 60 s, and the whole history ends as a market config's would, with
    one chased remainder per limit under the live chaser's id."""
    chased = run_replay(load(chasing(tmp_path)), arrivals_of(load(chasing(tmp_path))))
    market = load(write_config(tmp_path, "market.yaml"))
    plain = run_replay(market, arrivals_of(market))
    limits = [i for i in chased.sent if isinstance(i.price, Limit)]
    remainders = [i for i in chased.sent if i.price == MARKET]
    assert len(limits) > 20 and len(remainders) == len(limits)
    assert [r.client_order_id for r in remainders] == [
        remainder_id(x.client_order_id) for x in limits
    ]
    assert all(r.qty == x.qty for r, x in zip(remainders, limits, strict=True))  # none filled
    assert sum(chased.tally.chased.values()) == len(remainders)
    assert sum(chased.tally.orders.values()) == 2 * sum(plain.tally.orders.values())
    # the same fills at the same prices: the positions and the P&L of the market config
    assert chased.tally.fills == plain.tally.fills
    assert chased.tally.realised == plain.tally.realised
    held = {k: (p.qty, p.cost) for k, p in chased.tally.positions.items() if p.qty}
    assert held == {k: (p.qty, p.cost) for k, p in plain.tally.positions.items() if p.qty}


def test_the_timer_fires_when_it_runs_out_at_the_market_of_then(tmp_path: Path) -> None:
    """Buy X at 100: 0.2% above (within chase_pct) at +30 s, 1% above at +120 s. The timer runs
    out at +60 s, between the rows: the rest goes at 100.20, not at the next row's 101."""
    done = replay_of(tmp_path, [leg("X", "buy", "100", T0)], [(30, "100.20"), (120, "101")])
    assert [type(i.price) for i in done.sent] == [Limit, type(MARKET)]
    assert done.tally.chased[1] == 1 and done.tally.fills[1] == 1
    (qty, cost) = fills(done)[0]
    assert qty > 0 and cost == Decimal("100.20")
    (day,) = {d for (_, d) in done.tally.days}
    assert day == T0.date()


def test_the_last_limit_is_chased_after_the_last_signal(tmp_path: Path) -> None:
    """No later signal and no price: the timer still runs out (at +60 s)."""
    done = replay_of(tmp_path, [leg("X", "buy", "100", T0)])
    assert done.tally.chased[1] == 1 and fills(done)[0][1] == Decimal(100)


def test_a_limit_that_fills_before_its_chase_is_not_chased(tmp_path: Path) -> None:
    """The price goes through the limit at +30 s: it fills at its limit; nothing at market."""
    done = replay_of(tmp_path, [leg("X", "buy", "100", T0)], [(30, "99.90"), (90, "103")])
    assert len(done.sent) == 1 and done.tally.chased[1] == 0
    assert done.tally.fills[1] == 1 and fills(done)[0][1] == Decimal(100)


def test_a_price_past_the_limit_chases_before_the_timer(tmp_path: Path) -> None:
    """0.5% above a buy limit (chase_pct 0.33) at +10 s: the rest goes at that price then."""
    done = replay_of(tmp_path, [leg("X", "buy", "100", T0)], [(10, "100.50"), (60, "102")])
    assert done.tally.chased[1] == 1 and fills(done)[0][1] == Decimal("100.50")


def test_a_sell_limit_is_chased_by_a_price_below_it(tmp_path: Path) -> None:
    """A short: its price trigger is below the limit (0.3% under: not yet; 0.5%: chased)."""
    done = replay_of(tmp_path, [leg("X", "sell", "100", T0)], [(5, "99.70"), (10, "99.50")])
    assert done.tally.chased[1] == 1
    qty, cost = fills(done)[0]
    assert qty < 0 and cost == Decimal("99.50")


def test_a_later_signal_on_the_symbol_supersedes_the_remainder(tmp_path: Path) -> None:
    """Bought at 100 (the limit rests), closed 30 s later (nothing held: the close is skipped):
    the rest of the old open must not go out at +60 s."""
    legs = [leg("X", "sell", "100", T0 + timedelta(seconds=30)), leg("X", "buy", "100", T0)]
    done = replay_of(tmp_path, legs)
    assert done.tally.chased[1] == 0 and len(done.sent) == 1
    assert done.tally.fills[1] == 0


def test_a_remainder_the_limits_refuse_does_not_leave(tmp_path: Path) -> None:
    """One order a day for the algorithm: the limit was it, so its remainder is refused."""
    risk = "  max_orders_per_day: 1"
    done = replay_of(tmp_path, [leg("X", "buy", "100", T0)], risk=risk)
    assert len(done.sent) == 1 and done.tally.chased[1] == 0
    assert done.tally.fills[1] == 0


@pytest.mark.parametrize(("after", "cost"), [("50", "100.40"), ("90", "100")])
def test_chase_after_is_the_algorithms(tmp_path: Path, after: str, cost: str) -> None:
    """100.40 from +45 s, then a row through the limit at +60 s: a 50 s timer chased it
    before (the rest at 100.40), a 90 s one did not (it filled at its limit, 100)."""
    keys = f"order_type: limit_then_market, chase_after: {after}, chase_pct: 5"
    done = replay_of(
        tmp_path, [leg("X", "buy", "100", T0)], [(45, "100.40"), (60, "99")], keys=keys
    )
    assert done.tally.chased[1] == (1 if after == "50" else 0)
    assert fills(done)[0][1] == Decimal(cost)


def test_the_output_counts_chased_remainders_beside_the_other_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "market.yaml")
    other = chasing(tmp_path)
    history = write_history(tmp_path)
    args = ("--history", str(history), "--config", str(config), "--no-journal")
    data = run_json(capsys, *args, "--compare", str(other))
    total = data["algorithms"][0]["columns"]
    market, chased = total["replay market.yaml"], total["replay config.yaml"]
    assert market["chased"] == 0 and chased["chased"] > 20
    assert chased["orders"] == market["orders"] + chased["chased"]
    code, out, err = run_cli(capsys, *args, "--compare", str(other))
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith("  chased remainders"))
    assert row.split()[2:] == ["0", str(chased["chased"])]


def test_a_timer_that_runs_out_as_a_signal_arrives_acts_before_it(tmp_path: Path) -> None:
    """Chases due at an instant act before that instant's signal is planned (the order the
    engine's docstring gives): the rest goes at +60 s, then the close sells the whole of it
    (its own limit chased in turn at +120 s)."""
    at = T0 + timedelta(seconds=60)
    done = replay_of(tmp_path, [leg("X", "sell", "100", at), leg("X", "buy", "100", T0)])
    assert done.tally.chased[1] == 2 and done.tally.fills[1] == 2
    assert fills(done)[0][0] == 0


def test_what_the_limit_filled_is_not_sent_again(tmp_path: Path) -> None:
    """Filled before the timer, the limit's chase ends by itself: the tape going far past it
    afterwards sends nothing, and the algorithm holds exactly the limit's quantity."""
    done = replay_of(tmp_path, [leg("X", "buy", "100", T0)], [(30, "99.90"), (40, "110")])
    (limit,) = done.sent
    assert fills(done)[0][0] == limit.qty
