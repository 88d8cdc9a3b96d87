"""The history FILE ``tradebot replay --history`` reads, and ``--save-history`` writes.

One JSON object, keyed by AlphaHub algorithm id, each value the history endpoint's answer for
that algorithm exactly as AlphaHub returns it (docs/alphahub.md#signal-history)::

    {"16": {"data": {"signals": [{"price": 216.08, "side": "buy", "symbol": "VRTX",
                                  "timestamp": "2021-04-26T14:30:00"}, ...]}},
     "23": {"data": {"signals": [...]}}}

So a file saved by hand is the endpoint's body under its algorithm's id (``curl`` prints that
body), and ``tradebot replay --save-history FILE --from --to`` writes the same thing. The legs
are parsed by the live leg parser (:func:`~tradebot.alphahub.history.parse_history`): a bad leg
is counted and left out, as live; a file that is not this shape is refused whole.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradebot.alphahub.history import HistoryLeg, parse_history
from tradebot.core import strict_json

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
    legs: dict[int, tuple[HistoryLeg, ...]] = {}
    bad: dict[int, int] = {}
    for key, answer in data.items():
        if not key.isdigit() or not 0 < int(key) < 1 << 31:
            raise ReplayInputError(f"{name}: {key[:40]!r} is not an algorithm id")
        algo_id = int(key)
        signals = _signals(answer)
        if signals is None:
            raise ReplayInputError(
                f'{name}: algorithm {algo_id} is not {{"data": {{"signals": [...]}}}}'
            )
        parsed, refused = parse_history(algo_id, signals, zone)
        legs[algo_id] = tuple(parsed)
        bad[algo_id] = len(refused)
    return History(legs, bad)


def _signals(answer: object) -> list[Any] | None:
    data = answer.get("data") if isinstance(answer, dict) else None
    signals = data.get("signals") if isinstance(data, dict) else None
    return signals if isinstance(signals, list) else None


def history_text(answers: Mapping[int, Sequence[Any]]) -> str:
    """The history FILE for ``answers`` (algorithm id -> the endpoint's legs, as returned)."""
    body = {str(a): {"data": {"signals": list(answers[a])}} for a in sorted(answers)}
    return json.dumps(body, indent=1, default=_number) + "\n"


def _number(value: object) -> Any:
    if isinstance(value, Decimal):  # strict_json keeps very long integers as Decimal
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
