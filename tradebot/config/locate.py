"""Where a key path is in a YAML document: from pydantic ``loc`` tuples to file lines.

The config is composed with :func:`yaml.compose`-style node trees, which keep the line of every
key and value; these helpers walk them. Lines are 1-based, as editors show them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_INT_TAG = "tag:yaml.org,2002:int"

Loc = Sequence[str | int]


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def key_matches(key: Node, part: str | int) -> bool:
    """Whether a mapping key node is the key ``part`` (ints compare by value: ``014`` is 12)."""
    if not isinstance(key, ScalarNode):
        return False
    if key.value == str(part):
        return True
    if isinstance(part, int) and key.tag == _INT_TAG:
        try:
            return bool(yaml.constructor.SafeConstructor().construct_yaml_int(key) == part)
        except ValueError:
            return False
    return False


def render_path(loc: Loc, sequence_at: frozenset[int] = frozenset()) -> str:
    """``algorithms.14.params.pct`` / ``risk.deny_symbols[2]``; ``(top level)`` for the root."""
    text = ""
    for i, part in enumerate(loc):
        if i in sequence_at:
            text += f"[{part}]"
        else:
            text += f".{printable_key(part)}" if text else printable_key(part)
    return text or "(top level)"


def printable_key(part: str | int) -> str:
    """A key as text on one line: a key written with a line break or a control character
    (``"a\rb":``) is shown escaped, so an error stays one ``FILE:LINE: path: message`` line."""
    text = str(part)
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def locate(root: Node | None, loc: Loc) -> tuple[int | None, str]:
    """The line of the deepest node of ``loc`` that exists, and the rendered key path.

    A mapping entry is placed at its key's line; a sequence item at its own line. A path that
    goes further than the document (a missing key) is placed at its deepest existing parent.
    """
    parts = [p for p in loc if p != "[key]"]
    line = line_of(root) if root is not None else None
    node = root
    sequence_at: set[int] = set()
    for i, part in enumerate(parts):
        if isinstance(node, MappingNode):
            entry = next(((k, v) for k, v in node.value if key_matches(k, part)), None)
            if entry is None:
                break
            line, node = line_of(entry[0]), entry[1]
        elif isinstance(node, SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            sequence_at.add(i)
            node = node.value[part]
            line = line_of(node)
        else:
            break
    return line, render_path(parts, frozenset(sequence_at))


@dataclass
class _Frame:
    is_map: bool
    key: str | None = None
    in_value: bool = False
    index: int = -1


@dataclass
class _PathTracker:
    """Follows parser events to know the key path being read when a syntax error strikes."""

    frames: list[_Frame] = field(default_factory=list)

    def node_starts(self, label: str | None) -> None:
        if not self.frames:
            return
        top = self.frames[-1]
        if not top.is_map:
            top.index += 1
        elif not top.in_value:
            top.key, top.in_value = label if label is not None else "?", True
        else:
            top.in_value = False  # a scalar value: complete at once

    def collection_ends(self) -> None:
        self.frames.pop()
        if self.frames and self.frames[-1].is_map:
            self.frames[-1].in_value = False

    def path(self) -> str:
        parts: list[str | int] = []
        sequence_at: set[int] = set()
        for frame in self.frames:
            if frame.is_map and frame.key is not None:
                parts.append(frame.key)
            elif not frame.is_map and frame.index >= 0:
                sequence_at.add(len(parts))
                parts.append(frame.index)
        return render_path(parts, frozenset(sequence_at))


def path_at_syntax_error(text: str) -> str:
    """The key path the parser had reached when it failed on ``text``."""
    tracker = _PathTracker()
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                top = tracker.frames[-1] if tracker.frames else None
                # a mapping's value stays "in value" until the collection ends
                if top is not None and not (top.is_map and top.in_value):
                    tracker.node_starts(None)
                tracker.frames.append(_Frame(is_map=isinstance(event, yaml.MappingStartEvent)))
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                tracker.collection_ends()
            elif isinstance(event, yaml.ScalarEvent):
                tracker.node_starts(event.value)
            elif isinstance(event, yaml.AliasEvent):
                tracker.node_starts(None)
    except yaml.YAMLError:
        pass
    return tracker.path()
