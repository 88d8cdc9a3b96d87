"""Config problems as a person wants to read them: ``FILE:LINE: key.path: what is wrong``.

Pydantic's errors carry ``loc`` tuples; :func:`issues_from_validation` places each one on its line
(:mod:`.locate`) and rewords it. Messages never include the offending value: it may be a secret.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import Node

from tradebot.config.locate import locate
from tradebot.config.model import AlgorithmConfig, Config
from tradebot.config.strategy import StrategyNotFound, resolve_strategy
from tradebot.exceptions import ConfigError

#: what a boolean key says to anything but an unquoted true or false
BOOLEAN_HINT = "not a boolean: use true or false (unquoted; yes/no/on/off/1/0 are not booleans)"

#: what a number key says to .inf, -.inf or .nan (see :mod:`.numbers`)
FINITE_HINT = "not a finite number: .inf, -.inf and .nan are refused (write a number)"


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem (or warning) in a config file."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}"


def raise_issues(file: str, issues: Iterable[ConfigIssue]) -> NoReturn:
    """Raise one :class:`ConfigError` listing every issue, in file order."""
    ordered = sorted(issues, key=lambda i: (i.line or 0, i.path))
    if len(ordered) == 1:
        raise ConfigError(str(ordered[0]))
    raise ConfigError("\n".join([f"{file}: {len(ordered)} problems", *map(str, ordered)]))


def issues_from_validation(
    error: ValidationError, file: str, root: Node | None, data: Any
) -> list[ConfigIssue]:
    issues = []
    for detail in error.errors(include_url=False, include_input=False):
        line, path = locate(root, detail["loc"])
        issues.append(ConfigIssue(file, line, path, _describe(detail, data)))
    return issues


def _describe(detail: ErrorDetails, data: Any) -> str:
    kind, loc, msg = detail["type"], tuple(detail["loc"]), detail["msg"]
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        return _unknown_key(loc, data)
    if kind in ("bool_type", "bool_parsing"):
        return BOOLEAN_HINT
    if kind == "finite_number":
        return FINITE_HINT
    if loc and loc[-1] == "[key]":
        return f"key {_reword(msg)}"
    return _reword(msg)


def _reword(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    if msg.startswith("Input should"):
        return "should" + msg[len("Input should") :]
    return msg


def _unknown_key(loc: tuple[str | int, ...], data: Any) -> str:
    model = _model_at(loc[:-1], data)
    if model is None:
        return "unknown key"
    known = sorted(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return f"unknown key (expected one of: {', '.join(known)})"


def _model_at(loc: tuple[str | int, ...], data: Any) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` (strategy params included)."""
    tp: Any = Config
    for i, part in enumerate(loc):
        tp = _unwrap_optional(tp)
        if tp is AlgorithmConfig and part == "params":
            tp = _params_model(_get(data, (*loc[:i], "strategy")))
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            tp = field.annotation if field is not None else None
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) in (tuple, list):
            tp = get_args(tp)[0]
        else:
            return None
    tp = _unwrap_optional(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _unwrap_optional(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        return members[0] if len(members) == 1 else tp
    return tp


def _params_model(strategy: Any) -> type[BaseModel] | None:
    if not isinstance(strategy, str):
        return None
    try:
        return resolve_strategy(strategy).Params
    except StrategyNotFound:
        return None


def _get(data: Any, loc: tuple[str | int, ...]) -> Any:
    for part in loc:
        if not isinstance(data, Mapping):
            return None
        data = data.get(part, data.get(str(part)))
    return data
