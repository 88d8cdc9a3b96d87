"""What the run loop tells the planner about today: the orders counted and the kill switch read."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.execution.fixed_planner import make_signal, simple_plan
from tests.scripted_broker import T0, ScriptedBroker
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.context import PlanningContext
from tradebot.runtime.killswitch import write_kill_switch

YESTERDAY = T0 - timedelta(days=1)


async def test_orders_today_are_todays_journaled_ones_and_those_made_since(tmp_path: Path) -> None:
    at = [YESTERDAY]
    with open_journal(tmp_path / "j.sqlite", clock=lambda: at[0]) as journal:
        for when, algo_id in ((YESTERDAY, 7), (T0, 7), (T0, 9)):
            at[0] = when
            signal = make_signal(
                algo_id, opens=(("AAPL", "buy", "189"),), received_at=when, leg_time=when
            )
            journal.record_signal_and_plan(signal, simple_plan(signal, journal.rebuild_book()))
        ctx = PlanningContext(ScriptedBroker(), journal, kill_switch=None, track_pnl=False)
        # yesterday's order does not count against today's max_orders_per_day
        assert (await ctx.day_state(T0)).orders_today == {7: 1, 9: 1}
        ctx.count_orders([9, 9])  # two made durable since the day was loaded
        assert (await ctx.day_state(T0)).orders_today == {7: 1, 9: 3}


async def test_the_kill_switch_is_read_for_every_plan(tmp_path: Path) -> None:
    switch = tmp_path / "tradebot.halt"
    with open_journal(tmp_path / "j.sqlite") as journal:
        ctx = PlanningContext(ScriptedBroker(), journal, kill_switch=switch, track_pnl=False)
        day = await ctx.day_state(T0)
        assert not day.halted and not day.reduce_only
        write_kill_switch(switch, reduce_only=True, reason="earnings", now=T0)
        day = await ctx.day_state(T0)
        assert day.reduce_only and not day.halted
        write_kill_switch(switch, reduce_only=False, reason="stop", now=T0)
        assert (await ctx.day_state(T0)).halted
        switch.unlink()
        day = await ctx.day_state(T0)
        assert not day.halted and not day.reduce_only
