"""Hypothesis: no frame text and no payload, however odd, crashes the listener's parsing path."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tradebot.alphahub import DroppedInput, Listener
from tradebot.alphahub import protocol as p
from tradebot.config.model import AlphaHubConfig
from tradebot.exceptions import InvalidFrame

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)
leg_like = st.fixed_dictionaries(
    {},
    optional={
        " Symbol ": st.text(max_size=8) | json_values,
        "symbol": st.sampled_from(["AAPL", " msft ", "", "BRK.B", "TOO-LONG-SYMBOL-XXXX"])
        | json_values,
        "side": st.sampled_from(["buy", "SELL", " sell ", "short", ""]) | json_values,
        "price": st.sampled_from([216.08, "87.1", 0, -1, "nan", "1e999", True]) | json_values,
        "timestamp": st.sampled_from(
            ["2021-04-26T14:30:00", "2021-04-26 T14:30:00", "2021-13-45T99:99:99", "yesterday"]
        )
        | json_values,
    },
)
payloads = (
    st.fixed_dictionaries(
        {},
        optional={
            "open": st.lists(leg_like, max_size=4) | json_values,
            "close": st.lists(leg_like, max_size=4) | json_values,
        },
    )
    | json_values
)


EVENTS = (p.Joined, p.JoinFailed, p.ChannelLost, p.SignalPush, p.Dead, p.Ignored)


def fresh_client() -> p.ChannelClient:
    c = p.ChannelClient((14, 16), heartbeat_interval=1, heartbeat_timeout=1, join_timeout=1)
    c.start(0.0)
    return c


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_any_text_is_a_frame_or_invalid_frame(text: str | bytes) -> None:
    client = fresh_client()
    try:
        result = client.receive(text, 0.5)
    except InvalidFrame as exc:
        assert str(exc)  # a reason for the journal
        return
    assert isinstance(result, EVENTS)


@settings(max_examples=300, deadline=None)
@given(
    join_ref=st.none() | st.text(max_size=3) | st.integers() | json_values,
    ref=st.none() | st.text(max_size=3) | st.integers(),
    topic=st.sampled_from(["algorithms:14", "algorithms:16", "phoenix", "algorithms:x", ""])
    | st.text(max_size=15),
    event=st.sampled_from(["phx_reply", "phx_close", "phx_error", "new_signals", "presence"]),
    payload=payloads,
)
def test_any_frame_shape_is_handled(
    join_ref: Any, ref: Any, topic: Any, event: str, payload: Any
) -> None:
    client = fresh_client()
    text = json.dumps([join_ref, ref, topic, event, payload])
    try:
        result = client.receive(text, 0.5)
    except InvalidFrame:
        return
    assert isinstance(
        result, (p.Joined, p.JoinFailed, p.ChannelLost, p.SignalPush, p.Dead, p.Ignored)
    )


@settings(max_examples=400, deadline=None)
@given(payload=payloads)
def test_any_payload_becomes_a_signal_or_a_bad_input_report(payload: Any) -> None:
    bad: list[DroppedInput] = []
    listener = Listener(AlphaHubConfig(), [14], on_bad_input=bad.append)
    listener.push(0, 14, payload, "raw")  # must never raise
    if listener.queue.empty():
        # Nothing handed on: either reported as bad input or a payload with no legs at all.
        assert (
            bad
            or not isinstance(payload, dict)
            or not any(payload.get(k) for k in ("open", "close"))
        )
    else:
        signal = listener.queue.get_nowait()
        assert signal.algo_id == 14
        assert signal.legs or signal.rejected or signal.held
