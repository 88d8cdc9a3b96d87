"""The sans-I/O Phoenix client: refs, reply matching, stale closes, heartbeats, join timeouts."""

from __future__ import annotations

import json

import pytest

from tests.conftest import load_fixture
from tradebot.alphahub import protocol as p
from tradebot.exceptions import InvalidFrame


def client(*algos: int) -> p.ChannelClient:
    c = p.ChannelClient(algos or (14,), heartbeat_interval=15, heartbeat_timeout=10, join_timeout=5)
    c.start(0.0)
    return c


def sent(c: p.ChannelClient) -> list[list[object]]:
    return [json.loads(text) for text in c.data_to_send()]


def reply(join_ref: str | None, ref: str | None, topic: str, status: str = "ok") -> str:
    return json.dumps([join_ref, ref, topic, "phx_reply", {"status": status, "response": {}}])


def test_fixture_frames_decode() -> None:
    for name in [
        "join_request",
        "join_reply_ok",
        "heartbeat_reply",
        "phx_close",
        "new_signals_minotaur3",
    ]:
        frame = p.decode_frame(json.dumps(load_fixture(f"alphahub/{name}.json")))
        assert frame.topic.startswith(("algorithms:", "phoenix"))


def test_joins_carry_distinct_real_refs() -> None:
    c = client(14, 16)
    frames = sent(c)
    assert [f[2:4] for f in frames] == [
        ["algorithms:14", "phx_join"],
        ["algorithms:16", "phx_join"],
    ]
    refs = [f[1] for f in frames]
    assert all(isinstance(r, str) for r in refs) and len(set(refs)) == 2
    assert all(f[0] == f[1] for f in frames)  # a join's ref is its join_ref


def test_join_reply_is_matched_by_ref() -> None:
    c = client(14)
    join_ref = sent(c)[0][1]
    assert isinstance(c.receive(reply("x", "999", "algorithms:14"), 1.0), p.Ignored)
    assert not c.all_joined
    assert c.receive(reply(str(join_ref), str(join_ref), "algorithms:14"), 1.0) == p.Joined(
        14, str(join_ref)
    )
    assert c.all_joined


def test_join_error_is_retried_after_the_join_timeout() -> None:
    c = client(14)
    ref = str(sent(c)[0][1])
    event = c.receive(reply(ref, ref, "algorithms:14", status="error"), 1.0)
    assert isinstance(event, p.JoinFailed)
    assert c.next_deadline() == pytest.approx(6.0)
    c.on_timer(6.0)
    assert [f[3] for f in sent(c)] == ["phx_join"]


def test_join_timeout_rejoins_with_a_new_ref() -> None:
    c = client(14)
    first = sent(c)[0][1]
    events = c.on_timer(5.0)
    assert events == [p.JoinFailed(14, "no join reply in time")]
    again = sent(c)
    assert again[0][3] == "phx_join" and again[0][1] != first


def joined(c: p.ChannelClient) -> str:
    ref = str(sent(c)[0][1])
    c.receive(reply(ref, ref, "algorithms:14"), 0.5)
    return ref


def test_close_for_the_current_join_rejoins_and_older_ones_are_ignored() -> None:
    c = client(14)
    ref = joined(c)
    stale = json.dumps(["0", None, "algorithms:14", "phx_close", {}])
    assert isinstance(c.receive(stale, 1.0), p.Ignored)
    assert c.all_joined and sent(c) == []
    current = json.dumps([ref, None, "algorithms:14", "phx_error", {}])
    assert c.receive(current, 1.0) == p.ChannelLost(14, "phx_error")
    assert not c.all_joined
    rejoin = sent(c)
    assert rejoin[0][3] == "phx_join" and rejoin[0][1] != ref
    # The server's close for the old instance, arriving after our rejoin, changes nothing.
    assert isinstance(
        c.receive(json.dumps([ref, None, "algorithms:14", "phx_close", {}]), 1.1), p.Ignored
    )


def test_heartbeats_on_a_fixed_period_and_a_missing_reply_is_death() -> None:
    c = client(14)
    joined(c)
    assert c.next_deadline() == 15.0
    assert c.on_timer(15.0) == []
    beat = sent(c)[0]
    assert beat[:4] == [None, beat[1], "phoenix", "heartbeat"]
    ok = json.dumps([None, beat[1], "phoenix", "phx_reply", {"status": "ok", "response": {}}])
    assert isinstance(c.receive(ok, 15.1), p.Ignored)
    c.on_timer(30.0)
    assert sent(c)[0][3] == "heartbeat"
    assert c.next_deadline() == 40.0  # the reply deadline comes before the next heartbeat
    assert c.on_timer(40.0) == [p.Dead("no heartbeat reply within 10 s")]


def test_a_reply_settles_older_heartbeats_too() -> None:
    c = p.ChannelClient((14,), heartbeat_interval=1, heartbeat_timeout=10, join_timeout=50)
    c.start(0.0)
    c.data_to_send()
    c.on_timer(1.0)
    c.on_timer(2.0)
    second = sent(c)[-1][1]
    c.receive(json.dumps([None, second, "phoenix", "phx_reply", {"status": "ok"}]), 2.5)
    assert c.next_deadline() == 3.0  # only the next heartbeat is due, no reply deadline


def test_signal_push_and_broadcast() -> None:
    c = client(16)
    frame = load_fixture("alphahub/new_signals_minotaur3.json")
    event = c.receive(json.dumps(frame), 1.0)
    assert isinstance(event, p.SignalPush) and event.algo_id == 16
    assert isinstance(
        c.receive(json.dumps([None, None, "algorithms:99", "new_signals", {}]), 1.0), p.Ignored
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "null",
        "[]",
        "[1,2,3,4,5]",
        '[null,null,"t",5,{}]',
        '[true,null,"t","e",{}]',
        b"\xff",
    ],
)
def test_malformed_frames_raise_invalid_frame(text: str | bytes) -> None:
    with pytest.raises(InvalidFrame):
        p.decode_frame(text)


def test_topic_round_trip() -> None:
    assert p.algo_of(p.topic_for(17)) == 17
    assert p.algo_of("algorithms:x") is None and p.algo_of("rooms:1") is None
