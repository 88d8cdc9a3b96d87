from __future__ import annotations

import pytest

from tradebot.config.interpolation import InterpolationError, interpolate


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("pre-${A}-post", {"A": "x"}, "pre-x-post"),
        ("${A}${B}", {"A": "1", "B": "2"}, "12"),
        ("${A:-fallback}", {}, "fallback"),
        ("${A:-fallback}", {"A": ""}, "fallback"),  # :- also covers "set but empty"
        ("${A:-fallback}", {"A": "set"}, "set"),
        ("${A:-}", {}, ""),
        ("${A}", {"A": ""}, ""),  # set but empty, no default: empty
        ("${A:-a b:c-d}", {}, "a b:c-d"),
        ("$${A}", {}, "${A}"),  # escaped: a literal ${
        ("pa$word and $5 and $", {}, "pa$word and $5 and $"),  # a lone $ is text
        ("no references", {}, "no references"),
    ],
)
def test_references_are_replaced(text: str, env: dict[str, str], expected: str) -> None:
    assert interpolate(text, env) == expected


def test_a_value_is_substituted_once_never_re_read() -> None:
    assert interpolate("${A}", {"A": "${B}", "B": "no"}) == "${B}"
    assert interpolate("${A}", {"A": "$${x}"}) == "$${x}"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("${MISSING}", "environment variable MISSING is not set"),
        ("${MISSING}", "${MISSING:-}"),  # and says how to make it optional
        ("${A", "unclosed '${'"),
        ("${}", "is not a variable reference"),
        ("${1ABC}", "is not a variable reference"),
        ("${A-B}", "is not a variable reference"),
        ("${ A }", "is not a variable reference"),
        ("${A:-${B}}", "cannot contain another"),
    ],
)
def test_mistakes_are_explained(text: str, fragment: str) -> None:
    with pytest.raises(InterpolationError) as info:
        interpolate(text, {})
    assert fragment in str(info.value)


def test_errors_name_the_variable_never_a_value() -> None:
    env = {"SECRET": "hunter2"}
    with pytest.raises(InterpolationError) as info:
        interpolate("${SECRET}${OTHER}", env)
    assert "OTHER" in str(info.value)
    assert "hunter2" not in str(info.value)
