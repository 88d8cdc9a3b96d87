"""Each default is written once, by the config, and each key has one name from YAML to use
(issue 23: ``chase_after`` had three defaults under three names, and they could drift).

- The core's values the planner obeys (the dataclasses reached from
  :class:`~tradebot.core.rules.PlanningRules`) carry no default for anything a key sets:
  ``config/planning.py`` fills every field from the config.
- Every field of those values is named like the key it comes from, and the planner gets the
  model's default when the key is absent and the file's value when it is set: no second copy of a
  default in ``planning.py`` either.

Both walks find their fields and keys by themselves, so a key added tomorrow is held to this
without being listed here.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, fields, is_dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from tradebot.config.model import Config, ExitsConfig
from tradebot.core.rules import AlgorithmRules, PlanningRules

ALGO_ID = 14
#: the least config that plans: one algorithm, its required keys only
MINIMAL: dict[str, Any] = {
    "algorithms": {ALGO_ID: {"strategy": "fixed_shares", "params": {"shares": 1}}}
}

#: core fields that hold a whole section, and the section they come from
SECTIONS: dict[tuple[type, str], tuple[str | int, ...]] = {
    (PlanningRules, "algorithms"): ("algorithms", ALGO_ID),
    (PlanningRules, "account_risk"): ("risk",),
    # effective limits: with nothing under algorithms.ID.risk, the account's (``risk:``)
    (AlgorithmRules, "risk"): ("risk",),
}
#: core fields made from a key rather than copied (checked in tests/config/test_planning.py)
#: the strategy instance built from ``params``; the account's name (its key under ``accounts:``)
DERIVED = {(AlgorithmRules, "sizer"), (PlanningRules, "account")}

#: core types owned by another area this round, with defaults still on (issue 23: the order
#: shape becomes a sum type in core/orders.py). The mark is strict: it fails once they are gone.
OWNED_ELSEWHERE: dict[str, str] = {}  # a value type whose defaults another change removes


def _plain(tp: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` as ``X``."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _core_type(tp: Any) -> type | None:
    """The core dataclass a field holds, directly, optionally or as a mapping's values."""
    tp = _plain(tp)
    if get_origin(tp) is Mapping:
        tp = _plain(get_args(tp)[1])
    if isinstance(tp, type) and is_dataclass(tp) and tp.__module__.startswith("tradebot.core"):
        return tp
    return None


def core_values(root: type = PlanningRules) -> list[type]:
    """The core's dataclasses the planner obeys: ``root`` and every one its fields reach."""
    found = [root]
    for tp in get_type_hints(root).values():
        inner = _core_type(tp)
        if inner is not None and inner not in found:
            found += [c for c in core_values(inner) if c not in found]
    return found


def _models(tp: Any) -> Iterator[type[BaseModel]]:
    tp = _plain(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield tp
    for arg in get_args(tp):
        yield from _models(arg)


def key_names(model: type[BaseModel] = Config) -> set[str]:
    """The name of every key of ``config.yaml``, at any depth (strategy params aside)."""
    names = set(model.model_fields)
    for field in model.model_fields.values():
        for inner in _models(field.annotation):
            names |= key_names(inner)
    return names


KEYS = key_names()


def _has_default(cls: type, name: str) -> bool:
    field = next(f for f in fields(cls) if f.name == name)
    return field.default is not MISSING or field.default_factory is not MISSING


def test_the_walks_reach_the_rule_values_and_the_keys_of_every_section() -> None:
    assert {c.__name__ for c in core_values()} >= {"PlanningRules", "AlgorithmRules", "RiskLimits"}
    assert {"chase_after", "price_collar_pct", "recovery_max_age", "account_id"} <= KEYS
    assert {"heartbeat_interval", "slippage_bps", "port", "take_profit_pct", "events"} <= KEYS


@pytest.mark.parametrize(
    "cls",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=OWNED_ELSEWHERE[c.__name__]))
        if c.__name__ in OWNED_ELSEWHERE
        else c
        for c in core_values()
    ],
    ids=lambda c: c.__name__,
)
def test_the_cores_rule_values_carry_no_default_a_key_sets(cls: type) -> None:
    """A default here would be a second copy of the config's, free to drift from it."""
    doubled = [
        f"{cls.__name__}.{f.name}"
        for f in fields(cls)
        if f.name in KEYS and _has_default(cls, f.name)
    ]
    assert doubled == [], (
        f"{', '.join(doubled)}: a default for a key of config.yaml; write it once, on the key in "
        "tradebot/config, and let config/planning.py fill the field"
    )


@dataclass(frozen=True)
class Planned:
    """One key the planner obeys: where it is in ``config.yaml``, where planning puts it."""

    key: tuple[str | int, ...]
    core: tuple[str | int, ...]

    def __str__(self) -> str:
        return ".".join(map(str, self.key)) + " -> " + ".".join(map(str, self.core))


def _root_key(name: str) -> tuple[str, ...]:
    """A field of :class:`PlanningRules` comes from the one section with a key of its name."""
    sections = [
        section
        for section, field in Config.model_fields.items()
        if any(name in m.model_fields for m in _models(field.annotation))
    ]
    return (sections[0], name) if len(sections) == 1 else (f"<{len(sections)} sections>", name)


def planned(
    cls: type = PlanningRules, key: tuple[str | int, ...] = (), core: tuple[str | int, ...] = ()
) -> Iterator[Planned]:
    hints = get_type_hints(cls)
    for f in fields(cls):
        if (cls, f.name) in DERIVED:
            continue
        inner = _core_type(hints[f.name])
        if (cls, f.name) in SECTIONS and inner is not None:
            here = (*core, f.name) + ((ALGO_ID,) if get_origin(hints[f.name]) is Mapping else ())
            yield from planned(inner, SECTIONS[(cls, f.name)], here)
        else:
            yield Planned((*key, f.name) if key else _root_key(f.name), (*core, f.name))


def field_at(key: tuple[str | int, ...]) -> FieldInfo | None:
    """The model's field for a key path, or ``None`` when the model has no such key."""
    model: Any = Config
    field = None
    for part in key:
        if isinstance(part, int):  # an algorithm id: the mapping's values
            continue
        models = list(_models(field.annotation)) if field is not None else [model]
        field = next((m.model_fields[str(part)] for m in models if part in m.model_fields), None)
        if field is None:
            return None
    return field


PLANNED = list(planned())
#: keys with a default (a required key, like ``strategy``, has none to write twice)
DEFAULTED = [p for p in PLANNED if (f := field_at(p.key)) is not None and not f.is_required()]


def test_every_value_the_planner_gets_is_named_like_its_key() -> None:
    """``account_tag`` for ``broker.account_id`` was a second name; each field has its key's."""
    unnamed = [str(p) for p in PLANNED if field_at(p.key) is None]
    assert unnamed == [], f"core fields named like no key of config.yaml: {unnamed}"
    assert len(DEFAULTED) >= 25  # every risk and algorithm key, twice; the walk found them


def _with(key: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    doc: dict[Any, Any] = {"algorithms": {ALGO_ID: dict(MINIMAL["algorithms"][ALGO_ID])}}
    node = doc
    for part in key[:-1]:
        node = node.setdefault(part, {})
    node[key[-1]] = value
    return doc


def _at(value: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        value = value[part] if isinstance(value, Mapping) else getattr(value, str(part))
    return value


def _as_core(value: Any) -> Any:
    return value.terms() if isinstance(value, ExitsConfig) else value


def _candidates(field: FieldInfo) -> list[Any]:
    """Values to set a key to, other than its default; the first the config accepts is used."""
    tp, default = _plain(field.annotation), field.get_default(call_default_factory=True)
    if tp is bool:
        return [not default]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return [m.value for m in tp if m != default]
    if get_origin(tp) is Literal:
        return [a for a in get_args(tp) if a != default]
    if tp in (int, float, Decimal):
        return [n for n in (1, 2) if n != default]
    if tp is str:
        return ["ACME"]
    if get_origin(tp) is tuple:
        return [["AAPL"]]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [{name: 1} for name in tp.model_fields]
    return []


def _set(key: tuple[str | int, ...]) -> tuple[Any, Config]:
    field = field_at(key)
    assert field is not None
    for value in _candidates(field):
        try:
            return value, Config.model_validate(_with(key, value))
        except ValidationError:
            continue
    raise AssertionError(f"no value to set {key} to: teach _candidates its type")


@pytest.mark.parametrize("planned", DEFAULTED, ids=str)
def test_an_absent_key_reaches_the_planner_as_the_models_default(planned: Planned) -> None:
    """The default the planner obeys is the model's, the one written on the key."""
    field = field_at(planned.key)
    assert field is not None
    rules = Config.model_validate(MINIMAL).planning
    assert _at(rules, planned.core) == _as_core(field.get_default(call_default_factory=True))


@pytest.mark.parametrize("planned", DEFAULTED, ids=str)
def test_a_key_set_in_the_file_reaches_the_planner_as_set(planned: Planned) -> None:
    """The other side: planning copies the key, never a value of its own."""
    field = field_at(planned.key)
    assert field is not None
    value, config = _set(planned.key)
    loaded = _at(config, planned.key)
    assert loaded != field.get_default(call_default_factory=True), value
    assert _at(config.planning, planned.core) == _as_core(loaded), value
