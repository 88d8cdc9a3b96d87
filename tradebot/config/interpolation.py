"""``${VAR}`` and ``${VAR:-default}`` in config values, from the environment.

- ``${VAR}``: the variable's value; an error when it is not set.
- ``${VAR:-default}``: the default when the variable is unset or empty (``${VAR:-}``: empty).
- ``$${``: a literal ``${``. A ``$`` not followed by ``{`` is kept as it is.

Substitution happens once, on the text of a value (never on keys, never on the substituted text),
so a variable's value can contain anything, ``$`` included. Error messages name the variable,
never its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    """A reference that cannot be resolved; the message says which and why."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """``text`` with every ``${...}`` replaced from ``env``; raises :class:`InterpolationError`."""
    out: list[str] = []
    i = 0
    while (j := text.find("$", i)) >= 0:
        if text.startswith("$${", j):
            out.append(text[i:j] + "${")
            i = j + 3
            continue
        if not text.startswith("${", j):
            out.append(text[i : j + 1])
            i = j + 1
            continue
        end = text.find("}", j + 2)
        if end < 0:
            raise InterpolationError("unclosed '${' (write '$${' for a literal '${')")
        out.append(text[i:j] + _resolve(text[j + 2 : end], env))
        i = end + 1
    out.append(text[i:])
    return "".join(out)


def references(text: str) -> tuple[str, ...]:
    """The variables ``text`` names in ``${...}``, read as :func:`interpolate` reads them (what
    ``config check`` shows of a secret: where it comes from, never its value)."""
    names: list[str] = []
    i = 0
    while (j := text.find("$", i)) >= 0:
        if text.startswith("$${", j):
            i = j + 3
            continue
        end = text.find("}", j + 2) if text.startswith("${", j) else -1
        if end < 0:
            i = j + 1
            continue
        name = text[j + 2 : end].partition(":-")[0]
        if _NAME.fullmatch(name):
            names.append(name)
        i = end + 1
    return tuple(dict.fromkeys(names))


def _resolve(expr: str, env: Mapping[str, str]) -> str:
    name, has_default, default = expr.partition(":-")
    if not _NAME.fullmatch(name):
        raise InterpolationError(
            f"'${{{expr}}}' is not a variable reference: write ${{NAME}} or ${{NAME:-default}}"
        )
    if "${" in default:
        raise InterpolationError(f"the default of ${{{name}}} cannot contain another '${{'")
    value = env.get(name)
    if has_default and not value:
        return default
    if value is None:
        raise InterpolationError(
            f"environment variable {name} is not set (write ${{{name}:-}} if it may be left unset)"
        )
    return value
