"""Every benchmark's figures next to their targets, PASS or MISS, in one shape.

A benchmark imports this module (it sits beside them: ``python benchmarks/x.py`` puts this
folder on the path) and reports each figure once::

    from targets import check, note

    check("plan() median, every limit on", median_us, "<", 150, "us")
    note("plan() median, no limits", other_us, "us")  # a figure without a target

which prints::

    plan() median, every limit on              134.2 us   target < 150 us    PASS
    plan() median, no limits                    98.0 us

When ``TRADEBOT_BENCH_RESULTS`` names a file, each figure is also appended to it as one JSON
line: how ``benchmarks/all.py`` collects the table it writes to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Callable

#: the environment variable naming the file results are appended to (set by all.py)
RESULTS_ENV = "TRADEBOT_BENCH_RESULTS"

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_SHOWN = {"<=": "≤", ">=": "≥"}


def passes(value: float, op: str, target: float) -> bool:
    """Whether ``value op target`` holds (``op``: one of ``<``, ``<=``, ``>``, ``>=``)."""
    return _COMPARE[op](value, target)


def _number(value: float) -> str:
    """A figure with the digits that mean something: 134.2, 1.45, 12,345."""
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.1f}"
    return f"{value:.2f}"


def target_text(op: str, target: float, unit: str) -> str:
    """``< 150 us``, ``≤ 1.3``, ``≥ 5,000 /s``: the target as written."""
    return f"{_SHOWN.get(op, op)} {target:,g} {unit}".rstrip()


def check(figure: str, value: float, op: str, target: float, unit: str = "") -> bool:
    """Print ``figure`` = ``value`` beside its target with PASS or MISS; return whether it
    passed."""
    if op not in _COMPARE:
        raise ValueError(f"unknown comparison {op!r}: use one of {', '.join(_COMPARE)}")
    ok = passes(value, op, target)
    verdict = "PASS" if ok else "MISS"
    measured = f"{_number(value)} {unit}".rstrip()
    wanted = target_text(op, target, unit)
    print(f"  {figure:<48} {measured:>14}   target {wanted:<12} {verdict}", flush=True)
    _record(figure, measured, wanted, verdict)
    return ok


def note(figure: str, value: float, unit: str = "") -> None:
    """Print a figure that has no target (it is still collected for the table)."""
    measured = f"{_number(value)} {unit}".rstrip()
    print(f"  {figure:<48} {measured:>14}", flush=True)
    _record(figure, measured, "", "")


def _record(figure: str, measured: str, target: str, verdict: str) -> None:
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    line = {"figure": figure, "measured": measured, "target": target, "verdict": verdict}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")
