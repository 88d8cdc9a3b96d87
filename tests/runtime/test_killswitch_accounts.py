"""The kill switch per account (issue 22): its own file beside the global one, read by the same
fail-safe rules, and combined with the global switch, the stricter winning."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tradebot.runtime.killswitch import (
    RUNNING,
    HaltMode,
    KillSwitchState,
    account_switch_path,
    read_account_kill_switch,
    read_kill_switch,
    stricter,
    write_kill_switch,
)

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
HALT = KillSwitchState(HaltMode.HALT, "h")
REDUCE = KillSwitchState(HaltMode.REDUCE_ONLY, "r")


def test_the_accounts_file_is_named_beside_the_global_one(tmp_path: Path) -> None:
    path = tmp_path / "tradebot.halt"
    assert account_switch_path(path, "family") == tmp_path / "tradebot.halt.family"
    assert account_switch_path(path, "default") == tmp_path / "tradebot.halt.default"
    for bad in ("../x", "a/b", "", "Family", ".x", "a.b"):
        with pytest.raises(ValueError, match="account name"):
            account_switch_path(path, bad)


def test_an_accounts_switch_stops_that_account_only(tmp_path: Path) -> None:
    path = tmp_path / "tradebot.halt"
    assert read_account_kill_switch(path, "family") == RUNNING
    assert read_account_kill_switch(None, "family") == RUNNING  # no switch configured
    write_kill_switch(
        account_switch_path(path, "family"), reduce_only=True, reason="margin call", now=NOW
    )
    family = read_account_kill_switch(path, "family")
    assert family.mode is HaltMode.REDUCE_ONLY
    assert family.reason == "account family: margin call" and family.since == NOW.isoformat()
    assert read_account_kill_switch(path, "main") == RUNNING
    assert read_kill_switch(path) == RUNNING  # the global switch is untouched


def test_the_stricter_of_the_global_and_the_accounts_switch_wins(tmp_path: Path) -> None:
    assert stricter(RUNNING, REDUCE) is REDUCE and stricter(REDUCE, RUNNING) is REDUCE
    assert stricter(REDUCE, HALT) is HALT and stricter(HALT, REDUCE) is HALT
    assert stricter(HALT, KillSwitchState(HaltMode.HALT, "other")) is HALT  # a tie: the first
    path = tmp_path / "tradebot.halt"
    own = account_switch_path(path, "family")
    write_kill_switch(path, reduce_only=True, reason="everyone", now=NOW)
    write_kill_switch(own, reduce_only=False, reason="family only", now=NOW)
    assert read_account_kill_switch(path, "family").mode is HaltMode.HALT  # its own is stricter
    assert read_account_kill_switch(path, "main").mode is HaltMode.REDUCE_ONLY  # the global
    write_kill_switch(path, reduce_only=False, reason="everyone", now=NOW)
    write_kill_switch(own, reduce_only=True, reason="family only", now=NOW)
    got = read_account_kill_switch(path, "family")
    assert (got.mode, got.reason) == (HaltMode.HALT, "everyone")  # the global is stricter
    write_kill_switch(own, reduce_only=False, reason="family only", now=NOW)
    assert read_account_kill_switch(path, "family").reason == "everyone"  # a tie: the global


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\xff\xfe\x00 garbage", "holds binary data"),
        (b"x" * 5000, "larger than 4096 bytes"),
        (b'{"mode": "reduce_only", "reason": "\\u001b[31mred"}', "?[31mred"),
        (b"[1, 2]", "present"),
    ],
)
def test_hostile_content_in_an_accounts_file_is_read_by_the_same_rules(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "tradebot.halt"
    account_switch_path(path, "family").write_bytes(content)
    got = read_account_kill_switch(path, "family")
    assert got.mode is not HaltMode.RUNNING and why in got.reason
    assert got.reason.startswith("account family: ") and got.reason.isprintable()
    assert read_account_kill_switch(path, "main") == RUNNING


def test_a_directory_at_the_accounts_path_halts_it_and_a_bad_name_halts_never_raises(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tradebot.halt"
    account_switch_path(path, "family").mkdir()
    assert read_account_kill_switch(path, "family").halted
    got = read_account_kill_switch(path, "../etc")
    assert got.halted and "account name" in got.reason
