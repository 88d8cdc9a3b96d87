"""``tradebot journal --format csv|json`` (without ``--follow``): every matching row, streamed.

Memory stays flat whatever the journal's size: rows are read a page at a time (keyset paging,
:meth:`Journal.iter_stored`) and written out in chunks. The CSV path formats rows as stored,
never building an :class:`~tradebot.journal.records.Entry` per row, yet prints byte for byte
what formatting each row's ``Entry.as_dict()`` prints (the same functions make each field:
:func:`~tradebot.journal.records.iso`, :func:`~tradebot.journal.records.dec_text`, the JSON
encoder; ``tests/cli/test_journal_export.py`` holds the two paths equal). What it saves is the
per-row cost: an Entry, a datetime, two Decimals and a dict for every row, two thirds of the
time of a million-row export (benchmarks/README.md has the profiles).
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import textwrap
from collections.abc import Callable
from decimal import Decimal
from itertools import islice
from typing import Any, TextIO

from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Entry, Status, dec_text, from_micros, iso

CSV_COLUMNS = (
    "id",
    "at",
    "status",
    "algo_id",
    "symbol",
    "client_order_id",
    "signal_id",
    "leg",
    "side",
    "qty",
    "price",
    "detail",
    "data",
    "account",
)
#: rows read per query (keyset paging) and written per chunk
PAGE = 5000
#: at most this many distinct values are remembered per column (memory stays flat)
_MEMO = 4096
_DAY = 86_400_000_000  # microseconds
_STATUSES = frozenset(str(s) for s in Status)


def flat(entry: Entry) -> dict[str, Any]:
    """An entry's CSV fields by column (``data`` as compact sorted JSON): the reference the
    stored-row path must equal, and what ``--follow`` prints."""
    row = entry.as_dict()
    row["data"] = json.dumps(row["data"], sort_keys=True, separators=(",", ":"))
    return row


def _json_encoder() -> Callable[[Any], str]:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"))``: the C encoder made once
    (``json.dumps`` makes one per call), else the same encoder through the public API."""
    encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the public path, same text
        return encoder.encode
    try:
        # the arguments JSONEncoder.iterencode passes to it, for these settings; without
        # markers (check_circular): a value read from JSON text cannot hold itself
        chunks = make(
            None,
            encoder.default,
            json.encoder.encode_basestring_ascii,
            None,  # indent
            ":",
            ",",
            True,  # sort_keys
            False,  # skipkeys
            True,  # allow_nan
        )
    except TypeError:  # another Python's private signature: the public path
        return encoder.encode

    def encode(value: Any) -> str:
        if isinstance(value, str):  # JSONEncoder.encode's own shortcut for a bare string
            return encoder.encode(value)
        return "".join(chunks(value, 0))

    sample = {"b": [1.5, -0.0, None, True, float("inf")], "a": {"é": 'x\n"y'}, "c": 10**30}
    return encode if encode(sample) == encoder.encode(sample) else encoder.encode


def _dec_text(value: Any) -> str:
    """``dec_text(Decimal(value))``, which is text for any number."""
    return dec_text(Decimal(value)) or "0"


def stored_csv_fields() -> Callable[[tuple[Any, ...]], list[Any]]:
    """One stored row (:data:`tradebot.journal.queries.COLUMNS`, the order of
    :data:`CSV_COLUMNS`) to its CSV fields, equal to ``flat(decode(row))``'s:

    * ``at``: ``iso(from_micros(ts))``, its date made once per day and its ``HH:MM:SS`` once
      per second of the day;
    * ``status``: the stored text, once it is known to be a status;
    * ``qty``, ``price``: ``dec_text(Decimal(text))``, remembered by text (prices repeat);
    * ``data``: ``json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))``;
    * the others as stored (the csv module writes None as an empty field, as "" was).

    A value that does not decode raises as decoding it would (an unknown status, a quantity
    that is not a number, data that is not JSON): the export stops there, as it always did.
    One function with its memos in locals, nothing called that need not be: it runs a
    million times per export."""
    days: dict[int, str] = {}
    clock: dict[int, str] = {}  # second of the day -> "HH:MM:SS."
    decimals: dict[str, str] = {}
    encode = _json_encoder()
    decode = json.JSONDecoder().raw_decode
    statuses = _STATUSES

    def fields(row: tuple[Any, ...]) -> list[Any]:
        (
            rid,
            ts,
            status,
            algo,
            symbol,
            coid,
            signal,
            leg,
            side,
            qty,
            price,
            detail,
            data,
            account,
        ) = row
        if status not in statuses:
            status = str(Status(status))  # raises ValueError for what is no status
        if type(ts) is int:
            day, micros = divmod(ts, _DAY)
            date = days.get(day)
            if date is None:
                if len(days) >= _MEMO:
                    days.clear()
                midnight = iso(from_micros(day * _DAY))  # "2026-01-01T00:00:00.000000Z"
                date = days[day] = midnight[: -len("00:00:00.000000Z")]
            second, micros = divmod(micros, 1_000_000)
            hms = clock.get(second)
            if hms is None:  # at most 86,400 of them
                minutes, sec = divmod(second, 60)
                hms = clock[second] = f"{minutes // 60:02d}:{minutes % 60:02d}:{sec:02d}."
            when = f"{date}{hms}{micros:06d}Z"
        else:
            when = iso(from_micros(ts))  # whatever that does with it
        if type(qty) is str:
            text = decimals.get(qty)
            if text is None:
                if len(decimals) >= _MEMO:
                    decimals.clear()
                text = decimals[qty] = _dec_text(qty)
            qty = text
        elif qty is not None:  # 0 and -0.0 are equal keys with other texts: not remembered
            qty = _dec_text(qty)
        if type(price) is str:
            text = decimals.get(price)
            if text is None:
                if len(decimals) >= _MEMO:
                    decimals.clear()
                text = decimals[price] = _dec_text(price)
            price = text
        elif price is not None:
            price = _dec_text(price)
        try:
            value, end = decode(data)
        except (TypeError, ValueError):
            value, end = json.loads(data), -1  # leading space: json.loads skips it (or raises)
        if end != -1 and end != len(data):
            value = json.loads(data)  # trailing space, or extra data: as json.loads says
        return [
            rid,
            when,
            status,
            algo,
            symbol,
            coid,
            signal,
            leg,
            side,
            qty,
            price,
            detail,
            encode(value),
            account,
        ]

    return fields


#: printable ASCII but the comma and the quote: a field of these the csv module writes as it is
_PLAIN = re.compile(r"[ !#-+\--~]*").fullmatch


def _quoted(text: str) -> str:
    """A field as the csv module writes it (minimal quoting, the quote doubled), for text that
    is printable ASCII; a comma or a quote is what makes it quoted."""
    if '"' in text or "," in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_agrees() -> bool:
    """Whether this Python's csv module writes fields as :func:`stored_csv_line` does: plain
    printable ASCII as it is, None as nothing, a comma or a quote quoted with the quote doubled.
    Checked once; if it ever does otherwise, every row goes through the csv module."""
    samples = ["a b", " x ", "~!#$%&'()*+-./:;<=>?@[\\]^_`{|}", 'q"q', "c,c", '{"a":"b,c"}', ""]
    probe = io.StringIO()
    csv.writer(probe, lineterminator="\n").writerow([7, None, *samples])
    return probe.getvalue() == ",".join(["7", "", *map(_quoted, samples)]) + "\n"


def stored_csv_line() -> Callable[[tuple[Any, ...]], str]:
    """One stored row to its CSV line, the csv module's own text (:func:`stored_csv_fields`
    gives the fields). Most rows are written here directly: every field is a number, empty,
    plain printable ASCII, or JSON text (ASCII, quoted when it holds a comma or a quote); a row
    with anything else in a free-text column (a newline, a quote, non-ASCII) goes through the
    csv module itself, as does every row if this Python's csv module writes otherwise."""
    fields = stored_csv_fields()
    spill = io.StringIO()
    writer = csv.writer(spill, lineterminator="\n")

    def by_csv(values: list[Any]) -> str:
        writer.writerow(values)
        text = spill.getvalue()
        spill.seek(0)
        spill.truncate()
        return text

    if not _csv_agrees():
        return lambda row: by_csv(fields(row))
    plain = _PLAIN

    def line(row: tuple[Any, ...]) -> str:
        values = fields(row)
        rid, at, status, algo, symbol, coid, signal, leg, side, qty, price, detail, data, acct = (
            values
        )
        # str() of None is "None" and of a number its digits: all plain. The csv module writes
        # str(value) of what is not None either, so a plain concatenation means plain fields.
        if type(rid) is not int or not plain(
            f"{algo}{symbol}{coid}{signal}{leg}{side}{detail}{acct}"
        ):
            return by_csv(values)
        if '"' in data or "," in data:  # compact JSON: no space, newline or non-ASCII in it
            data = '"' + data.replace('"', '""') + '"'
        return (
            f"{rid},{at},{status},{'' if algo is None else algo},"
            f"{'' if symbol is None else symbol},{'' if coid is None else coid},"
            f"{'' if signal is None else signal},{'' if leg is None else leg},"
            f"{'' if side is None else side},{'' if qty is None else qty},"
            f"{'' if price is None else price},{'' if detail is None else detail},{data},"
            f"{'' if acct is None else acct}\n"
        )

    return line


class Sink:
    """Text written to stdout through a buffer, a chunk of rows at a time (fewer, larger
    writes), with a running count on stderr when a person is watching it."""

    def __init__(self, chunk: int = 1000, out: TextIO | None = None) -> None:
        self.buffer = io.StringIO()
        self._out: TextIO = sys.stdout if out is None else out
        self._chunk = chunk
        self._rows = 0
        self._progress = sys.stderr.isatty() and not self._out.isatty()

    def row_done(self) -> None:
        self.rows_done(1)

    def rows_done(self, count: int) -> None:
        before = self._rows // self._chunk
        self._rows += count
        if self._rows // self._chunk != before:
            self.flush()
            if self._progress:
                print(f"\rexported {self._rows:,} rows", end="", file=sys.stderr, flush=True)

    def flush(self) -> None:
        self._out.write(self.buffer.getvalue())
        self.buffer.seek(0)
        self.buffer.truncate()

    def close(self) -> None:
        self.flush()
        self._out.flush()
        if self._progress:
            print(f"\rexported {self._rows:,} rows", file=sys.stderr, flush=True)


def export(store: Journal, where: EntryFilter, fmt: str, out: TextIO | None = None) -> None:
    """CSV or a JSON array of the rows matching ``where``, written as they are read."""
    sink = Sink(out=out)
    if fmt == "csv":
        csv.writer(sink.buffer, lineterminator="\n").writerow(CSV_COLUMNS)
        line = stored_csv_line()
        rows = store.iter_stored(where, page=PAGE)
        while page := list(islice(rows, PAGE)):
            sink.buffer.write("".join(map(line, page)))
            sink.rows_done(len(page))
    else:  # the same text as json.dumps(list, indent=1): each object one space further in
        sink.buffer.write("[")
        separator = "\n"
        for entry in store.iter_entries(where):
            text = json.dumps(entry.as_dict(), indent=1, sort_keys=True)
            sink.buffer.write(separator + textwrap.indent(text, " "))
            separator = ",\n"
            sink.row_done()
        sink.buffer.write("\n]\n" if separator != "\n" else "]\n")
    sink.close()
