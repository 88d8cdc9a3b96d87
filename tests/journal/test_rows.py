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
