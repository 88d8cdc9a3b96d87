"""YAML syntax errors name the line, column and key that are wrong, not the key before them."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.config.helpers import WriteConfig, error_text, load
from tradebot.exceptions import ConfigError

#: name -> (text, line, key path, words the message must hold)
TABS = {
    "tab before a section's first key": (
        "risk:\n\tmax_order_notional: 5\n",
        2,
        "risk.max_order_notional",
        "a tab at column 1",
    ),
    "tab before a later key": (
        "mode: paper\nrisk:\n  max_order_notional: 5\n\tmax_orders_per_day: 3\n",
        4,
        "risk.max_orders_per_day",
        "a tab at column 1",
    ),
    "tab after spaces": (
        "algorithms:\n  14:\n    strategy: fixed_shares\n    params: {shares: 1}\n"
        "  \t16:\n    strategy: fixed_shares\n",
        5,
        "algorithms.14.16",
        "a tab at column 3",
    ),
    "tab deep inside": (
        "algorithms:\n  14:\n    strategy: fixed_shares\n    params:\n  \t  shares: 1\n",
        5,
        "algorithms.14.params.shares",
        "a tab at column 3",
    ),
}

INDENTS = {
    "key indented less than its siblings": (
        "algorithms:\n  14:\n    strategy: fixed_shares\n   params: {shares: 1}\n",
        4,
        "algorithms.14.params",
        "`params` is indented by 3 spaces, but here a line can only be indented by 0, 2 or 4",
    ),
    "key indented more than its siblings": (
        "risk:\n  max_order_notional: 5\n    max_orders_per_day: 3\n",
        3,
        "risk.max_orders_per_day",
        "`max_orders_per_day` is indented by 4 spaces, but here a line can only be"
        " indented by 0 or 2",
    ),
    "key between two levels": (
        "risk:\n  max_order_notional: 5\n   max_orders_per_day: 3\n",
        3,
        "risk.max_orders_per_day",
        "`max_orders_per_day` is indented by 3 spaces",
    ),
    "section indented under a value": (
        "mode: paper\n  risk:\n    max_order_notional: 5\n",
        2,
        "risk",
        "`risk` is indented by 2 spaces, but here a line can only be indented by 0",
    ),
    "dedent to no level": (
        "algorithms:\n  14:\n    strategy: fixed_shares\n    params:\n      shares: 1\n"
        "     name: x\n",
        6,
        "algorithms.14.params.name",
        "`name` is indented by 5 spaces, but here a line can only be indented by 0, 2, 4 or 6",
    ),
    "list item out of line": (
        "risk:\n  deny_symbols:\n    - AAA\n   - BBB\n",
        4,
        "risk.deny_symbols",
        "this list item is indented by 3 spaces",
    ),
    "after comments and blank lines": (
        "# config\nrisk:\n\n  # the limits\n    max_order_notional: 5\n  max_orders_per_day: 3\n",
        6,
        "risk.max_orders_per_day",
        "`max_orders_per_day` is indented by 2 spaces, but here a line can only be"
        " indented by 0 or 4",
    ),
}


def _issue(text: str) -> tuple[int, str, str]:
    head, _, message = text.partition(": YAML syntax error: ")
    where, _, path = head.rpartition(": ")
    return int(where.rsplit(":", 1)[1]), path, message


@pytest.mark.parametrize("case", sorted(TABS))
def test_a_tab_is_named_at_its_own_line_and_column(write_config: WriteConfig, case: str) -> None:
    text, line, path, words = TABS[case]
    got = _issue(error_text(write_config(text)))
    assert got[:2] == (line, path)
    assert words in got[2]
    assert "tabs are not allowed for indentation in YAML" in got[2]


def test_a_tab_that_is_not_indentation(write_config: WriteConfig) -> None:
    got = _issue(error_text(write_config("risk:\n  max_order_notional:\t5\n")))
    assert got[:2] == (2, "risk.max_order_notional")
    assert got[2] == "a tab at column 22: YAML does not allow a tab here (use spaces)"


@pytest.mark.parametrize("case", sorted(INDENTS))
def test_a_misindented_key_is_named_at_its_own_line(write_config: WriteConfig, case: str) -> None:
    text, line, path, words = INDENTS[case]
    got = _issue(error_text(write_config(text)))
    assert got[:2] == (line, path)
    assert got[2].startswith("bad indentation at column ")
    assert words in got[2]


@pytest.mark.parametrize(
    ("text", "line", "path"),
    [
        ("risk:\n  max_order_notional 5\n  deny_symbols: []\n", 2, "risk"),
        ("mode paper\nrisk: {}\n", 1, "(top level)"),
    ],
)
def test_a_missing_colon_is_named_at_its_own_line(
    write_config: WriteConfig, text: str, line: int, path: str
) -> None:
    got = _issue(error_text(write_config(text)))
    assert got[:2] == (line, path)
    assert got[2] == "this line is not `key: value` (a colon followed by a space is missing)"


def test_the_text_of_a_broken_line_is_never_repeated(write_config: WriteConfig) -> None:
    # a password written without its colon must not reach the error (and so the terminal)
    for text in (
        "alphahub:\n  password hunter2-secret\n  email: a@b.c\n",
        "alphahub:\n  email: a@b.c\n   password: hunter2-secret\n",
        "alphahub:\n\tpassword: hunter2-secret\n",
    ):
        assert "hunter2" not in error_text(write_config(text))


def test_other_syntax_errors_keep_the_parser_wording(write_config: WriteConfig) -> None:
    got = _issue(error_text(write_config("alphahub:\n  url: a: b\n")))
    assert got[0] == 2
    assert got[2] == "mapping values are not allowed here"


YAMLISH = st.text(alphabet=" \t\n:-#[]{},\"'|>&*!ab1", max_size=80)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=YAMLISH)
def test_any_text_gives_a_config_or_a_config_error(write_config: WriteConfig, text: str) -> None:
    """The re-reading of the wrong line never fails on its own, whatever the file holds."""
    path = write_config(text)
    try:
        load(path)
    except ConfigError as exc:
        assert str(exc).startswith(str(path))
