"""Hypothesis drives generated frames, hostile and valid, through the whole pipeline (issue 10).

Each example starts the AlphaHub simulator and the real :class:`~tradebot.runtime.bot.Bot` (two
listener connections over real websockets, the pure planner, the executor, the ``sim`` broker,
a SQLite journal in a fresh folder), sends a few dozen generated frames, stops the bot cleanly
and reads the journal back. A model built while drawing the frames says what must be there:

- no crash: the bot runs until asked to stop, and handles exactly the signals the model expects;
- every bad leg is journaled with a reason once per push (a re-pushed frame's bad legs again),
  and every unreadable frame once per push, with the algorithm when its topic can be read,
  although each push arrives on both connections;
- every valid leg is traded exactly once: one intent and one fill per leg, none for anything
  else, however often it was pushed; every ``hold`` leg is skipped as ``hold``, once;
- legs of one signal that contradict each other on a symbol (an open buy and an open sell, or
  one side at two prices or weights, at one time) are all refused as ``contradictory``: never an
  order for a contradicted symbol;
- every frame leaves a record, even one with nothing in it (no legs at all).

The generated signals are built so that every valid leg *must* trade: each open is for a symbol
never seen before (no netting, no ``already_held``), each close for a symbol opened and filled in
an earlier frame, prices and weights small enough for the account. Run time stays near half a
minute; ``HYPOTHESIS_PROFILE=pipeline-long`` runs many more examples.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.journal import EntryFilter, Status, open_journal
from tradebot.journal.records import Entry
from tradebot.runtime.bot import Bot
from tradebot.simulators.alphahub import AlphaHubSimulator

ALGO = 16
TOPIC = f"algorithms:{ALGO}"
DEADLINE = 60.0  # seconds for one example's bot to handle everything; a hang fails, never waits

settings.register_profile(
    "pipeline-ci",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "pipeline-long",
    settings.get_profile("pipeline-ci"),
    max_examples=300,
)
PROFILE = settings.get_profile(
    "pipeline-long" if os.environ.get("HYPOTHESIS_PROFILE") == "pipeline-long" else "pipeline-ci"
)

CONFIG = """\
mode: paper
alphahub:
  url: {url}
  email: demo@example.com
  password: demo
  connections: 2
  heartbeat_interval: 5
  algorithms: [{algo}]
broker:
  name: sim
  sim: {{cash: 1000000, slippage_bps: 0}}
journal:
  path: journal/tradebot.sqlite
algorithms:
  {algo}:
    strategy: allocation
    params: {{pct: 50, max_positions: 1000}}
    allow_short: true
"""
# 50% of 1,000,000 equity over 1000 positions = $500 a leg, a weight 0.001..0.002 of the
# allocation = $500..$1000: at prices up to $40, whole shares, and never beyond the cash

# -- the model --------------------------------------------------------------------------------


@dataclass
class Model:
    """What the journal must hold after the frames pushed so far."""

    now: datetime
    serial: int = 0
    held_symbols: list[str] = field(default_factory=list)  # opened, filled, not yet closed
    seen: set[str] = field(default_factory=set)  # identities of valid and hold legs pushed
    traded: list[str] = field(default_factory=list)  # leg keys that must trade once
    holds: list[str] = field(default_factory=list)  # hold leg keys, skipped once each
    rejected: int = 0  # rejected legs and groups, counted per push
    contradictory: int = 0  # of those, legs refused as contradictory
    contradicted: set[str] = field(default_factory=set)  # symbols never to be traded
    bad_frames: list[int | None] = field(default_factory=list)  # per push: its algorithm
    handled: int = 0  # signals the bot must handle

    def fresh_symbol(self) -> str:
        self.serial += 1
        return f"Z{self.serial}"


@dataclass(frozen=True)
class Push:
    """One frame as sent, and what it adds to the model each time it is pushed."""

    data: str | bytes
    signal: bool  # a signal the bot plans (else an unreadable frame, reported as bad input)
    legs: tuple[str, ...] = ()  # valid leg keys
    holds: tuple[str, ...] = ()
    rejected: int = 0
    contradictory: int = 0  # of the rejected, the legs refused as contradictory
    contradicted: tuple[str, ...] = ()  # their symbols
    algo: int | None = ALGO


def apply(model: Model, push: Push) -> None:
    if not push.signal:
        model.bad_frames.append(push.algo)
        return
    fresh_legs = [key for key in push.legs if key not in model.seen]
    fresh_holds = [key for key in push.holds if key not in model.seen]
    model.seen.update(push.legs + push.holds)
    model.traded += fresh_legs
    model.holds += fresh_holds
    model.rejected += push.rejected
    model.contradictory += push.contradictory
    model.contradicted.update(push.contradicted)
    if fresh_legs or fresh_holds or push.rejected:
        model.handled += 1


# -- drawing frames -----------------------------------------------------------------------------

Pairs = list[tuple[str, str]]  # a JSON object as (key, value text) pairs: keys may repeat


def obj(pairs: Pairs) -> str:
    return "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in pairs) + "}"


def stamp_text(draw: st.DrawFn, moment: datetime) -> tuple[str, datetime]:
    """``moment`` (whole seconds) as AlphaHub may write it, and the instant that text means."""
    form = draw(st.sampled_from(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d T%H:%M:%S", "%Y-%m-%d %H:%M:%S"]))
    suffix = draw(st.sampled_from(["", "Z", ".5"]))
    meant = moment + timedelta(milliseconds=500) if suffix == ".5" else moment
    return json.dumps(moment.strftime(form) + suffix), meant


def key(draw: st.DrawFn, name: str) -> str:
    return draw(st.sampled_from([name, f" {name}", name.upper(), f"{name.title()} "]))


def leg_key(kind: str, symbol: str, side: str, moment: datetime) -> str:
    return f"{ALGO}:{kind}:{symbol}:{side}:{moment.replace(tzinfo=None).isoformat()}Z"


@dataclass
class Leg:
    text: str
    valid: str | None = None  # its key when it must trade
    hold: str | None = None  # its key when it is a hold
    opened: str | None = None  # the symbol it opens, once its signal is pushed
    closed: str | None = None  # the symbol it closes
    contradicts: str | None = None  # the symbol on which it contradicts another leg


JUNK_SYMBOLS = st.sampled_from(
    ["ß", "ﬁ", "ＡＡＰＬ", "İBM", "BRK-B", "A B", "", "   ", "X" * 16, ".A", "A..B", "Z\u00a0"]
) | st.text(st.characters(min_codepoint=128, max_codepoint=0x2FFFF), min_size=1, max_size=4)
BAD_PRICES = st.sampled_from(
    ['"1_000"', '"NaN"', "NaN", "Infinity", "-Infinity", "1e400", "-5", "0", '"1e3"', "true",
     "null", '"abc"', "1" + "0" * 80, "0.00000001", "[10]", '"+5"']
)  # fmt: skip


@st.composite
def good_leg(draw: st.DrawFn, model: Model, kind: str) -> Leg:
    stamp, moment = stamp_text(draw, model.now - timedelta(seconds=draw(st.integers(0, 3000))))
    if kind == "close":
        symbol = draw(st.sampled_from(model.held_symbols))
        model.held_symbols.remove(symbol)  # one close per symbol
        side = draw(st.sampled_from(["buy", "sell"]))  # a close flattens whatever it says
    else:
        symbol, side = model.fresh_symbol(), draw(st.sampled_from(["buy", "sell"]))
    pairs: Pairs = [
        (key(draw, "symbol"), json.dumps(draw(st.sampled_from([symbol, symbol.lower()])))),
        (key(draw, "side"), json.dumps(draw(st.sampled_from([side, side.upper(), f" {side}"])))),
        (key(draw, "price"), draw(st.sampled_from(["12.5", '"7.25"', "40", "1.01", '" 33 "']))),
        (key(draw, "timestamp"), stamp),
    ]
    if kind == "open" and draw(st.booleans()):
        pairs.append(("weight", draw(st.sampled_from(["0.001", '"0.0015"', "0.002"]))))
    if kind == "close" and draw(st.booleans()):
        pairs.append(("weight", '"ignored on a close"'))
    text = obj(draw(st.permutations(pairs)))
    valid = leg_key(kind, symbol, side, moment)
    return Leg(text, valid=valid, opened=symbol if kind == "open" else None, closed=symbol)


@st.composite
def hold_leg(draw: st.DrawFn, model: Model, kind: str) -> Leg:
    symbol, moment = model.fresh_symbol(), model.now - timedelta(seconds=draw(st.integers(0, 99)))
    pairs: Pairs = [
        ("symbol", json.dumps(symbol)),
        ("side", json.dumps(draw(st.sampled_from(["hold", "HOLD", " hold "])))),
        ("timestamp", json.dumps(moment.strftime("%Y-%m-%dT%H:%M:%S"))),
    ]
    if draw(st.booleans()):
        pairs.append(("price", "12.5"))
    return Leg(obj(pairs), hold=leg_key(kind, symbol, "hold", moment.replace(microsecond=0)))


@st.composite
def bad_leg(draw: st.DrawFn, model: Model, kind: str) -> Leg:
    moment = model.now - timedelta(seconds=draw(st.integers(0, 3000)))
    pairs: Pairs = [
        ("symbol", json.dumps(model.fresh_symbol())),
        ("side", '"buy"'),
        ("price", "12.5"),
        ("timestamp", json.dumps(moment.strftime("%Y-%m-%dT%H:%M:%S"))),
    ]
    how = draw(
        st.sampled_from(
            ["symbol", "dup", "nested_dup", "price", "future", "side", "weight", "missing",
             "shape", "timestamp"]
        )
    )  # fmt: skip
    if how == "symbol":
        pairs[0] = ("symbol", json.dumps(draw(JUNK_SYMBOLS)))
    elif how == "dup":  # {"symbol": "RKA", "symbol": "RKB"}, or any other field twice
        index = draw(st.integers(0, 3))
        pairs.insert(draw(st.integers(0, 4)), (pairs[index][0], draw(st.sampled_from(
            ['"RKB"', "13", '"sell"', json.dumps(moment.isoformat())]
        ))))  # fmt: skip
    elif how == "nested_dup":
        pairs.append(("meta", '{"note": 1, "note": 2}'))
    elif how == "price":
        pairs[2] = ("price", draw(BAD_PRICES))
    elif how == "future":
        ahead = timedelta(seconds=draw(st.integers(300, 10**8)))
        pairs[3] = ("timestamp", json.dumps((model.now + ahead).strftime("%Y-%m-%dT%H:%M:%S")))
    elif how == "side":
        pairs[1] = ("side", draw(st.sampled_from(['"short"', '""', '"ＢＵＹ"', "1", '"buy sell"'])))
    elif how == "weight" and kind == "open":
        pairs.append(("weight", draw(st.sampled_from(["0", "-0.5", "1.5", '"x"', "NaN", '"1_0"']))))
    elif how == "missing":
        del pairs[draw(st.integers(0, 3))]
    elif how == "shape":
        return Leg(draw(st.sampled_from(["42", '"leg"', "[]", "null", '[{"symbol": "AAA"}]'])))
    else:
        pairs[3] = ("timestamp", draw(st.sampled_from(['"2021-02-30T10:00:00"', '"soon"', "0"])))
    if how == "weight" and kind != "open":  # a close's weight is ignored: make it bad otherwise
        pairs[2] = ("price", "-1")
    return Leg(obj(draw(st.permutations(pairs))))


@st.composite
def contradictory_pair(draw: st.DrawFn, model: Model) -> list[Leg]:
    """Two open legs of a fresh symbol, one time, that disagree on side, price or weight."""
    symbol = model.fresh_symbol()
    stamp, _ = stamp_text(draw, model.now - timedelta(seconds=draw(st.integers(0, 3000))))
    first = {"symbol": json.dumps(symbol), "side": '"buy"', "price": "12.5", "timestamp": stamp}
    how = draw(st.sampled_from(["side", "price", "weight"]))
    second = dict(first)
    if how == "side":
        second["side"] = '"sell"'
    elif how == "price":
        second["price"] = draw(st.sampled_from(["13", '"12.6"', "1.01"]))
    else:
        first["weight"], second["weight"] = "0.001", "0.002"
    return [Leg(obj(list(x.items())), contradicts=symbol) for x in (first, second)]


@st.composite
def signal_frame(draw: st.DrawFn, model: Model) -> tuple[Push, list[str], list[str]]:
    """A new_signals frame; also the symbols it opens and closes when pushed."""
    groups: dict[str, list[Leg]] = {"close": [], "open": []}
    for kind in ("close", "open"):
        for _ in range(draw(st.integers(0, 4))):
            choices = ["bad", "hold"] + (["good"] if kind == "open" or model.held_symbols else [])
            what = draw(st.sampled_from(choices))
            make = {"good": good_leg, "hold": hold_leg, "bad": bad_leg}[what]
            groups[kind].append(draw(make(model, kind)))
    if draw(st.integers(0, 3)) == 0:  # an open buy and an open sell of one symbol, or the like
        for leg in draw(contradictory_pair(model)):
            groups["open"].insert(draw(st.integers(0, len(groups["open"]))), leg)
    shape = draw(st.sampled_from(["plain"] * 6 + ["dup_open", "open_not_list", "spaced_keys"]))
    parts = [(f"{k} " if shape == "spaced_keys" else k, legs) for k, legs in groups.items()]
    body: Pairs = [(k, "[" + ", ".join(leg.text for leg in legs) + "]") for k, legs in parts]
    refused: set[str] = set()  # groups rejected whole: their legs never trade
    if shape == "dup_open":
        body.append(("open", "[" + draw(good_leg(model, "open")).text + "]"))
        refused.add("open")
    elif shape == "open_not_list":
        body = [(k, v) for k, v in body if k != "open"] + [("open", '"x"')]
        refused.add("open")
    legs = [leg for kind, ls in groups.items() if kind not in refused for leg in ls]
    rejected = len(refused) + sum(1 for leg in legs if not (leg.valid or leg.hold))
    if not refused and not any(groups.values()):
        rejected += 1  # a signal with no legs at all is rejected as such: it leaves a record
    contradicted = tuple(leg.contradicts for leg in legs if leg.contradicts)
    join_ref = draw(st.sampled_from(["null", '"3"']))
    text = f'[{join_ref}, null, "{TOPIC}", "new_signals", {obj(body)}]'
    push = Push(
        text.encode() if draw(st.booleans()) else text,  # a binary frame with valid UTF-8 is fine
        signal=True,
        legs=tuple(leg.valid for leg in legs if leg.valid),
        holds=tuple(leg.hold for leg in legs if leg.hold),
        rejected=rejected,
        contradictory=len(contradicted),
        contradicted=contradicted,
    )
    opened = [leg.opened for leg in legs if leg.opened]
    closed = [leg.closed for leg in groups["close"] if leg.valid and leg.closed]
    # a close drawn for a refused group did not happen: its symbol is still held
    model.held_symbols += [c for c in closed if "close" in refused]
    return push, opened, closed


@st.composite
def bad_frame(draw: st.DrawFn, model: Model) -> Push:
    head = f'[null, "9", "{TOPIC}", "new_signals", '
    kind = draw(st.sampled_from(["bytes", "cut", "cut_head", "payload", "not_array", "nan_head"]))
    if kind == "bytes":  # invalid UTF-8: a binary frame, since a text frame may not carry it
        junk = draw(st.binary(min_size=1, max_size=8))
        return Push((head + '{"open": [').encode() + b"\xff" + junk + b"]}]", signal=False)
    if kind == "cut":
        leg = draw(good_leg(model, "open"))  # never pushed whole: not traded
        text = head + '{"open": [' + leg.text + "]}]"
        return Push(text[: draw(st.integers(len(head), len(text) - 1))], signal=False)
    if kind == "cut_head":
        return Push(head[: draw(st.integers(0, 12))], signal=False, algo=None)
    if kind == "payload":
        payload = draw(st.sampled_from(["[1, 2]", '"open"', "null", "42"]))
        return Push(head + payload + "]", signal=False)
    if kind == "not_array":
        return Push(json.dumps({"topic": TOPIC, "payload": {}}), signal=False, algo=None)
    return Push(f'[NaN, null, "{TOPIC}", "new_signals", {{}}]', signal=False, algo=None)


@st.composite
def session(draw: st.DrawFn, now: datetime) -> tuple[Model, list[Push]]:
    """Frames in push order, and the model of what they must leave in the journal."""
    model, pushes = Model(now), []
    for _ in range(draw(st.integers(50, 110))):
        what = draw(st.sampled_from(["signal"] * 5 + ["bad_frame", "repeat"]))
        if what == "repeat" and pushes:
            push = draw(st.sampled_from(pushes))  # the same text again
        elif what == "bad_frame":
            push = draw(bad_frame(model))
        else:
            push, opened, _ = draw(signal_frame(model))
            model.held_symbols += opened
        apply(model, push)
        pushes.append(push)
    # last, a valid leg: once it is handled, every frame before it has arrived on the connection
    # that brought it first, so every report there is to make has been made
    last = draw(good_leg(model, "open"))
    text = f'[null, null, "{TOPIC}", "new_signals", {{"open": [{last.text}]}}]'
    pushes.append(Push(text, signal=True, legs=(last.valid or "",)))
    apply(model, pushes[-1])
    return model, pushes


# -- running it -------------------------------------------------------------------------------


async def play(folder: Path, pushes: list[Push], model: Model) -> tuple[list[Entry], str]:
    out = io.StringIO()
    async with AlphaHubSimulator(port=0) as hub:
        config_path = folder / "config.yaml"
        config_path.write_text(CONFIG.format(url=hub.url, algo=ALGO))
        bot = Bot(load_config(config_path), config_path, Mode.PAPER, load=load_config, out=out)
        running = asyncio.create_task(bot.run())
        try:
            async with asyncio.timeout(DEADLINE):
                await bot.ready.wait()
                await hub.wait_joined(ALGO, 2)
                for push in pushes:
                    assert hub.send_raw(push.data) == 2, "both connections get every frame"
                await bot.wait_handled(model.handled)
        finally:
            bot.request_stop()
            await running  # a crash in the bot fails the example here
    with open_journal(folder / "journal" / "tradebot.sqlite", readonly=True) as journal:
        entries = list(journal.entries(EntryFilter(newest_first=False)))
    return entries, out.getvalue()


@PROFILE
@given(st.data())
def test_generated_frames_through_the_pipeline(data: st.DataObject) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    model, pushes = data.draw(session(now))
    with tempfile.TemporaryDirectory() as tmp:
        entries, output = asyncio.run(play(Path(tmp), pushes, model))

    rows = Counter(e.status for e in entries)
    assert rows[Status.SIGNAL] == model.handled  # one per handled signal, nothing more
    rejected = [e for e in entries if e.status is Status.LEG_REJECTED]
    assert len(rejected) == model.rejected and all(e.detail for e in rejected)
    bad = [e for e in entries if e.status is Status.ERROR and "malformed input" in e.detail]
    assert Counter(e.algo_id for e in bad) == Counter(model.bad_frames)
    assert all(e.detail.split("): ", 1)[1].split("; received")[0] for e in bad)  # a reason
    assert output.count("dropped an unreadable frame") == len(bad)

    skipped = [e for e in entries if e.status is Status.SKIPPED]
    reasons = Counter(e.data["reason"] for e in skipped)
    # nothing valid was skipped for any other reason: every valid leg had to trade
    assert reasons == Counter(
        {
            "invalid": model.rejected - model.contradictory,
            "contradictory": model.contradictory,
            "hold": len(model.holds),
        }
    )
    assert sorted(e.leg or "" for e in skipped if e.data["reason"] == "hold") == sorted(model.holds)
    assert output.count(": hold (") == len(model.holds)  # the bot's paragraph names each hold

    intents = [e for e in entries if e.status is Status.INTENT]
    assert sorted(e.leg or "" for e in intents) == sorted(model.traded)  # each valid leg once
    assert not {e.symbol for e in intents} & model.contradicted  # never a contradicted symbol
    fills = Counter(e.client_order_id for e in entries if e.status is Status.FILLED)
    assert set(fills) == {e.client_order_id for e in intents}  # the sim broker filled each
    assert set(fills.values()) <= {1}
    assert rows[Status.REJECTED] == rows[Status.FAILED] == 0
    others = [e for e in entries if e.status is Status.ERROR and e not in bad]
    assert others == []  # no planner failure, no other error
