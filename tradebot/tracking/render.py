"""``tradebot track``'s output: a text table per algorithm, JSON, CSV (money as decimal text)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tradebot.journal.records import dec_text
from tradebot.journal.review import money_text
from tradebot.tracking.track import Tracked

CSV_COLUMNS = ("algo_id", "figure", "money", "bps")
#: the columns when accounts are tracked apart (several accounts, or ``--account``)
ACCOUNT_CSV_COLUMNS = ("account", *CSV_COLUMNS)


def as_dict(t: Tracked) -> dict[str, Any]:
    """One algorithm, as ``--format json`` gives it: ``parts`` sum to ``gap`` exactly."""
    d = t.decomposition
    bps = {p.name: t.bps(p.money) for p in d.parts}
    return {
        "account": t.account,
        "algo_id": d.algo_id,
        "algorithm_pnl": money_text(d.algorithm.pnl),
        "account_pnl": money_text(d.account.pnl),
        "gap": money_text(d.gap),
        "parts": {p.name: money_text(p.money) for p in d.parts},
        "allocation": None if t.allocation is None else money_text(t.allocation),
        "gap_bps": None if t.bps(d.gap) is None else dec_text(t.bps(d.gap)),
        "parts_bps": {k: None if v is None else dec_text(v) for k, v in bps.items()},
        "account_pnl_by_review": money_text(t.reviewed),
        "reconciled": t.reconciled,
        "unmarked": sorted(d.algorithm.unmarked | d.account.unmarked),
        # open legs that arrived while the algorithm was not in the config: sized by no rules
        "not_in_config": {"count": len(t.not_in_config), "legs": list(t.not_in_config)},
        "history": history_dict(t),
        "notes": list(t.notes),
    }


def history_dict(t: Tracked) -> dict[str, Any]:
    """Whether AlphaHub's history was read for the algorithm (``reason``: why not) and what it
    added: ``never_received`` legs in the algorithm's result, ``left_out`` legs it could not
    classify, ``unreadable`` legs it could not parse."""
    side = t.history
    if side is None or side.reason is not None:
        reason = "not read" if side is None else side.reason
        return dict.fromkeys(("since", "never_received", "left_out", "unreadable")) | {
            "read": False,
            "reason": reason,
        }
    return {
        "read": True,
        "reason": None,
        "since": None if side.since is None else side.since.isoformat(),
        "never_received": len(side.legs),
        "left_out": side.left_out,
        "unreadable": side.unreadable,
    }


def csv_rows(tracked: Sequence[Tracked]) -> list[dict[str, Any]]:
    """One row per figure: the two results, the gap and each part."""
    rows = []
    for t in tracked:
        d = t.decomposition
        figures = [
            ("algorithm_pnl", d.algorithm.pnl),
            ("account_pnl", d.account.pnl),
            ("gap", d.gap),
            *((p.name, p.money) for p in d.parts),
        ]
        for name, money in figures:
            bps = t.bps(money)
            rows.append(
                {
                    "account": t.account,
                    "algo_id": d.algo_id,
                    "figure": name,
                    "money": money_text(money),
                    "bps": "" if bps is None else dec_text(bps),
                }
            )
    return rows


def text(tracked: Sequence[Tracked]) -> str:
    """The tracking table: per algorithm, both results, the gap and its parts."""
    if not tracked:
        return "nothing to track: no legs or orders in the journal for that period"
    blocks = []
    for t in tracked:
        d = t.decomposition
        base = "" if t.allocation is None else f" (allocation {money_text(t.allocation)})"
        owner = "" if t.account is None else f"account {t.account}: "
        lines = [f"{owner}algorithm {d.algo_id}{base}"]

        lines.append(_line(t, "algorithm's result", d.algorithm.pnl))
        lines.append(_line(t, "account's result", d.account.pnl))
        lines.append(_line(t, "gap (algorithm - account)", d.gap))
        lines += [_line(t, p.name, p.money, indent=4) for p in d.parts]
        check = "parts add up to the gap; account's result matches the review"
        if not t.reconciled:
            check = (
                f"DOES NOT RECONCILE: the review computes the account's result as"
                f" {money_text(t.reviewed, signed=True)}"
            )
        lines.append(f"  {check}")
        lines += [f"  note: {n}" for n in t.notes]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _line(t: Tracked, label: str, money: Decimal, *, indent: int = 2) -> str:
    bps = t.bps(money)
    tail = "" if bps is None else f"  {money_text(bps, signed=True):>9} bps"
    return f"{' ' * indent}{label:<30}{money_text(money, signed=True):>12}{tail}"


def csv_columns(tracked: Sequence[Tracked]) -> tuple[str, ...]:
    """:data:`ACCOUNT_CSV_COLUMNS` when the figures are an account's, else :data:`CSV_COLUMNS`."""
    return ACCOUNT_CSV_COLUMNS if any(t.account is not None for t in tracked) else CSV_COLUMNS


_SIDE_FIGURES = ("algorithm's result", "account's result", "gap")


def _figure(t: Tracked, label: str) -> Decimal:
    d = t.decomposition
    return {"algorithm's result": d.algorithm.pnl, "account's result": d.account.pnl}.get(
        label, d.gap
    )


def side_by_side(tracked: Sequence[Tracked]) -> str:
    """Each algorithm's results and gap with the accounts that follow it in columns (a live
    account beside its paper mirror): empty unless two accounts or more are tracked."""
    accounts = list(dict.fromkeys(t.account for t in tracked if t.account is not None))
    if len(accounts) < 2:
        return ""
    by = {(t.account, t.decomposition.algo_id): t for t in tracked}
    width = max(12, *(len(a) + 1 for a in accounts))
    lines = ["accounts side by side" + "".join(f"{a:>{width}}" for a in accounts)]
    by_algo = sorted({t.decomposition.algo_id for t in tracked})
    for algo in by_algo:
        lines.append(f"algorithm {algo}")
        for label in _SIDE_FIGURES:
            cells = []
            for a in accounts:
                t = by.get((a, algo))
                shown = "-" if t is None else money_text(_figure(t, label), signed=True)
                cells.append(f"{shown:>{width}}")
            lines.append(f"  {label:<19}" + "".join(cells))
    if any(t is None for t in (by.get((a, algo)) for a in accounts for algo in by_algo)):
        lines.append("(-: the account does not follow the algorithm)")
    return "\n".join(lines)
