"""AlphaHub listener figures: signal handoff latency and rejoin time after an abrupt drop.

Run: ``python benchmarks/listener.py``. Targets: handoff under 100 µs median; rejoin under
300 ms median on loopback.

1. Handoff: one ``new_signals`` frame (two legs, unique each time) from the text the socket
   produced to the ``Signal`` in the listener's queue: frame decode, channel lookup, payload
   parse, de-dup, enqueue. Measured per frame over 20,000 frames.
2. End to end on loopback: simulator push to the consumer's ``queue.get()`` (includes the
   socket and the event loop), over 2,000 signals.
3. Rejoin: the simulator cuts the TCP link (no close frame); time until every channel (2
   algorithms) is joined again, median over 50 drops. The connection is left up longer than
   ``reconnect.healthy_after`` between drops, as in production, so each drop reconnects at once.
4. Backfill: the real bot (one connection, the in-process ``sim`` broker); the simulator cuts the
   link and pushes a signal that reaches nobody. Time from the rejoin (the simulator has the
   channel joined again) to the recovered signal's order answered by the broker: the lapse
   noticed, the history read over HTTP, the legs classified, planned, journaled and sent.
   Median and max over 20 lapses.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from targets import check, note

from tradebot.alphahub import Listener
from tradebot.alphahub import protocol as p
from tradebot.alphahub.protocol import SignalPush
from tradebot.config.model import AlphaHubConfig, ReconnectConfig
from tradebot.simulators.alphahub import AlphaHubSimulator


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def legs(i: int) -> dict[str, Any]:
    ts = f"2021-04-26T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
    return {
        "close": [{"price": 87.1, "side": "sell", "symbol": f"C{i}", "timestamp": ts}],
        "open": [{"price": 168.56, "side": "buy", "symbol": f"O{i}", "timestamp": ts}],
    }


def settings(url: str) -> AlphaHubConfig:
    return AlphaHubConfig(
        url=url,
        email=SecretStr("demo@example.com"),
        password=SecretStr("demo"),
        connections=1,
        heartbeat_interval=5.0,
        heartbeat_timeout=5.0,
        reconnect=ReconnectConfig(first_delay=0.1, max_delay=10.0, healthy_after=0.2),
    )


async def handoff(n: int = 20_000) -> list[float]:
    listener = Listener(settings("http://127.0.0.1:1"), [16])
    client = p.ChannelClient((16,), 15.0, 10.0, 10.0)
    client.start(0.0)
    frames = [p.encode_frame(None, None, "algorithms:16", "new_signals", legs(i)) for i in range(n)]
    samples: list[float] = []
    for text in frames:
        start = time.perf_counter_ns()
        event = client.receive(text, 1.0)
        assert isinstance(event, SignalPush)
        listener.push(0, event.algo_id, event.payload, text)
        samples.append((time.perf_counter_ns() - start) / 1000)
    assert listener.queue.qsize() == n
    return samples


async def end_to_end(n: int = 2_000) -> list[float]:
    async with AlphaHubSimulator() as sim:
        listener = Listener(settings(sim.url), [16])
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(listener.run())
            await sim.wait_joined(16)
            samples: list[float] = []
            for i in range(n):
                start = time.perf_counter_ns()
                await sim.push(16, legs(i))
                await listener.queue.get()
                samples.append((time.perf_counter_ns() - start) / 1000)
            task.cancel()
    return samples


async def rejoin(drops: int = 50) -> list[float]:
    async with AlphaHubSimulator() as sim:
        listener = Listener(settings(sim.url), [14, 16])
        samples: list[float] = []
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(listener.run())
            await listener.wait_until(lambda: listener.all_joined)
            for _ in range(drops):
                await asyncio.sleep(0.25)  # stay up past healthy_after, as a real link would
                start = time.perf_counter()
                sim.drop()
                await listener.wait_until(lambda: not listener.all_joined)
                await listener.wait_until(lambda: listener.all_joined)
                samples.append((time.perf_counter() - start) * 1000)
            task.cancel()
    return samples


BACKFILL_CONFIG = """\
alphahub:
  url: {url}
  email: demo@example.com
  password: demo
  connections: 1
  reconnect: {{first_delay: 0.05, max_delay: 1, healthy_after: 0.2}}
broker: {{name: sim}}
journal: {{path: journal/bench.sqlite}}
risk: {{kill_switch_file: null}}
algorithms:
  16: {{strategy: fixed_shares, params: {{shares: 1}}}}
"""


async def backfill(lapses: int = 20) -> list[float]:
    from tradebot.config.loader import load_config
    from tradebot.config.model import Mode
    from tradebot.runtime.bot import Bot

    samples: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        async with AlphaHubSimulator() as sim:
            path = Path(folder) / "config.yaml"
            path.write_text(BACKFILL_CONFIG.format(url=sim.url))
            bot = Bot(load_config(path), path, Mode.PAPER, load=load_config, out=io.StringIO())
            async with asyncio.TaskGroup() as tg:
                running = tg.create_task(bot.run())
                await bot.ready.wait()
                await sim.wait_joined(16)
                for i in range(lapses):
                    await asyncio.sleep(0.3)  # stay up past healthy_after, as a real link would
                    sim.drop()
                    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
                    leg = {"price": 10.0, "side": "buy", "symbol": f"BF{i}", "timestamp": stamp}
                    assert await sim.push(16, {"open": [leg]}) == 0  # only the history has it
                    handled = bot.handled
                    await sim.wait_joined(16)
                    start = time.perf_counter()
                    await bot.wait_handled(handled + 1)
                    samples.append((time.perf_counter() - start) * 1000)
                bot.request_stop()
                await running
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000, help="handoff frames")
    parser.add_argument("--signals", type=int, default=2_000, help="end-to-end signals")
    parser.add_argument("--drops", type=int, default=50, help="abrupt drops to rejoin from")
    parser.add_argument("--lapses", type=int, default=20, help="lapses to backfill")
    args = parser.parse_args()
    logging.getLogger("tradebot").setLevel(logging.ERROR)  # the drops are on purpose
    h = asyncio.run(handoff(args.frames))
    print(
        f"handoff (frame text -> Signal queued), {args.frames:,} frames: "
        f"median {statistics.median(h):.1f} µs, p99 {pct(h, 0.99):.1f} µs"
    )
    e = asyncio.run(end_to_end(args.signals))
    print(
        f"end to end (simulator push -> consumer), {args.signals:,} signals on loopback: "
        f"median {statistics.median(e):.1f} µs, p99 {pct(e, 0.99):.1f} µs"
    )
    r = asyncio.run(rejoin(args.drops))
    print(
        f"rejoin after an abrupt drop (2 channels), {args.drops} drops: "
        f"median {statistics.median(r):.1f} ms, p99 {pct(r, 0.99):.1f} ms, max {max(r):.1f} ms"
    )
    b = asyncio.run(backfill(args.lapses))
    print(
        f"rejoin -> backfilled order answered (one connection, a push during the drop), "
        f"{len(b)} lapses: median {statistics.median(b):.1f} ms, max {max(b):.1f} ms"
    )
    check("listener handoff, median", statistics.median(h), "<", 100, "µs")
    check("listener rejoin after a drop, median", statistics.median(r), "<", 300, "ms")
    note("listener rejoin -> backfilled order, median", statistics.median(b), "ms")
    print(
        json.dumps(
            {
                "handoff_median_us": round(statistics.median(h), 1),
                "rejoin_median_ms": round(statistics.median(r), 1),
                "backfill_median_ms": round(statistics.median(b), 1),
                "backfill_max_ms": round(max(b), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
