"""Where the time goes, from a py-spy raw profile: the functions with the most samples.

    py-spy record -r 2000 -f raw -o plan.txt -- python benchmarks/plan.py
    python benchmarks/spy_summary.py plan.txt --within "main (plan.py:138)" [--top 25]
    python benchmarks/spy_summary.py tradebot-0.txt --roles    # e2e.py --spy: who holds the GIL

``--within`` keeps only the samples whose stack holds that frame (the text py-spy writes for
it: function, file and line), e.g. one of the benchmark's two measurements, or the bot's
signal loop. Prints, per function (its line numbers merged), the share of those samples spent
in it (self) and under it (total). ``--roles`` sums the samples per role instead: for a worker
thread the call it was handed (``asyncio.to_thread``), for the event loop the callback or task
it was running.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r":\d+\)$")
_FRAME = re.compile(r" \(.*$")  # a frame's file and line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--within", default="")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--roles", action="store_true", help="per thread role, not function")
    args = parser.parse_args()
    if args.roles:
        roles(args.raw, args.top)
        return
    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    total = 0
    for line in args.raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or args.within not in stack:
            continue
        frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
        if args.within:
            frames = frames[next(i for i, f in enumerate(stack.split(";")) if args.within in f) :]
        n = int(count)
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            under[frame] += n
    print(f"{total} samples")
    print(f"{'self':>6} {'total':>6}  function")
    for frame, n in under.most_common(args.top):
        print(f"{own[frame] * 100 / total:5.1f}% {n * 100 / total:5.1f}%  {frame}")


def _role(frames: list[str]) -> str:
    for marker, kind in (("_WorkItem.run", "worker"), ("Handle._run", "loop")):
        if marker in frames:
            below = frames[frames.index(marker) + 1 :][:2]
            return f"{kind}: " + " / ".join(below or ["(no Python frame)"])
    return "other: " + (frames[-1] if len(frames) > 1 else "(no Python frame)")


def roles(raw: Path, top: int) -> None:
    """The samples per role (see the module docstring)."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            counts[_role([_FRAME.sub("", f) for f in stack.split(";")])] += int(count)
    total = sum(counts.values())
    print(f"{total} samples")
    for role, n in counts.most_common(top):
        print(f"{n * 100 / total:5.1f}%  {role}")


if __name__ == "__main__":
    main()
