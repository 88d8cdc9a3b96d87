"""The journal is the last gate before disk: no row carries a secret, and its data stays JSON."""

from __future__ import annotations

from pathlib import Path

from tradebot.journal import EntryFilter, Status, open_journal
from tradebot.masking import register

SECRET = "REGISTERED-journal-secret-1"


def test_no_row_carries_a_secret_to_any_byte_on_disk(tmp_path: Path) -> None:
    register(SECRET)
    path = tmp_path / "journal.sqlite"
    with open_journal(path) as journal:
        journal.record_config(
            "config loaded",
            {
                "alphahub": {"url": "http://u:URLPW-journal-1@h:4000", "password": SECRET},
                "stream_url": "ws://h/stream?token=TOKEN-journal-1&x=1",
            },
        )
        journal.record_error(f"broker said: refused key {SECRET} at /?api_token=TOKEN-journal-2")
        on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir())  # db, WAL and SHM
        rows = list(journal.entries(EntryFilter(newest_first=False)))
    on_disk += path.read_bytes()
    for secret in (SECRET, "URLPW-journal-1", "TOKEN-journal-1", "TOKEN-journal-2"):
        assert secret.encode() not in on_disk
    config, error = rows
    assert config.status is Status.CONFIG
    assert config.data == {
        "alphahub": {"url": "http://***@h:4000", "password": "***"},
        "stream_url": "ws://h/stream?token=***&x=1",
    }
    assert error.detail == "broker said: refused key *** at /?api_token=***"


def test_a_registered_value_never_rewrites_what_recovery_reads_back(tmp_path: Path) -> None:
    """A password of digits ("000000") occurs in every timestamp the journal writes
    (``...T14:30:00.000000Z``). Order rows are read back by recovery: they must stay exact.
    Only rows a person reads (errors, config, gaps...) are masked by value."""
    from datetime import UTC, datetime

    from tradebot import masking
    from tradebot.core.signal import parse_signal

    saved = dict(masking._lasting), masking._values
    register("000000")
    try:
        at = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
        leg = {"price": 100, "side": "buy", "symbol": "AAPL", "timestamp": "2026-11-24T14:30:00"}
        signal = parse_signal(16, {"open": [leg]}, received_at=at)
        with open_journal(tmp_path / "journal.sqlite") as journal:
            journal.record_signal(signal)
            journal.record_error("login refused for password 000000")
            (stored,) = journal.unplanned_signals()
            errors = journal.entries(EntryFilter(statuses=(Status.ERROR,)))
    finally:  # the registry is process-wide: leave it as found
        masking._lasting.clear()
        masking._lasting.update(saved[0])
        masking._values = saved[1]
    assert stored.signal.legs == signal.legs
    assert stored.signal.received_at == at
    assert [e.detail for e in errors] == ["login refused for password ***"]
