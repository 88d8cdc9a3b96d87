"""Journal writes asked for by synchronous callbacks are made in order, and none is lost at a
stop: what the writer's task had not reached yet is written by the drain."""

from __future__ import annotations

from pathlib import Path

from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Status
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.observer import BotEvent, ErrorRecorded
from tradebot.runtime.record_writer import RecordWriter


async def test_writes_still_queued_at_the_stop_are_drained_in_order(tmp_path: Path) -> None:
    told: list[BotEvent] = []
    with open_journal(tmp_path / "journal.sqlite") as journal:
        writer = RecordWriter(journal, notify=told.append)
        # asked for from callbacks while the writer's task was busy, or already cancelled
        writer.config("config reloaded: risk", {"applied": ["risk"]})
        writer.error("malformed input from AlphaHub dropped", algo_id=17)
        writer.config("kill switch: halt", {"kill_switch": "halt"})
        await writer.drain()
        rows = journal.entries(
            EntryFilter(statuses=(Status.CONFIG, Status.ERROR), newest_first=False)
        )
    assert [(e.status, e.detail) for e in rows] == [
        (Status.CONFIG, "config reloaded: risk"),
        (Status.ERROR, "malformed input from AlphaHub dropped"),
        (Status.CONFIG, "kill switch: halt"),
    ]
    assert rows[1].algo_id == 17
    assert told == [ErrorRecorded("malformed input from AlphaHub dropped", 17)]
