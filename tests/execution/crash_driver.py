"""Runs the real journal + recovery + executor in its own process, and can kill itself.

    python -m tests.execution.crash_driver --journal J --broker B [--algo 7]
        [--open SYM:SIDE:PRICE]... [--close SYM:SIDE:PRICE]...
        [--crash-at STEP[:N]] [--now ISO] [--max-age SECONDS] [--received-at ISO]

Always recovers first (as ``tradebot run`` does before accepting a signal), then handles the
signal given by ``--open``/``--close``, if any, then drains the broker's events and prints a JSON
summary. ``--crash-at before_submit:2`` sends SIGKILL to this process at the second time the
executor reaches that step: nothing is flushed, no ``finally`` runs, as in a real crash.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.execution.fixed_planner import make_signal, simple_plan
from tests.scripted_broker import ScriptedBroker
from tradebot.clock import utcnow
from tradebot.execution import Executor, recover
from tradebot.execution.executor import StepHook
from tradebot.journal import open_journal


def crash_hook(spec: str | None) -> StepHook | None:
    if not spec:
        return None
    name, _, nth = spec.partition(":")
    remaining = [int(nth or 1)]

    def on_step(step: str) -> None:
        if step == name:
            remaining[0] -= 1
            if remaining[0] == 0:
                os.kill(os.getpid(), signal.SIGKILL)

    return on_step


def legs(specs: list[str]) -> tuple[tuple[str, str, str], ...]:
    return tuple((s.split(":")[0], s.split(":")[1], s.split(":")[2]) for s in specs)


async def run(args: argparse.Namespace) -> dict[str, object]:
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    on_step = crash_hook(args.crash_at)
    with open_journal(args.journal) as journal:
        # its orders live in the file, so the next process (and the test) sees them after a kill
        broker = ScriptedBroker(state=Path(args.broker), clock=utcnow)
        async with broker:
            report = await recover(
                journal,
                broker,
                now=now,
                max_age=timedelta(seconds=args.max_age),
                planner=simple_plan,
                on_step=on_step,
            )
            executor = Executor(journal, broker, report.book, on_step=on_step)
            async with asyncio.TaskGroup() as tg:
                tg.create_task(executor.consume_events())
                if args.open or args.close:
                    received = datetime.fromisoformat(args.received_at) if args.received_at else now
                    sig = make_signal(
                        args.algo,
                        closes=legs(args.close),
                        opens=legs(args.open),
                        received_at=received,
                        leg_time=received,
                    )
                    await executor.handle(sig, simple_plan)
                broker.end_stream()  # every event is queued by now; the consumer drains them
            return {
                "recovery": report.lines(),
                "drifts": [str(d) for d in report.drifts],
                "book": [[a, s, str(q)] for a, s, q in executor.book],
            }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journal", required=True)
    parser.add_argument("--broker", required=True)
    parser.add_argument("--algo", type=int, default=7)
    parser.add_argument("--open", action="append", default=[])
    parser.add_argument("--close", action="append", default=[])
    parser.add_argument("--crash-at")
    parser.add_argument("--now")
    parser.add_argument("--received-at")
    parser.add_argument("--max-age", type=float, default=3600.0)
    summary = asyncio.run(run(parser.parse_args()))
    json.dump(summary, sys.stdout)


if __name__ == "__main__":
    main()
