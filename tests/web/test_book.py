"""The dashboard's live positions equal the journal's full replay, before and after new fills."""

from __future__ import annotations

from decimal import Decimal

from tests.execution.fixed_planner import make_signal, simple_plan
from tests.journal.generate import Generated
from tests.scripted_broker import ScriptedBroker
from tradebot.core.book import PositionBook
from tradebot.execution import Executor
from tradebot.journal import open_journal
from tradebot.web.book import LiveBook


def book_of(book: PositionBook) -> list[tuple[int, str, Decimal]]:
    return list(book)


async def test_live_book_follows_new_fills_like_a_full_replay(known: Generated) -> None:
    live = LiveBook()
    reader = open_journal(known.path, readonly=True)
    try:
        assert book_of(live.current(reader)) == book_of(reader.rebuild_book())
        with open_journal(known.path) as writer:
            broker = ScriptedBroker()
            executor = Executor(writer, broker, PositionBook())
            for symbol in ("NVDA", "AMD"):
                signal = make_signal(3, opens=((symbol, "buy", "50"),))
                await executor.handle(signal, simple_plan)
                broker.end_stream()
                await executor.consume_events()
        after = book_of(live.current(reader))
        assert after == book_of(reader.rebuild_book())
        assert book_of(live.current(reader)) == after  # a look with nothing new changes nothing
        assert {(a, s) for a, s, _ in after} >= {(3, "NVDA"), (3, "AMD")}
    finally:
        reader.close()
