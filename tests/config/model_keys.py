"""Every leaf key of the config model, found by walking it, and a config file that sets one.

Tests that must hold for *every* number key or *every* choice key take their cases from here, so a
key added to the model (or a strategy's params) is covered without anyone listing it.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

from tradebot.config.model import AccountConfig, AccountName, AlgorithmConfig, Config
from tradebot.config.numbers import AlgorithmId
from tradebot.config.strategy import builtin_names, resolve_strategy

#: what a test puts where a value goes; replaced by the raw YAML text of the value
PLACEHOLDER = "PLACEHOLDER_VALUE"
#: the key that stands for any key of a mapping: an algorithm id, a symbol, an account
ALGO_ID, SYMBOL, ACCOUNT = 14, "AAPL", "main"
#: an account's keys that are the top level's models (walked there): only its own are walked
ACCOUNT_SECTIONS = ("broker", "algorithms", "risk")


@dataclass(frozen=True)
class Key:
    """One leaf key: where it is and the type it holds (``Optional`` and metadata removed)."""

    path: tuple[str | int, ...]
    type: Any
    strategy: str | None = None  # under params: the strategy whose params these are
    #: positions in ``path`` that index a list (rendered ``[0]``)
    list_at: frozenset[int] = frozenset()

    @property
    def dotted(self) -> str:
        """The key path as the loader's messages print it: ``notify[0].events[0]``."""
        text = ""
        for i, part in enumerate(self.path):
            text += f"[{part}]" if i in self.list_at else (f".{part}" if text else str(part))
        return text

    def document(self, raw: str, base: dict[str, Any] | None = None) -> tuple[str, int]:
        """A config file with this key set to the YAML text ``raw``, and that key's line."""
        doc: dict[str, Any] = {
            "algorithms": {ALGO_ID: {"strategy": "fixed_shares", "params": {"shares": 1}}}
        }
        doc.update(base or {})
        if self.strategy is not None:
            params = resolve_strategy(self.strategy).Params.model_fields
            doc["algorithms"][ALGO_ID] = {
                "strategy": self.strategy,
                "params": dict.fromkeys(params, 1),
            }
        if self.path[0] == "notify":
            doc["notify"] = [{"url": "json://127.0.0.1:9/alerts", "events": ["error"]}]
        if self.path[0] == "accounts":  # the document's account keys are the account's
            account = {k: doc.pop(k) for k in list(doc) if k in AccountConfig.model_fields}
            doc["accounts"] = {ACCOUNT: account}
        _set(doc, self, PLACEHOLDER)
        text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
        line = next(n for n, row in enumerate(text.splitlines(), 1) if PLACEHOLDER in row)
        return text.replace(PLACEHOLDER, raw), line


def leaf_keys() -> list[Key]:
    """Every leaf key of ``config.yaml``, built-in strategies' params included."""
    return list(_walk(Config, ()))


def section_models() -> set[type[BaseModel]]:
    """Every model the walk of :func:`leaf_keys` descends into, ``Config`` included."""
    walked: set[type[BaseModel]] = set()
    for _ in _walk(Config, (), walked=walked):
        pass
    return walked


def is_number(tp: Any) -> bool:
    return tp in (int, float, Decimal)


def is_choice(tp: Any) -> bool:
    """An enum or a ``Literal``: a key with a fixed set of values."""
    return get_origin(tp) is Literal or (isinstance(tp, type) and issubclass(tp, enum.Enum))


def _walk(
    model: type[BaseModel],
    path: tuple[str | int, ...],
    lists: frozenset[int] = frozenset(),
    walked: set[type[BaseModel]] | None = None,
) -> Iterator[Key]:
    if walked is not None:
        walked.add(model)
    for name, field in model.model_fields.items():
        here = (*path, name)
        if model is AccountConfig and name in ACCOUNT_SECTIONS:
            continue
        if model is AlgorithmConfig and name == "params":
            for strategy in builtin_names():
                params = resolve_strategy(strategy).Params
                for key in _walk(params, here, lists):
                    yield Key(key.path, key.type, strategy, key.list_at)
            continue
        yield from _leaves(field.annotation, here, lists, walked)


def _leaves(
    tp: Any,
    path: tuple[str | int, ...],
    lists: frozenset[int],
    walked: set[type[BaseModel]] | None = None,
) -> Iterator[Key]:
    if tp is AlgorithmId:
        return  # written as ids, not numbers: tests/config/test_algo_ids.py
    tp = _plain(tp)
    origin = get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield from _walk(tp, path, lists, walked)
    elif origin is dict:
        key_type, value_type = get_args(tp)
        key = ALGO_ID if key_type is AlgorithmId else ACCOUNT if key_type is AccountName else SYMBOL
        yield from _leaves(value_type, (*path, key), lists, walked)
    elif origin in (tuple, list):
        yield from _leaves(get_args(tp)[0], (*path, 0), lists | {len(path)}, walked)
    else:
        yield Key(path, tp, list_at=lists)


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


def _set(doc: Any, key: Key, value: Any) -> None:
    node = doc
    for i, part in enumerate(key.path[:-1]):
        if isinstance(node, list):
            assert isinstance(part, int)
            node.extend({} for _ in range(part + 1 - len(node)))
            node = node[part]
        else:
            node = node.setdefault(part, [] if i + 1 in key.list_at else {})
    last = key.path[-1]
    if isinstance(node, list):
        assert isinstance(last, int)
        node.extend(None for _ in range(last + 1 - len(node)))
    node[last] = value
