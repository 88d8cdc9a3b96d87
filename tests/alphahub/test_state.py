"""De-duplication, gap records, backoff and secret masking: the listener's pure parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from pydantic import SecretStr

from tradebot.alphahub.auth import Token, socket_url
from tradebot.alphahub.dedup import LegDeduper
from tradebot.alphahub.gaps import GapRecorder
from tradebot.alphahub.session import backoff
from tradebot.core.signal import Signal, parse_signal
from tradebot.masking import mask

T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def signal(*symbols: str, bad: bool = False) -> Signal:
    legs: list[dict[str, Any]] = [
        {"price": 1.5, "side": "buy", "symbol": s, "timestamp": "2021-04-26T14:30:00"}
        for s in symbols
    ]
    if bad:
        legs.append(
            {"price": -1, "side": "buy", "symbol": "BAD", "timestamp": "2021-04-26T14:30:00"}
        )
    return parse_signal(14, {"open": legs}, received_at=T0)


def test_dedup_hands_each_leg_on_once() -> None:
    d = LegDeduper()
    first = d.filter(signal("A", "B"), 0.0)
    assert first is not None and [leg.symbol for leg in first.legs] == ["A", "B"]
    assert d.filter(signal("A", "B"), 0.1) is None
    partial = d.filter(signal("A", "B", "C"), 0.2)
    assert partial is not None and [leg.symbol for leg in partial.legs] == ["C"]


def test_dedup_reports_a_bad_leg_once_across_connections() -> None:
    d = LegDeduper()
    first = d.filter(signal("A", bad=True), 0.0, connection=0)
    assert first is not None and len(first.rejected) == 1
    assert d.filter(signal("A", bad=True), 0.1, connection=1) is None


def test_dedup_memory_is_bounded_by_time_and_size() -> None:
    d = LegDeduper(window=10.0, max_ids=3)
    d.filter(signal("A"), 0.0)
    assert d.filter(signal("A"), 11.0) is not None  # forgotten after the window
    for s in "BCDE":
        d.filter(signal(s), 12.0)
    assert len(d) == 3


def test_gaps_open_extend_and_close() -> None:
    g = GapRecorder()
    assert g.lost(14, 0, T0, "drop") is not None
    assert g.lost(14, 0, T0 + timedelta(seconds=1), "again") is None  # same gap
    assert g.gaps[0].rejoined_at is None
    closed = g.rejoined(14, 0, T0 + timedelta(seconds=2))
    assert closed is not None and closed.lost_at == T0 and closed.reason == "drop"
    assert g.rejoined(14, 0, T0) is None
    assert g.gaps == (closed,)


def state(n: int) -> Any:
    return SimpleNamespace(attempt_number=n)


def test_backoff_starts_near_first_delay_and_is_capped() -> None:
    wait = backoff(0.1, 10.0)
    assert all(0.05 <= wait(state(1)) <= 0.1 for _ in range(100))
    assert all(0.1 <= wait(state(2)) <= 0.2 for _ in range(100))
    assert all(5.0 <= wait(state(n)) <= 10.0 for n in (8, 50, 10_000) for _ in range(20))


def test_socket_url_and_masking() -> None:
    assert (
        socket_url("https://alphahub.us", "T")
        == "wss://alphahub.us/socket/websocket?vsn=2.0.0&api_token=T"
    )
    assert socket_url("http://127.0.0.1:4000", None).endswith("api_token=***")
    assert mask("GET /socket/websocket?vsn=2.0.0&api_token=abc.def HTTP/1.1") == (
        "GET /socket/websocket?vsn=2.0.0&api_token=*** HTTP/1.1"
    )
    assert "secret" not in repr(Token(SecretStr("secret"), 0.0))
