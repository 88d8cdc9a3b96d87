"""One test per simulator fault knob: after recovery the next signal arrives exactly once, and
the lapse was recorded as a gap. Everything runs against the simulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.alphahub.conftest import (
    Recorder,
    fast_settings,
    make_listener,
    next_signal,
    payload,
    running,
    until,
)
from tradebot.alphahub import Listener
from tradebot.core.signal import Signal
from tradebot.exceptions import AuthenticationError
from tradebot.simulators.alphahub import AlphaHubSimulator


def symbols(signal: Signal) -> list[str]:
    return [leg.symbol for leg in signal.legs]


def closed_gaps(listener: Listener) -> int:
    return sum(1 for g in listener.gaps if g.rejoined_at is not None)


async def check_recovery(
    sim: AlphaHubSimulator,
    listener: Listener,
    fault: Callable[[], object],
    *,
    algo: int = 14,
    gap_expected: bool = True,
) -> None:
    """Deliver a signal, inject ``fault``, recover, then check the next one arrives once."""
    async with running(listener):
        await until(lambda: listener.all_joined, listener)
        await sim.push(algo, payload("AAA"))
        assert symbols(await next_signal(listener)) == ["AAA"]
        gaps_before = closed_gaps(listener)

        fault()
        if gap_expected:
            await until(lambda: closed_gaps(listener) > gaps_before, listener)
        await until(lambda: listener.all_joined, listener)
        await asyncio.wait_for(sim.wait_joined(algo, listener.settings.connections), 10)

        assert await sim.push(algo, payload("BBB")) >= 1
        assert symbols(await next_signal(listener)) == ["BBB"]
        await sim.push(algo, payload("CCC"))
        # The very next signal is CCC: BBB was handed on exactly once.
        assert symbols(await next_signal(listener)) == ["CCC"]
        assert listener.queue.empty()
    if gap_expected:
        gap = listener.gaps[gaps_before]
        assert gap.algo_id == algo
        assert gap.rejoined_at is not None and gap.rejoined_at >= gap.lost_at
        assert gap.lost_at.utcoffset() is not None and gap.lost_at.utcoffset().total_seconds() == 0
    else:
        assert closed_gaps(listener) == gaps_before


async def test_abrupt_tcp_drop(sim: AlphaHubSimulator) -> None:
    listener, rec = make_listener(sim, (14, 16))
    await check_recovery(sim, listener, sim.drop)
    reasons = {g.reason for g in listener.gaps}
    assert reasons == {"connection dropped without a close frame"}
    assert {g.algo_id for g in rec.gaps} == {14, 16}  # every channel of the link had a gap


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1011, 1012])
async def test_close_with_code(sim: AlphaHubSimulator, code: int) -> None:
    listener, _ = make_listener(sim)
    await check_recovery(sim, listener, lambda: sim.close_connections(code))
    assert f"code {code}" in listener.gaps[0].reason


async def test_silent_link_missing_heartbeat_reply(sim: AlphaHubSimulator) -> None:
    listener, _ = make_listener(sim, heartbeat_timeout=0.3)
    await check_recovery(sim, listener, sim.mute_heartbeats)
    assert "heartbeat" in listener.gaps[0].reason


@pytest.mark.parametrize("event", ["phx_error", "phx_close"])
async def test_channel_error_or_close_rejoins(sim: AlphaHubSimulator, event: str) -> None:
    listener, _ = make_listener(sim, (14, 16))
    connections_before = sim.connections
    await check_recovery(sim, listener, lambda: sim.end_channel(14, event))
    assert [(g.algo_id, g.reason) for g in listener.gaps] == [(14, event)]
    assert sim.connections == connections_before  # a channel rejoin, not a reconnect


async def test_close_for_an_older_join_is_ignored(sim: AlphaHubSimulator) -> None:
    listener, _ = make_listener(sim)
    await check_recovery(sim, listener, lambda: sim.send_stale_close(14), gap_expected=False)


async def test_handshake_refused_with_403_logs_in_again(sim: AlphaHubSimulator) -> None:
    listener, _ = make_listener(sim)

    def fault() -> None:
        sim.refuse_handshakes(2)
        sim.drop()

    before: list[tuple[int, int]] = []
    await check_recovery(
        sim, listener, lambda: (before.append((sim.logins, sim.renewals)), fault())
    )
    assert sim.handshakes_refused == 2
    # one fresh token per refused token, through the renewal token: no password sent again
    assert (sim.logins, sim.renewals) == (before[0][0], before[0][1] + 2)


async def test_expired_token_is_replaced(sim: AlphaHubSimulator) -> None:
    listener, _ = make_listener(sim)

    def fault() -> None:
        sim.expire_tokens()
        sim.close_connections(1001)

    await check_recovery(sim, listener, fault)
    assert sim.handshakes_refused == 1
    assert (sim.logins, sim.renewals) == (1, 1)


async def test_login_refused_transiently_is_retried(sim: AlphaHubSimulator) -> None:
    listener, rec = make_listener(sim)

    def fault() -> None:
        sim.expire_tokens()  # the reconnect needs a new token...
        sim.refuse_renewals(1)  # ...the renewal is refused, so a login...
        sim.fail_logins(3, status=503)  # ...which fails three times
        sim.drop()

    await check_recovery(sim, listener, fault)
    assert sim.renewals == 1
    assert sim.logins == 1 + 3 + 1
    assert any("HTTP 503" in s.detail for s in rec.states if s.state == "retrying")


async def test_old_token_is_refreshed_before_connecting(sim: AlphaHubSimulator) -> None:
    listener, _ = make_listener(sim, token_max_age=0.001)
    await check_recovery(sim, listener, sim.drop)
    assert sim.logins == 1 and sim.renewals >= 1  # renewed, the password sent once
    assert sim.handshakes_refused == 0  # refreshed before use, never refused


@pytest.mark.parametrize(
    "frame",
    [
        "not json at all",
        "[1, 2, 3]",
        '{"topic": "algorithms:14"}',
        '[null, null, "algorithms:14", "new_signals", "not an object"]',
        '[null, null, "algorithms:14", "new_signals", [1, 2]]',
        '[{}, null, "algorithms:14", "new_signals", {}]',
        "",
    ],
)
async def test_malformed_frame_is_reported_and_skipped(sim: AlphaHubSimulator, frame: str) -> None:
    listener, rec = make_listener(sim)
    await check_recovery(sim, listener, lambda: sim.send_raw(frame), gap_expected=False)
    assert len(rec.bad) == 1
    assert rec.bad[0].connection == 0 and rec.bad[0].reason


async def test_same_signal_pushed_twice_is_handed_on_once(sim: AlphaHubSimulator) -> None:
    listener, _ = make_listener(sim, connections=2)
    async with running(listener):
        await until(lambda: listener.all_joined, listener)
        await asyncio.wait_for(sim.wait_joined(14, 2), 10)
        assert await sim.push(14, payload("AAA", "BBB"), times=2) == 2  # 4 copies in all
        assert symbols(await next_signal(listener)) == ["AAA", "BBB"]
        # A re-push with one new leg comes out with only that leg.
        await sim.push(14, payload("AAA", "BBB", "CCC"))
        assert symbols(await next_signal(listener)) == ["CCC"]
        await sim.push(14, payload("DDD"))
        assert symbols(await next_signal(listener)) == ["DDD"]
        assert listener.queue.empty()


async def test_wrong_credentials_stop_with_a_clear_error(sim: AlphaHubSimulator) -> None:
    listener, _ = make_listener(sim, connections=2)
    sim.password = "another"
    with pytest.raises(AuthenticationError, match="refused the login"):
        await asyncio.wait_for(listener.run(), 10)
    assert sim.logins == 1  # both connections share one login; no hammering


async def test_login_answered_401_is_permanent(sim: AlphaHubSimulator) -> None:
    sim.fail_logins(1, status=401)
    listener, _ = make_listener(sim)
    with pytest.raises(AuthenticationError):
        await asyncio.wait_for(listener.run(), 10)
    assert sim.logins == 1


async def test_token_that_expired_with_time_is_replaced() -> None:
    async with AlphaHubSimulator(token_lifetime=0.3) as sim:
        listener, _ = make_listener(sim, token_max_age=3600)

        async def expired_then_drop() -> None:
            await sim.wait_tokens_expired()
            assert sim.live_tokens == 0
            sim.drop()

        tasks: list[asyncio.Task[None]] = []
        await check_recovery(
            sim, listener, lambda: tasks.append(asyncio.create_task(expired_then_drop()))
        )
        await tasks[0]
        assert sim.handshakes_refused >= 1
        assert sim.logins == 1 and sim.renewals >= 1


async def test_a_failing_callback_does_not_stop_the_listener(sim: AlphaHubSimulator) -> None:
    def broken(_: object) -> None:
        raise RuntimeError("observer bug")

    listener = Listener(
        fast_settings(sim.url), [14], on_gap=broken, on_state=broken, on_bad_input=broken
    )
    await check_recovery(sim, listener, sim.drop)


async def test_stopping_says_goodbye_with_1001(sim: AlphaHubSimulator) -> None:
    listener, _ = make_listener(sim, connections=2)
    async with running(listener):
        await until(lambda: listener.all_joined, listener)
    await asyncio.wait_for(sim.wait_until(lambda: not sim.connections), 10)
    assert sim.client_close_codes == [1001, 1001]


async def test_simulator_closes_an_idle_socket_with_1000() -> None:
    async with AlphaHubSimulator(idle_timeout=0.2) as sim:
        # Heartbeats slower than the server's idle timeout: the server closes, we reconnect.
        listener, _ = make_listener(sim, heartbeat_interval=5.0, heartbeat_timeout=5.0)
        async with running(listener):
            await until(lambda: listener.all_joined, listener)
            await until(lambda: len(listener.gaps) >= 1, listener)
        assert "code 1000" in listener.gaps[0].reason


def retries(rec: Recorder) -> list[tuple[int, float]]:
    return [(s.attempt or 0, s.retry_in or 0.0) for s in rec.states if s.state == "retrying"]


async def test_backoff_grows_while_the_server_keeps_refusing(sim: AlphaHubSimulator) -> None:
    settings = fast_settings(sim.url)  # first_delay 0.01, max_delay 0.05
    reconnect = settings.reconnect.model_copy(update={"healthy_after": 3600.0})
    listener, rec = make_listener(sim, reconnect=reconnect)  # so the drop counts as attempt 1

    def fault() -> None:
        sim.refuse_handshakes(6)
        sim.drop()

    await check_recovery(sim, listener, fault)
    waits = retries(rec)
    assert [a for a, _ in waits] == [1, 2, 3, 4, 5, 6, 7]  # the drop, then six refusals
    assert 0.005 <= waits[0][1] <= 0.01  # the first retry comes quickly
    assert waits[0][1] <= waits[1][1] <= waits[2][1]  # then exponentially later...
    assert all(w <= 0.05 for _, w in waits)  # ...up to the cap


@pytest.mark.parametrize(("healthy_after", "expected"), [(3600.0, [1, 2, 3]), (0.1, [])])
async def test_backoff_resets_only_after_a_healthy_connection(
    sim: AlphaHubSimulator, healthy_after: float, expected: list[int]
) -> None:
    settings = fast_settings(sim.url)
    reconnect = settings.reconnect.model_copy(update={"healthy_after": healthy_after})
    listener, rec = make_listener(sim, reconnect=reconnect)
    async with running(listener):
        for drop in range(3):
            await until(lambda: listener.all_joined, listener)
            # Three heartbeats answered, 0.05 s apart: the link has been up for over 0.1 s.
            conn = sim.connections[0]
            await asyncio.wait_for(
                sim.wait_until(lambda c=conn: sim.heartbeats_answered(c) >= 3), 10
            )
            sim.drop()
            await until(lambda n=drop: closed_gaps(listener) > n, listener)
    # Short-lived connections count as failures (no hot loop against a server that accepts
    # and drops); a connection that stayed healthy reconnects at once with a fresh backoff.
    assert [a for a, _ in retries(rec)] == expected
