"""What the review commands share: finding the journal, reading times, printing tables.

The journal is, in order: ``--journal PATH|URL``; ``journal.url`` (PostgreSQL), else
``journal.path`` of the config file given by ``--config`` (or ``./config.yaml`` when it exists),
relative to that file's folder; the default ``journal/tradebot.sqlite`` in the current directory.
Review commands open the journal read-only and never take the writer's lock, so they run beside
a live bot.
"""

from __future__ import annotations

import csv
import importlib
import io
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from tradebot import clock
from tradebot.cli.options import config_option, config_or_none
from tradebot.journal.opener import Store, configured, is_url, open_journal
from tradebot.runtime.paths import config_relative

F = TypeVar("F", bound=Callable[..., Any])


def journal_options(func: F) -> F:
    """``--journal PATH`` and ``--config PATH``."""
    func = config_option(optional=True, purpose="its journal.path locates the journal")(func)
    return click.option(
        "--journal",
        "journal_path",
        metavar="PATH|URL",
        callback=_location,
        help="The journal file, or a postgresql:// URL (overrides the config).",
    )(func)


def _location(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | str | None:
    """A URL stays text (``Path`` would fold its ``//``); anything else is a file path."""
    if value is None or is_url(value):
        return value
    return Path(value)


def load_config_or_none(config_path: Path | None) -> Any:
    """The Config from :func:`config_or_none`, or None when there is no config file."""
    path = config_or_none(config_path)
    if path is None:
        return None
    try:
        # imported by name: the loader is another module's, and only needed here
        loader = importlib.import_module("tradebot.config.loader")
    except ImportError:
        raise click.UsageError(
            "reading config files is not available in this build; pass --journal PATH"
        ) from None
    return loader.load_config(path)


def resolve_journal(journal_path: Path | str | None, config_path: Path | None) -> Path | str:
    """The journal: a file, or a PostgreSQL URL (``journal.url`` wins over ``journal.path``).
    ``journal.path`` in a config file is relative to that file's folder, as ``tradebot run``
    reads it, so both find the same journal from any directory."""
    if journal_path is not None:
        return journal_path
    config = load_config_or_none(config_path)
    if config is None:
        # imported here: pydantic costs ~100 ms of start-up that --journal PATH never needs
        from tradebot.config.model import JournalConfig

        return Path(JournalConfig().path)
    source = config_or_none(config_path)
    assert source is not None  # a config was loaded from it
    return configured(config.journal.url, config_relative(source, config.journal.path))


def open_review(journal_path: Path | str | None, config_path: Path | None) -> Store:
    return open_journal(resolve_journal(journal_path, config_path), readonly=True)


def parse_when(text: str, now: datetime) -> datetime:
    """:func:`tradebot.clock.parse_when`, a bad value a usage error (exit 2)."""
    try:
        return clock.parse_when(text, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    widths: Mapping[str, int] | None = None,
) -> str:
    """A plain aligned text table; cells longer than ``widths[col]`` are cut with an ellipsis."""
    limits = widths or {}

    def cell(row: Mapping[str, Any], col: str) -> str:
        value = row.get(col)
        text = "" if value is None else str(value)
        limit = limits.get(col)
        return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"

    cells = [[cell(r, c) for c in columns] for r in rows]
    size = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(size[i]) for i, c in enumerate(columns)).rstrip()]
    lines += ["  ".join(r[i].ljust(size[i]) for i in range(len(columns))).rstrip() for r in cells]
    return "\n".join(lines)


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, header: bool) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n"
    )
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
