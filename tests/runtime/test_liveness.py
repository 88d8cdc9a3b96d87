"""One judge of "running" for every view: each threshold tested on both sides."""

from __future__ import annotations

import pytest

from tradebot.runtime.liveness import MISSED_BEATS, NOT_RESPONDING, STOPPED, judge


@pytest.mark.parametrize("every", [2.0, 5.0])
def test_three_missed_beats_is_not_responding_and_not_before(every: float) -> None:
    limit = MISSED_BEATS * every
    assert MISSED_BEATS == 3
    on_time = judge(said="running", age=limit, every=every, gone=None)
    assert on_time.state == "running" and on_time.alive and on_time.running and on_time.why == ""
    late = judge(said="running", age=limit + 0.01, every=every, gone=None)
    assert late.state == NOT_RESPONDING and not late.alive and not late.running
    assert f"one is due every {every:g} s" in late.why
    assert late.age == limit + 0.01


def test_no_heartbeat_at_all_is_not_responding() -> None:
    verdict = judge(said="running", age=None, every=5, gone=None)
    assert verdict.state == NOT_RESPONDING and verdict.why == "no heartbeat yet"


def test_a_gone_process_is_not_responding_however_fresh_its_heartbeat() -> None:
    # killed or crashed: never shown as a stop, which would tell a person all is well
    gone = judge(said="running", age=0.5, every=5, gone="process 42 is gone")
    assert gone.state == NOT_RESPONDING and not gone.alive
    assert gone.why == "process 42 is gone without a clean stop (killed or crashed)"
    here = judge(said="running", age=0.5, every=5, gone=None)
    assert here.state == "running"


def test_a_clean_stop_is_stopped_even_when_old() -> None:
    assert judge(said="stopped", age=9999, every=5, gone=None).state == STOPPED
    assert judge(said="stopped", age=0, every=5, gone=None).why == "it stopped cleanly"


def test_what_a_live_process_says_is_kept() -> None:
    standby = judge(said="standby", age=1, every=5, gone=None)
    assert standby.state == "standby" and standby.alive and not standby.running
    assert judge(said="starting", age=1, every=5, gone=None).state == "starting"
    assert judge(said="standby", age=15.5, every=5, gone=None).state == NOT_RESPONDING
