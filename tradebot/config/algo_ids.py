"""Algorithm ids as written in ``config.yaml``: plain decimal integers, each written once.

The ids are the keys of ``algorithms:`` and the items of ``alphahub.algorithms``. An id is
``16`` or ``'16'``: ASCII decimal digits, no sign, no leading zero, at most 12 digits (the
longest id an AlphaHub topic carries, ``alphahub/protocol.py`` ``algo_of``).

They are judged on the text as written, before YAML turns it into a value, because YAML 1.1 (what
PyYAML reads) turns other spellings into a different number than a person means, and the value
cannot tell them apart from a plain one: ``016`` is octal 14, ``0x10`` is 16, ``1_4`` is 14,
``1:30`` is 90 (base 60), ``+16`` is 16, and ``14.0`` is a float pydantic accepts as 14. And the
value cannot see that ``16`` and ``'16'`` are one algorithm written twice: YAML keeps both keys,
pydantic turns both into 16 and the last one silently wins. Here such a duplicate is refused and
both lines are named.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tradebot.config.errors import ConfigIssue
from tradebot.config.locate import line_of, printable_key
from tradebot.config.numbers import MAX_ALGO_ID

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# [0-9], not \d: no other script's digits (int() reads "١٦" as 16)
_DIGITS = len(str(MAX_ALGO_ID))
_DECIMAL = re.compile(rf"[1-9][0-9]{{0,{_DIGITS - 1}}}")
_RULE = "ids are plain decimal integers like 16 (digits only: no sign, no leading zero)"


def algorithm_id(node: Node) -> int | None:
    """The id ``node`` spells (``16`` or ``'16'``), or None when it is not a plain decimal id.

    Only the text counts: whatever its tag (``!!str 16``), text that is a plain decimal number
    is that number.
    """
    if not isinstance(node, ScalarNode) or _DECIMAL.fullmatch(node.value) is None:
        return None
    return int(node.value)


def check_algorithm_ids(root: MappingNode, file: str) -> Iterator[ConfigIssue]:
    """Every wrongly written or repeated id in ``algorithms:`` and ``alphahub.algorithms``."""
    algorithms = _value_of(root, "algorithms")
    if isinstance(algorithms, MappingNode):
        yield from _mapping_ids(algorithms, "algorithms", file, set())
    alphahub = _value_of(root, "alphahub")
    listed = _value_of(alphahub, "algorithms") if isinstance(alphahub, MappingNode) else None
    if isinstance(listed, SequenceNode):
        yield from _list_ids(listed, "alphahub.algorithms", file)


def _mapping_ids(node: MappingNode, path: str, file: str, seen: set[int]) -> Iterator[ConfigIssue]:
    if id(node) in seen:  # an alias of a mapping already read
        return
    seen.add(id(node))
    keys = []
    for key, value in node.value:
        if isinstance(key, ScalarNode) and key.tag == _MERGE_TAG:
            # ``<<: *other``: the merged mapping's keys are ids too; the keys written here
            # override them, as YAML merges do
            for merged in value.value if isinstance(value, SequenceNode) else [value]:
                if isinstance(merged, MappingNode):
                    yield from _mapping_ids(merged, path, file, seen)
        else:
            label = printable_key(key.value) if isinstance(key, ScalarNode) else "?"
            keys.append((key, f"{path}.{label}"))
    yield from _each_once(keys, file)


def _list_ids(node: SequenceNode, path: str, file: str) -> Iterator[ConfigIssue]:
    yield from _each_once([(item, f"{path}[{i}]") for i, item in enumerate(node.value)], file)


def _each_once(written: list[tuple[Node, str]], file: str) -> Iterator[ConfigIssue]:
    """Each id (node, key path) written plainly, and none twice (16 and '16' are one)."""
    first: dict[int, int] = {}  # id -> the line it was first written on
    for node, path in written:
        algo_id = algorithm_id(node)
        if algo_id is None:
            yield _refused(node, path, file)
            continue
        line = line_of(node)
        if algo_id in first:
            yield ConfigIssue(file, line, path, _twice(algo_id, file, first[algo_id], line))
        else:
            first[algo_id] = line


def _refused(node: Node, path: str, file: str) -> ConfigIssue:
    """Why ``node`` is not an algorithm id."""
    why = ""
    if isinstance(node, ScalarNode):
        if node.value == "0":
            why = "ids start at 1; "
        elif re.fullmatch(r"[0-9]+", node.value) and len(node.value) > _DIGITS:
            why = f"more than {_DIGITS} digits; "
        elif (number := _yaml_number(node)) is not None:
            why = f"YAML would read it as {number}; "  # the reason for the rule
    return ConfigIssue(file, line_of(node), path, f"not an algorithm id: {why}{_RULE}")


def _yaml_number(node: ScalarNode) -> int | float | None:
    """The number YAML makes of ``node``; None when it makes none."""
    constructor = SafeConstructor()
    try:
        if node.tag == _INT_TAG:
            return int(constructor.construct_yaml_int(node))
        if node.tag == _FLOAT_TAG:
            return float(constructor.construct_yaml_float(node))
    except ValueError:  # an explicit !!int tag on text that is no number
        pass
    return None


def _twice(algo_id: int, file: str, first: int, again: int) -> str:
    where = f"at {file}:{first} and at {file}:{again}" if first != again else f"at {file}:{again}"
    return (
        f"algorithm {algo_id} is written twice, {where}"
        " (16 and '16' are the same algorithm; YAML would silently keep only the last):"
        " write each algorithm once"
    )


def _value_of(node: Node | None, key: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key and isinstance(v, Node):
            return v
    return None
