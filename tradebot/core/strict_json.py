"""JSON decoding that remembers what plain ``json.loads`` silently throws away.

``json.loads`` keeps the last of two equal keys: ``{"symbol": "RKA", "symbol": "RKB"}`` becomes
``{"symbol": "RKB"}`` and nobody can tell afterwards. Here every object comes back as a
:class:`JsonObject` (a ``dict``) that also lists, in :attr:`JsonObject.duplicates`, each key that
appeared more than once together with *all* its values in order, so the signal parser can refuse
what cannot be trusted and say why (:mod:`tradebot.core.signal`).

Integers too long for Python's ``int`` conversion limit come back as ``Decimal`` instead of failing
the whole text: a price of ``1`` followed by 5,000 zeros is one bad leg, not an unreadable frame.
Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

__all__ = ["JsonObject", "duplicate_keys", "loads"]

_MAX_INT_DIGITS = 64  # anything longer is no price or id anyway; Decimal has no digit limit


class JsonObject(dict[str, Any]):
    """A decoded JSON object; ``duplicates`` maps each repeated key to every value it had."""

    __slots__ = ("duplicates",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)  # the last value wins, as in json.loads
        self.duplicates: dict[str, list[Any]] = {}
        if len(self) == len(pairs):  # the common case, decided at C speed
            return
        for key, value in pairs:
            self.duplicates.setdefault(key, []).append(value)
        self.duplicates = {k: v for k, v in self.duplicates.items() if len(v) > 1}


def _parse_int(text: str) -> int | Decimal:
    return int(text) if len(text) <= _MAX_INT_DIGITS else Decimal(text)


def loads(text: str | bytes) -> Any:
    """``json.loads`` with :class:`JsonObject` for objects; raises what ``json.loads`` raises."""
    return json.loads(text, object_pairs_hook=JsonObject, parse_int=_parse_int)


def duplicate_keys(value: object) -> Iterator[tuple[str, list[Any]]]:
    """Every ``(key, values)`` repeated anywhere inside ``value`` (objects and lists, depth-first).

    Values not built by :func:`loads` (a plain ``dict``) have no record of duplicates: none.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, JsonObject):
            yield from item.duplicates.items()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
