"""Algorithm ids are plain decimal integers, each written once (issue 19, item 6).

YAML 1.1 reads ``016`` as 14 and ``0x10`` as 16, and ``16`` with ``'16'`` are two keys that both
become algorithm 16 (the last silently won): ids are judged on the text as written.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.config.helpers import WriteConfig, error_text, line, load
from tradebot.config.model import Config
from tradebot.config.numbers import MAX_ALGO_ID
from tradebot.exceptions import ConfigError

ENTRY = "    strategy: fixed_shares\n    params: {shares: 1}\n"
ISSUE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<path>.+?): (?P<message>.+)$")


def issues(text: str) -> list[dict[str, str]]:
    found = [ISSUE.match(row) for row in text.splitlines()]
    return [m.groupdict() for m in found if m]


def algorithms(*keys: str) -> str:
    return "algorithms:\n" + "".join(f"  {key}:\n{ENTRY}" for key in keys)


# -- duplicates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), [("16", "'16'"), ("'16'", "16"), ('"16"', "16")])
def test_one_algorithm_written_two_ways_is_a_duplicate_naming_both_lines(
    write_config: WriteConfig, first: str, second: str
) -> None:
    path = write_config(algorithms(first, second))
    (issue,) = issues(error_text(path))
    assert (issue["file"], issue["line"], issue["path"]) == (str(path), "5", "algorithms.16")
    assert f"written twice, at {path}:2 and at {path}:5" in issue["message"]
    assert line(path, 2).strip() == f"{first}:" and line(path, 5).strip() == f"{second}:"


def test_the_same_spelling_twice_is_reported_once(write_config: WriteConfig) -> None:
    path = write_config(algorithms("16", "16"))
    (issue,) = issues(error_text(path))
    assert (issue["line"], issue["path"]) == ("5", "algorithms.16")
    assert issue["message"].startswith("duplicate key (first on line 2)")


def test_a_subscription_listed_twice_names_both_lines(write_config: WriteConfig) -> None:
    path = write_config("alphahub:\n  algorithms:\n    - 16\n    - '16'\n" + algorithms("16"))
    (issue,) = issues(error_text(path))
    assert (issue["line"], issue["path"]) == ("4", "alphahub.algorithms[1]")
    assert f"written twice, at {path}:3 and at {path}:4" in issue["message"]


@pytest.mark.parametrize("spelling", ["16", "'16'", '"16"', "!!str 16", "!!int 16"])
def test_an_id_written_once_either_way_is_that_algorithm(
    write_config: WriteConfig, spelling: str
) -> None:
    config = load(write_config(f"alphahub:\n  algorithms: [{spelling}]\n" + algorithms(spelling)))
    assert list(config.algorithms) == [16]
    assert type(next(iter(config.algorithms))) is int
    assert config.alphahub.algorithms == (16,)
    assert config.subscribed_algorithms == (16,)


def test_distinct_ids_are_not_duplicates(write_config: WriteConfig) -> None:
    config = load(write_config(algorithms("16", "'14'", "160", "1")))
    assert sorted(config.algorithms) == [1, 14, 16, 160]


# -- spellings that are not plain decimal ----------------------------------------------------------

#: text as written -> what YAML (or pydantic) would have made of it before
NOT_IDS = {
    "016": "octal 14",
    "0x10": "hexadecimal 16",
    "0o20": "octal 16 (YAML 1.2)",
    "1_4": "14",
    "14.0": "a float pydantic accepted as 14",
    "1.4e1": "a float 14",
    "-1": "a negative number",
    "+16": "16",
    "1:30": "base 60: 90",
    "true": "a boolean",
    "0": "not positive",
    "'016'": "text pydantic read as 16",
    "' 16'": "text with a space",
    "'16 '": "text with a space",
    "'١٦'": "Arabic-Indic digits int() reads as 16",
    "1٦": "a digit 1 and an Arabic-Indic 6, 16 to int()",
    "'+16'": "signed text",
    "1234567890123": "13 digits: longer than any AlphaHub topic carries",
    "~": "null",
    "''": "empty text",
    "[16]": "a list",
}


@pytest.mark.parametrize("spelling", sorted(NOT_IDS))
def test_an_id_that_is_not_plain_decimal_is_refused_at_its_line(
    write_config: WriteConfig, spelling: str
) -> None:
    path = write_config(algorithms("14", spelling))
    (issue,) = issues(error_text(path))
    assert (issue["file"], issue["line"]) == (str(path), "5")
    assert issue["path"].startswith("algorithms.")
    assert issue["message"].startswith("not an algorithm id:")
    assert "plain decimal integers like 16" in issue["message"]


@pytest.mark.parametrize("spelling", sorted(NOT_IDS))
def test_a_subscription_that_is_not_plain_decimal_is_refused_at_its_line(
    write_config: WriteConfig, spelling: str
) -> None:
    listed = f"alphahub:\n  algorithms:\n    - 14\n    - {spelling}\n"
    path = write_config(listed + algorithms("14"))
    (issue,) = issues(error_text(path))
    assert (issue["line"], issue["path"]) == ("4", "alphahub.algorithms[1]")
    assert issue["message"].startswith("not an algorithm id:")


def test_the_message_says_what_yaml_would_have_read(write_config: WriteConfig) -> None:
    text = error_text(write_config(algorithms("016", "0x10", "14.0")))
    messages = [i["message"] for i in issues(text)]
    assert [m.split(";")[0] for m in messages] == [
        "not an algorithm id: YAML would read it as 14",
        "not an algorithm id: YAML would read it as 16",
        "not an algorithm id: YAML would read it as 14.0",
    ]


def test_ids_brought_in_by_a_merge_are_held_to_the_rule(write_config: WriteConfig) -> None:
    path = write_config(
        "shared: &shared\n  016:\n" + ENTRY + "algorithms:\n  <<: *shared\n  16:\n" + ENTRY
    )
    # ``shared`` is no config section either; the id inside it is refused where it is written
    found = {i["path"]: i for i in issues(error_text(path))}
    assert found["algorithms.016"]["line"] == "2"


def test_a_mapping_merged_into_itself_is_read_once(write_config: WriteConfig) -> None:
    path = write_config("algorithms: &all\n  <<: *all\n  16:\n" + ENTRY)
    assert list(load(path).algorithms) == [16]


# -- whatever the text, never silently another number ----------------------------------------------

_SCALAR_TEXT = st.one_of(
    st.from_regex(r"\A[-+]?[0-9_]{0,4}(\.[0-9]{0,2})?([eE][-+]?[0-9]{1,2})?\Z"),
    st.from_regex(r"\A0[xXoObB]?[0-9a-fA-F_]{1,4}\Z"),
    st.from_regex(r"\A[0-9]{1,2}(:[0-5]?[0-9]){1,2}\Z"),
    st.text(alphabet="0123456789 +-._:xoeE٠١٢٣٤٥٦٧٨٩０１２３", min_size=1, max_size=6),
    st.sampled_from(["true", "false", "null", "~", ".inf", ".nan", "0", "16", "007"]),
    st.integers(min_value=-(10**15), max_value=10**15).map(str),
)
_QUOTES = st.sampled_from(["{}", "'{}'", '"{}"'])


def _written_text(text: str, quote: str) -> str:
    if quote == "'{}'":
        return "'" + text.replace("'", "''") + "'"
    if quote == '"{}"':
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_SCALAR_TEXT, quote=_QUOTES, where=st.sampled_from(["key", "subscription"]))
@example(text="016", quote="{}", where="key")
@example(text="16", quote="'{}'", where="subscription")
@example(text="1٦", quote="{}", where="key")
def test_any_scalar_is_the_decimal_id_it_spells_or_refused(
    write_config: WriteConfig, text: str, quote: str, where: str
) -> None:
    written = _written_text(text, quote)
    if where == "key":
        body = f"algorithms:\n  {written}:\n{ENTRY}"
    else:
        body = f"alphahub:\n  algorithms: [{written}]\n" + algorithms("14")
    path = write_config(body)
    try:
        config = load(path)
    except ConfigError:
        return  # refused: always fine
    # accepted: the scalar's own text (what YAML holds before reading it as a value) is
    # plain decimal, and the id is exactly that number
    node = yaml.compose(Path(path).read_text(encoding="utf-8"))
    assert node is not None
    scalar = _scalar_of(node, where)
    if scalar is None:  # ``algorithms: []``: no id written, none subscribed
        assert config.alphahub.algorithms == ()
        return
    assert re.fullmatch(r"[1-9][0-9]*", scalar), (written, scalar)
    if where == "key":
        assert list(config.algorithms) == [int(scalar)]
    else:
        assert config.alphahub.algorithms == (int(scalar),)


def _scalar_of(root: yaml.Node, where: str) -> str | None:
    """The text of the one id in the file, as YAML holds it before reading it as a value."""
    if where == "key":
        algos = next(v for k, v in root.value if k.value == "algorithms")
        return str(algos.value[0][0].value)
    hub = next(v for k, v in root.value if k.value == "alphahub")
    listed = next(v for k, v in hub.value if k.value == "algorithms")
    return str(listed.value[0].value) if listed.value else None


@pytest.mark.parametrize(("algo_id", "valid"), [(MAX_ALGO_ID, True), (MAX_ALGO_ID + 1, False)])
def test_a_config_built_in_code_is_held_to_the_same_range(algo_id: int, valid: bool) -> None:
    """``Config`` made without a file (tests, ``tradebot demo``) bounds the ids like the loader."""
    entry = {"strategy": "fixed_shares", "params": {"shares": 1}}
    data = {"algorithms": {algo_id: entry}, "alphahub": {"algorithms": [algo_id]}}
    if valid:
        assert Config.model_validate(data).subscribed_algorithms == (algo_id,)
        return
    with pytest.raises(ValidationError) as info:
        Config.model_validate(data)
    assert {e["loc"][:2] for e in info.value.errors()} == {
        ("algorithms", algo_id),
        ("alphahub", "algorithms"),
    }
