"""``tradebot replay``: what a config would have done with AlphaHub's signals, beside what the
journal did (the preview for an allocation change). See :mod:`tradebot.replay`."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click

from tradebot.cli.options import config_option
from tradebot.config.loader import load_config
from tradebot.config.model import Config
from tradebot.exceptions import JournalError
from tradebot.replay.engine import run_replay
from tradebot.replay.history_file import History, ReplayInputError, read_history
from tradebot.replay.journal_side import journal_tally
from tradebot.replay.prices_file import read_prices
from tradebot.replay.render import Column, report_data, report_json, report_text
from tradebot.replay.timeline import Arrival, timeline

_DAY = click.DateTime(["%Y-%m-%d"])


@click.command(name="replay")
@click.option(
    "--history",
    "history_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help='A history FILE: {"ALGO_ID": <the history endpoint\'s answer>, ...} (docs/replay.md).',
)
@click.option("--from", "from_day", type=_DAY, metavar="DATE", help="First day (UTC), YYYY-MM-DD.")
@click.option("--to", "to_day", type=_DAY, metavar="DATE", help="Last day (UTC), included.")
@config_option(purpose="the allocations to replay")
@click.option(
    "--compare",
    "compare_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A second config, replayed over the same signals, in a column of its own.",
)
@click.option(
    "--prices",
    "prices_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A CSV of time,symbol,price: the market (default: the signals' own prices).",
)
@click.option(
    "--journal",
    "journal_path",
    metavar="PATH|URL",
    help="The journal to compare with (default: the config's), opened read-only.",
)
@click.option("--no-journal", is_flag=True, help="Leave the journal's column out.")
@click.option(
    "--save-history",
    "save_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --from/--to: also write the history read from AlphaHub to this FILE.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def replay(
    history_path: Path | None,
    from_day: datetime | None,
    to_day: datetime | None,
    config_path: Path,
    compare_path: Path | None,
    prices_path: Path | None,
    journal_path: str | None,
    no_journal: bool,
    save_path: Path | None,
    fmt: str,
) -> None:
    """Preview an allocation change: what a config would have done with AlphaHub's signals.

    Runs the bot's own planner and the sim broker over the signals of a period, in simulated
    time, and prints, per algorithm, orders, P&L, the largest position, the worst day and skips
    by reason, beside what the journal did. --compare puts a second config beside the first.

    The signals come from a history FILE (--history), or from AlphaHub's history for
    --from/--to (the only connection it opens). It never writes the journal (read-only) and
    never uses a broker: broker credentials in the config are ignored.

    \b
    Example:
      tradebot replay --history history.json --compare bigger.yaml
      tradebot replay --from 2026-01-02 --to 2026-06-30 --save-history h1.json
    """
    since, until = _window(from_day, to_day)
    if history_path is None and since is None:
        raise click.UsageError("say which signals: --history FILE, or --from DATE --to DATE")
    if save_path is not None and (history_path is not None or since is None):
        raise click.UsageError("--save-history writes what --from/--to read from AlphaHub")
    config = load_config(config_path)
    configs = [(config_path.name, config)]
    if compare_path is not None:
        configs.append((compare_path.name, load_config(compare_path)))
    known = {a for _, c in configs for a in c.algorithms}
    zone = config.alphahub.zone
    try:
        if history_path is not None:
            history = read_history(history_path, zone)
        else:
            assert since is not None
            history = _from_alphahub(config, sorted(known), since, save_path)
        arrivals = timeline(history, since=since, until=until, known=known)
        prices = read_prices(prices_path, zone) if prices_path is not None else ()
    except ReplayInputError as exc:
        raise click.UsageError(str(exc)) from None
    columns: list[Column] = []
    marks: dict[str, Any] = {}
    for name, each in configs:
        done = run_replay(each, arrivals, prices)
        columns.append(Column(f"replay {name}", done.tally))
        marks = done.marks  # the same signals and prices: the same marks
    start, end = arrivals[0].at, arrivals[-1].at
    # the period compared: --from/--to, else the history's whole days (UTC)
    first = since or datetime.combine(start.date(), time(), UTC)
    last = until or datetime.combine(end.date() + timedelta(days=1), time(), UTC)
    lines = _header(history, arrivals, prices_path, since, until, start, end)
    if not no_journal:
        found = _journal(config_path, config, journal_path, first, last)
        if isinstance(found, str):
            lines.append(found)
        else:
            columns.insert(1, Column("journal", found))
    algorithms = sorted({a.signal.algo_id for a in arrivals})
    header = {"from": first, "to": last, "lines": lines}
    data = report_data(columns, algorithms, marks, header)
    click.echo(report_json(data) if fmt == "json" else report_text(data), nl=False)


def _window(
    from_day: datetime | None, to_day: datetime | None
) -> tuple[datetime | None, datetime | None]:
    if (from_day is None) != (to_day is None):
        raise click.UsageError("--from and --to go together")
    if from_day is None or to_day is None:
        return None, None
    since = datetime.combine(from_day.date(), time(), UTC)
    until = datetime.combine(to_day.date() + timedelta(days=1), time(), UTC)
    if until <= since:
        raise click.UsageError(f"--to {to_day:%Y-%m-%d} is before --from {from_day:%Y-%m-%d}")
    return since, until


def _header(
    history: History,
    arrivals: list[Arrival],
    prices_path: Path | None,
    since: datetime | None,
    until: datetime | None,
    start: datetime,
    end: datetime,
) -> list[str]:
    algos = len({a.signal.algo_id for a in arrivals})
    lines = [
        f"Replay of {len(arrivals)} signals of {algos} algorithm(s),"
        f" {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, in simulated time.",
        "Nothing was sent and the journal was not written.",
    ]
    if prices_path is None:
        lines.append(
            "Prices: each signal's own. Open positions at the end: at the last price a signal"
            " gave for\ntheir symbol (often their entry's; --prices FILE marks them later)."
        )
    else:
        lines.append(f"Prices: {prices_path}; open positions at the end at its last price.")
    bad = sum(history.bad.values())
    if bad:
        lines.append(f"{bad} leg(s) of the history could not be read and were left out.")
    return lines


def _journal(
    config_path: Path, config: Config, given: str | None, since: datetime, until: datetime
) -> Any:
    """The journal's tally for the period, or a line saying why there is none."""
    from tradebot.journal.opener import configured, open_journal
    from tradebot.runtime.paths import config_relative

    location: str | Path
    if given is not None:
        location = given
    else:
        location = configured(config.journal.url, config_relative(config_path, config.journal.path))
    try:
        with open_journal(location, readonly=True) as store:
            return journal_tally(store, since, until)
    except JournalError as exc:
        return f"Journal: none to compare with ({exc})."


def _from_alphahub(
    config: Config, algorithms: list[int], since: datetime, save_path: Path | None
) -> History:
    """AlphaHub's history of ``algorithms`` from ``since``'s day (the one connection a replay
    opens), read by the coverage audit's reader (one login, the endpoint's refusals of a
    hostile answer), saved to ``save_path`` when given. An algorithm whose history could not be
    read is refused with its reason: a preview silently short of an algorithm would mislead."""
    from tradebot.replay.history_file import history_text
    from tradebot.tracking.coverage_sources import read_history as read_alphahub

    read = read_alphahub(config.alphahub, algorithms, since, keep_answers=save_path is not None)
    if read.unavailable:
        why: dict[str, list[int]] = {}
        for algo_id, reason in sorted(read.unavailable.items()):
            why.setdefault(reason, []).append(algo_id)
        said = "; ".join(
            f"algorithm {', '.join(str(a) for a in algos)}: {reason}"
            for reason, algos in why.items()
        )
        raise ReplayInputError(
            f"AlphaHub's history could not be read ({said}); nothing was replayed"
            " (a saved --history FILE replays offline)"
        )
    if save_path is not None:
        try:
            save_path.write_text(history_text(read.answers), encoding="utf-8")
        except OSError as exc:
            raise ReplayInputError(
                f"{save_path}: cannot be written ({exc.strerror or exc})"
            ) from None
    return History({a: tuple(legs) for a, legs in read.legs.items()}, dict(read.bad))
