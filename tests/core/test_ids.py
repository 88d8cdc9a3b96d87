"""Client order ids are part of the contract with the broker: the same legs must give the same id
in every version of tradebot, or a restart after an upgrade could send a leg again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tradebot.core.ids import (
    MAX_CLIENT_ORDER_ID,
    attempt_of,
    client_order_id,
    exit_id,
    exit_parts,
    resend_id,
)
from tradebot.core.signal import LegId, LegKind, Side

OPEN = LegId(16, LegKind.OPEN, "JBHT", Side.BUY, datetime(2021, 4, 26, 14, 30, 1, tzinfo=UTC))
CLOSE = LegId(
    16, LegKind.CLOSE, "VRTX", Side.BUY, datetime(2021, 4, 26, 14, 30, 0, 250000, tzinfo=UTC)
)


def test_leg_keys_and_ids_are_pinned() -> None:
    assert OPEN.key == "16:open:JBHT:buy:2021-04-26T14:30:01Z"
    assert CLOSE.key == "16:close:VRTX:buy:2021-04-26T14:30:00.250000Z"
    assert client_order_id("PA123", [OPEN], "open") == "tb16-JBHT-o-3b7300fd113a9b99"
    assert client_order_id("PA123", [CLOSE], "close", 2) == "tb16-VRTX-c-3fbfd49f554fe1c4-a2"


def test_the_key_is_the_same_instant_whatever_the_zone_it_was_given_in() -> None:
    eastern = timezone(timedelta(hours=-4))
    same = LegId(
        16, LegKind.OPEN, "JBHT", Side.BUY, datetime(2021, 4, 26, 10, 30, 1, tzinfo=eastern)
    )
    assert same.key == OPEN.key and same == OPEN


def test_ids_differ_by_account_role_legs_and_attempt_and_fit_alpacas_limit() -> None:
    ids = {
        client_order_id("PA123", [OPEN], "open"),
        client_order_id("PA999", [OPEN], "open"),
        client_order_id("PA123", [OPEN], "close"),
        client_order_id("PA123", [OPEN, CLOSE], "open"),
        client_order_id("PA123", [OPEN], "open", 1),
    }
    assert len(ids) == 5
    long_symbol = LegId(999999, LegKind.OPEN, "ABCDEFGHIJKLMNOP", Side.SELL, OPEN.timestamp)
    assert len(client_order_id("X" * 40, [long_symbol], "open2", 999)) <= MAX_CLIENT_ORDER_ID
    with pytest.raises(ValueError):
        client_order_id("PA123", [], "open")


def test_a_resend_id_is_the_attempt_id_and_names_its_original() -> None:
    first = client_order_id("PA123", [OPEN], "open")
    assert resend_id(first, 1) == client_order_id("PA123", [OPEN], "open", 1) == first + "-a1"
    assert resend_id(resend_id(first, 1), 2) == first + "-a2"
    assert attempt_of(first) == 0 and attempt_of(first + "-a12") == 12
    long_id = "x" * 48
    assert len(resend_id(long_id, 3)) <= MAX_CLIENT_ORDER_ID
    assert resend_id(long_id, 3) == resend_id(long_id, 3)
    with pytest.raises(ValueError):
        resend_id(first, 0)


def test_exit_ids_split_back_into_their_entry_and_kind() -> None:
    entry = "tb3-AAPL-o-0123456789abcdef"
    for kind in ("tp", "sl", "ts"):
        assert exit_parts(exit_id(entry, kind)) == (entry, kind)
    # entries, closes, remainders and re-sends are not exits
    for other in (entry, f"{entry}-m", f"{entry}-a2", "tb3-AAPL-c-0123456789abcdef", "tp", ""):
        assert exit_parts(other) is None
