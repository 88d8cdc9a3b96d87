"""``tradebot journal --limit 0 --format csv`` formats stored rows without decoding them into
entries; its output is byte for byte what the entry path printed.

The reference is that old path, computed here: every row decoded (:func:`queries.decode`), made
flat (``Entry.as_dict()``, data as compact sorted JSON) and written by the csv module with None
as "". The journal holds what the executor writes and, written straight into the file, what no
current writer makes but a journal can hold: text that needs quoting, decimals not in canonical
form, JSON with spaces and unsorted keys, numbers stored as SQLite integers and reals, times
across thousands of days (more than the export remembers) and before the year 1000."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from decimal import InvalidOperation
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.journal.generate import generate
from tradebot.cli.journal_export import CSV_COLUMNS, flat
from tradebot.cli.main import cli
from tradebot.journal import open_journal
from tradebot.journal.interface import EntryFilter
from tradebot.journal.queries import decode
from tradebot.journal.records import Status

DAY = 86_400_000_000
EPOCH_2026 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in microseconds


def reference_csv(path: Path, where: EntryFilter) -> str:
    """The export as the entry path wrote it before the stored-row path replaced it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    with open_journal(path, readonly=True) as store:
        for row in store.iter_stored(where):
            fields = flat(decode(row))
            writer.writerow(["" if fields[c] is None else fields[c] for c in CSV_COLUMNS])
    return buffer.getvalue()


def odd_rows() -> list[tuple[Any, ...]]:
    """Rows as a hand, an older version or another tool may have left them."""
    rows: list[tuple[Any, ...]] = []
    texts = [
        'a, comma and a "quote"',
        "two\nlines",
        "carriage\rreturn",
        " leading and trailing ",
        "unicode: café ☕ 𝄞",
        "tab\tand nul\x00",
        "",
    ]
    datas = [
        '{"b": 1, "a": [1.5, 2e3, -0.0, null, true]}',  # spaces, unsorted, floats
        '  {"x":"y"}  ',  # surrounded by spaces
        '{"y":"x"}\n ',  # followed by them
        '{"nested":{"z":1,"a":{"q":"é\\u00e9"}},"big":123456789012345678901234567890}',
        '"a bare string"',
        "[3, 2, 1]",
        "{}",
        '{"line":"a\\nb","quote":"\\"","comma":","}',
        '{"inf": Infinity, "nan": NaN}',
    ]
    decimals: list[Any] = ["1.50", "1E+2", "-0", "0.000", "12", 0, -0.0, 2.5, 7, None, "NaN"]
    for n in range(60):
        rows.append(
            (
                EPOCH_2026 + n * 7_777_777_777 + (n % 3),  # a few seconds to months apart
                ["filled", "skipped", "error", "intent", "signal"][n % 5],
                [None, 7, 2**40][n % 3],
                [None, "AAPL", "BRK.B", texts[n % len(texts)]][n % 4],
                [None, f"tb1-x-{n}", texts[(n + 1) % len(texts)]][n % 3],
                [None, n][n % 2],
                [None, f"1:open:AAPL:buy:{n}", texts[(n + 2) % len(texts)]][n % 3],
                [None, "buy", "sell"][n % 3],
                decimals[n % len(decimals)],
                decimals[(n + 3) % len(decimals)],
                texts[n % len(texts)],
                datas[n % len(datas)],
            )
        )
    # every data and number in a row whose other fields need no quoting
    for n, data in enumerate(datas * 2):
        qty, price = decimals[n % len(decimals)], decimals[(n + 5) % len(decimals)]
        rows.append(
            (EPOCH_2026 + n, "filled", n, "AAPL", f"tb1-{n}", n, "l", "buy", qty, price, "ok", data)
        )
    # more distinct days and prices than the export remembers, the same second on two days,
    # midnight, the last microsecond of a day, and times before 1970 and before the year 1000
    for n in range(5000):
        ts = EPOCH_2026 - 4000 * DAY + n * DAY + (n * 1_234_567) % DAY
        rows.append(
            (ts, "filled", 1, "SYM", None, None, None, "buy", f"{n}.10", f"{n}.0", "", "{}")
        )
    for ts in (
        EPOCH_2026,
        EPOCH_2026 + DAY - 1,
        -1,
        -DAY - 5,
        -400_000 * DAY + 17,
        -700_000 * DAY - 1,
    ):
        rows.append((ts, "gap", None, None, None, None, None, None, None, None, "edge", "{}"))
    return rows


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "journal" / "tradebot.sqlite"
    generate(path)  # what the executor writes
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO entries (ts, status, algo_id, symbol, client_order_id, signal_id, leg,"
            " side, qty, price, detail, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            odd_rows(),
        )
    conn.close()
    return path


def export(path: Path, *args: str) -> str:
    result = CliRunner().invoke(
        cli, ["journal", "--journal", str(path), "--limit", "0", "--format", "csv", *args]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_the_export_equals_the_entry_paths_byte_for_byte(journal: Path) -> None:
    text = export(journal)
    assert text == reference_csv(journal, EntryFilter())
    assert len(text.splitlines()) > 5000
    for quoted in ('"a, comma and a ""quote"""', '"two\nlines"', "unicode: café ☕ 𝄞"):
        assert quoted in text  # the odd rows are in it


def test_a_filtered_and_limited_export_is_the_same_rows(journal: Path) -> None:
    text = export(journal, "--status", "filled", "--symbol", "SYM")
    where = EntryFilter(statuses=(Status.FILLED,), symbols=("SYM",))
    assert text == reference_csv(journal, where) and text.count("\n") > 5000
    head = export(journal, "--limit", "7")
    assert head == reference_csv(journal, EntryFilter(limit=7))
    assert len(head.splitlines()) == 8  # the header and seven rows


@pytest.mark.parametrize(
    ("status", "qty", "data", "error"),
    [
        ("no-such-status", None, "{}", ValueError),
        ("filled", "ten", "{}", InvalidOperation),
        ("filled", None, '{"a":1} {"b":2}', json.JSONDecodeError),  # extra data
        ("filled", None, "", json.JSONDecodeError),
    ],
)
def test_a_row_that_does_not_decode_stops_the_export_as_before(
    tmp_path: Path, status: str, qty: str | None, data: str, error: type[Exception]
) -> None:
    path = tmp_path / "journal" / "tradebot.sqlite"
    with open_journal(path):
        pass
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "INSERT INTO entries (ts, status, qty, detail, data) VALUES (?, ?, ?, '', ?)",
            (EPOCH_2026, status, qty, data),
        )
    conn.close()
    with pytest.raises(error):
        reference_csv(path, EntryFilter())
    result = CliRunner().invoke(
        cli, ["journal", "--journal", str(path), "--limit", "0", "--format", "csv"]
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, error)


def test_decimal_texts_are_remembered_by_text_only() -> None:
    # 0 and -0.0 are equal dict keys with different texts: an export remembering them by
    # value would print one for the other
    from tradebot.cli.journal_export import stored_csv_fields

    fields = stored_csv_fields()
    base: list[Any] = [1, EPOCH_2026, "filled", None, None, None, None, None, None]
    zero = fields((*base, 0, -0.0, "", "{}", "default"))
    assert zero[9:11] == ["0", "-0"]
    again = fields((*base, -0.0, 0, "", json.dumps({"k": "v"}), "default"))
    assert again[9:11] == ["-0", "0"] and again[12] == '{"k":"v"}'
