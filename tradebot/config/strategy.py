"""Find a sizing strategy class by the name written in ``config.yaml``.

``allocation`` means the one :class:`~tradebot.core.sizing.SizingStrategy` subclass defined in
the module ``strategies.allocation`` (the ``strategies`` package beside ``tradebot``);
``package.module:Class`` names any importable class. Called only while a config is validated,
never while planning: the planner gets the ready instance (``AlgorithmConfig.sizer``).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from functools import lru_cache
from types import ModuleType
from typing import Any, TypeGuard

import strategies
from tradebot.core.sizing import SizingStrategy

#: modules of the strategies package that hold machinery, not strategies
_NOT_STRATEGIES = frozenset({"base"})
_SHORT = re.compile(r"^[a-z_][a-z0-9_]*$")
_QUALIFIED = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

StrategyClass = type[SizingStrategy[Any]]


class StrategyNotFound(ValueError):
    """The name does not lead to a usable strategy class; the message says why."""


def builtin_names() -> tuple[str, ...]:
    """The strategy modules shipped in (or dropped into) the ``strategies`` package."""
    names = (m.name for m in pkgutil.iter_modules(strategies.__path__) if not m.ispkg)
    return tuple(sorted(n for n in names if n not in _NOT_STRATEGIES and not n.startswith("_")))


@lru_cache(maxsize=128)
def resolve_strategy(name: str) -> StrategyClass:
    """The strategy class for ``name``; raises :class:`StrategyNotFound` with a helpful reason."""
    name = name.strip()
    if _QUALIFIED.match(name):
        module_name, _, attr = name.partition(":")
        module = _import(module_name, name)
        found = getattr(module, attr, None)
        if not _is_strategy(found):
            raise StrategyNotFound(f"{name!r}: {module_name} has no SizingStrategy class {attr!r}")
        return found
    if not _SHORT.match(name) or name in _NOT_STRATEGIES:
        raise StrategyNotFound(
            f"{name!r} is not a strategy name: use one of {', '.join(builtin_names())}"
            " or 'package.module:Class'"
        )
    module = _import(f"strategies.{name}", name)
    classes = [
        obj
        for obj in vars(module).values()
        if _is_strategy(obj) and obj.__module__ == module.__name__
    ]
    if len(classes) != 1:
        found_names = ", ".join(sorted(c.__name__ for c in classes)) or "none"
        raise StrategyNotFound(
            f"strategies.{name} must define exactly one SizingStrategy subclass (found: "
            f"{found_names}); name one as 'strategies.{name}:Class'"
        )
    return classes[0]


def _import(module_name: str, name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
            hint = f"built-in strategies: {', '.join(builtin_names())}"
            raise StrategyNotFound(f"unknown strategy {name!r} ({hint})") from None
        raise StrategyNotFound(f"strategy {name!r} failed to import: {exc}") from None
    except Exception as exc:  # a user's module is arbitrary code: report, do not crash the loader
        raise StrategyNotFound(
            f"strategy {name!r} failed to import: {type(exc).__name__}: {exc}"
        ) from None


def _is_strategy(obj: object) -> TypeGuard[StrategyClass]:
    return (
        inspect.isclass(obj)
        and issubclass(obj, SizingStrategy)
        and obj is not SizingStrategy
        and not inspect.isabstract(obj)
    )
