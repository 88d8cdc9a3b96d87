"""The history FILE ``tradebot replay --history`` reads, and ``--save-history`` writes.

One JSON object, keyed by AlphaHub algorithm id, each value the history endpoint's answer for
that algorithm exactly as AlphaHub returns it (docs/alphahub.md#signal-history)::

    {"16": {"data": {"signals": [{"price": 216.08, "side": "buy", "symbol": "VRTX",
                                  "timestamp": "2021-04-26T14:30:00"}, ...]}},
     "23": {"data": {"signals": [...]}}}

So a file saved by hand is the endpoint's body under its algorithm's id (``curl`` prints that
body), and ``tradebot replay --save-history FILE --from --to`` writes the same thing. The legs
are parsed by the live leg parser (:func:`~tradebot.alphahub.history.parse_history`): a bad leg
is counted and left out, as live; a file that is not this shape is refused whole, and so is one
that repeats a key (an algorithm id, or ``data``/``signals`` in an answer: plain JSON would keep
the last one silently), as the history endpoint's answer is
(:func:`~tradebot.alphahub.history.history_signals`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradebot.alphahub.history import HistoryLeg, history_signals, parse_history
from tradebot.core import strict_json
from tradebot.core.strict_json import JsonObject

#: refuse anything absurd before reading it: a year of four algorithms is a few MB
MAX_FILE = 256 << 20


class ReplayInputError(ValueError):
    """An input of ``tradebot replay`` that cannot be used; the message says why (exit 2)."""


@dataclass(frozen=True, slots=True)
class History:
    """The parsed legs per algorithm, and how many legs could not be read."""

    legs: Mapping[int, tuple[HistoryLeg, ...]]
    bad: Mapping[int, int]


def read_history(path: Path, zone: tzinfo) -> History:
    """Read and parse a history FILE; raise :class:`ReplayInputError` naming what is wrong."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE:
            raise ReplayInputError(f"{path}: {size} bytes, more than a history holds")
        text = path.read_bytes()
    except OSError as exc:
        raise ReplayInputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        data = strict_json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReplayInputError(f"{path}: not JSON ({exc})") from None
    return parse_file(data, zone, str(path))


def parse_file(data: Any, zone: tzinfo, name: str = "the history") -> History:
    """:func:`read_history` for an already decoded file."""
    if not isinstance(data, dict) or not data:
        raise ReplayInputError(
            f'{name}: expected {{"ALGO_ID": {{"data": {{"signals": [...]}}}}, ...}}'
            " (one history answer per algorithm id)"
        )
    if isinstance(data, JsonObject) and data.duplicates:
        again = ", ".join(repr(key[:40]) for key in sorted(data.duplicates))
        raise ReplayInputError(
            f"{name}: {again} listed more than once (which history is the algorithm's?)"
        )
    legs: dict[int, tuple[HistoryLeg, ...]] = {}
    bad: dict[int, int] = {}
    for key, answer in data.items():
        if not key.isdigit() or not 0 < int(key) < 1 << 31:
            raise ReplayInputError(f"{name}: {key[:40]!r} is not an algorithm id")
        algo_id = int(key)
        try:
            signals = history_signals(answer)
        except ValueError as exc:  # the endpoint's own check: the same answer, the same refusal
            raise ReplayInputError(f"{name}: algorithm {algo_id}'s answer is {exc}") from None
        parsed, refused = parse_history(algo_id, signals, zone)
        legs[algo_id] = tuple(parsed)
        bad[algo_id] = len(refused)
    return History(legs, bad)


def history_text(answers: Mapping[int, Sequence[Any]]) -> str:
    """The history FILE for ``answers`` (algorithm id -> the endpoint's legs, as returned)."""
    body = {str(a): {"data": {"signals": list(answers[a])}} for a in sorted(answers)}
    return json.dumps(body, indent=1, default=_number) + "\n"


def _number(value: object) -> Any:
    if isinstance(value, Decimal):  # strict_json keeps very long integers as Decimal
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
