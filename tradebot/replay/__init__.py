"""``tradebot replay``: a config's allocations over AlphaHub's past signals, in simulated time.

* :mod:`.history_file` — the history FILE (the endpoint's answer per algorithm id);
* :mod:`.timeline` — its legs as signals, classified as a backfill classifies them;
* :mod:`.prices_file` — an optional CSV of market prices;
* :mod:`.engine` — the bot's planner and the sim broker over the timeline, on a simulated clock;
* :mod:`.journal_side` — what the journal did in the same period, read-only;
* :mod:`.outcome`, :mod:`.render` — the columns, side by side.

It never writes the journal and never uses a real broker (docs/replay.md).
"""
