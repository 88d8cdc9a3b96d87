"""``tradebot journal archive`` never lets an order be sent twice: `tradebot run` trades a
signal, the journal is archived (the signal's rows move out), then

* AlphaHub pushes the very same signal again, still fresh for ``risk.max_signal_age``: the
  restarted bot sends nothing for it and journals it as a duplicate (the archive's tombstone of
  the order id);
* the restarted bot's backfill reads the same legs back from AlphaHub's history: they count as
  decided (the tombstones of the legs), nothing is recovered, nothing sent.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.e2e.harness import (
    ALGOS,
    Env,
    book_from_journal,
    entries,
    leg,
    running_bot,
    unresolved,
    until,
    wait_subscribed,
)
from tests.e2e.kill_points import mark
from tradebot.journal.archive import archive
from tradebot.journal.records import Status


def _leg(symbol: str, side: str, at: datetime) -> dict[str, Any]:
    return leg(symbol, side, "100", at.strftime("%Y-%m-%dT%H:%M:%S"))


def _posts(env: Env, since: int) -> int:
    return sum(1 for m, p in list(env.server.requests)[since:] if (m, p) == ("POST", "/v2/orders"))


async def _traded_then_archived(env: Env, base: datetime) -> str:
    """VRTX bought and sold, then JBHT bought (algorithm 14's newest signal, which stays); the
    bot stopped and the journal archived up to tomorrow: the VRTX rows move out. Returns the
    VRTX buy's client order id."""
    for symbol in ("VRTX", "JBHT", "CSX"):
        env.server.set_price(symbol, Decimal(100))
    await env.hub.push(14, {"open": [_leg("VRTX", "buy", base)]})
    await until(lambda: env.orders("VRTX") == ["buy 10"], "the VRTX order")
    await env.hub.push(14, {"close": [_leg("VRTX", "sell", base + timedelta(seconds=1))]})
    await until(lambda: env.orders("VRTX") == ["buy 10", "sell 10"], "the VRTX close")
    await env.hub.push(14, {"open": [_leg("JBHT", "buy", base + timedelta(seconds=2))]})
    await until(lambda: env.orders("JBHT") == ["buy 10"], "the JBHT order")
    await until(
        lambda: (
            book_from_journal(env.journal) == {(14, "JBHT"): Decimal(10)}
            and unresolved(env.journal) == 0
        ),
        "every fill on record",
    )
    (intent,) = entries(env.journal, symbols=("VRTX",), statuses=(Status.INTENT,), limit=1)
    assert intent.client_order_id is not None
    assert await env.bot.stop() == 0
    await until(lambda: not env.hub.joined(14), "the stopped bot's connections gone")
    assert isinstance(env.journal, Path)
    done = archive(env.journal, (datetime.now(UTC) + timedelta(days=1)).date())
    assert done.path is not None
    assert not entries(env.journal, symbols=("VRTX",))  # its rows moved out
    return intent.client_order_id


async def test_a_signal_pushed_again_after_its_rows_were_archived_is_not_sent_again(
    tmp_path: Path,
) -> None:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
    first = {"open": [_leg("VRTX", "buy", base)]}
    async with running_bot(tmp_path) as env:
        coid = await _traded_then_archived(env, base)

        env.hub.history_fault("404")  # only the live push brings it back
        await env.bot.start()
        await wait_subscribed(env.hub, ALGOS)
        since = mark(env)
        await env.push_and_wait(14, first)  # the same frame, the same leg, the same order id
        # a later signal of the same algorithm, handled after it: the barrier
        await env.hub.push(14, {"open": [_leg("CSX", "buy", base + timedelta(seconds=3))]})
        await until(lambda: env.orders("CSX") == ["buy 10"], "the CSX order")
        assert env.orders("VRTX") == ["buy 10", "sell 10"]  # nothing sent again
        assert _posts(env, since) == 1  # the CSX order only
        skips = entries(env.journal, symbols=("VRTX",), statuses=(Status.SKIPPED,))
        assert [s.data.get("reason") for s in skips] == ["duplicate"]
        assert coid in skips[0].detail
        assert await env.bot.stop() == 0


async def test_the_backfill_reading_archived_legs_back_recovers_nothing(tmp_path: Path) -> None:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
    async with running_bot(tmp_path) as env:
        await _traded_then_archived(env, base)
        seen = len(entries(env.journal, algo_ids=(14,), statuses=(Status.GAP,)))

        since = mark(env)
        await env.bot.start()  # reads the history back from JBHT's frame, minus a minute

        def outcome() -> str | None:
            gaps = entries(env.journal, algo_ids=(14,), statuses=(Status.GAP,))[seen:]
            done = [g.detail for g in gaps if g.detail.startswith("backfill for algorithm 14")]
            return done[0] if done else None

        await until(lambda: outcome() is not None, "the backfill's outcome for algorithm 14")
        found = re.search(r"(\d+) history leg\(s\) in the window, (\d+) missed", outcome() or "")
        assert found is not None, outcome()
        assert int(found[1]) >= 3 and found[2] == "0", outcome()  # VRTX's two legs are decided
        assert not entries(env.journal, symbols=("VRTX",))  # nothing recovered, nothing skipped
        assert _posts(env, since) == 0
        assert await env.bot.stop() == 0
