"""The drawing of the exception tree in ``tradebot.exceptions`` is the real class hierarchy."""

from __future__ import annotations

import inspect
import re

import tradebot.exceptions as exceptions

# "    │   ├── Name ....": the prefix before the branch gives the depth, four characters a level
_BRANCH = re.compile(r"^(?P<indent>[ │]*)(?P<branch>[├└])── (?P<name>\w+)")


def drawn_parents() -> dict[str, str | None]:
    """Each class drawn in the module docstring, with its drawn parent.

    The drawing is checked as it is read: a bar runs down from every branch that has a later
    sibling (``├──``) and from no other, and only a parent's last child is drawn ``└──``.
    """
    doc = inspect.getdoc(exceptions) or ""
    lines = doc.split("::", 1)[1].strip("\n").splitlines()
    root = lines[0].strip()
    parents: dict[str, str | None] = {root: None}
    last_child: dict[str | None, bool] = {}  # was each parent's latest child drawn └──
    path = [root]  # the last class drawn at each depth
    bars: list[bool] = [False]  # at each depth: does a bar run down from the branch there
    for line in lines[1:]:
        if not line.strip():
            break  # the end of the drawing
        match = _BRANCH.match(line.removeprefix("    "))
        if match is None:
            assert re.fullmatch(r"[ │]+\S.*", line), f"neither a branch nor a note: {line!r}"
            continue  # a note continued from the line above
        depth = len(match["indent"]) // 4 + 1
        name = match["name"]
        assert name not in parents, f"{name} drawn twice"
        del path[depth:], bars[depth:]
        expected = "".join("│   " if bar else "    " for bar in bars[1:depth])
        assert match["indent"] == expected, f"the bars before {name} are misdrawn"
        parent = path[depth - 1]
        assert not last_child.get(parent, False), f"{name} drawn after its parent's last child"
        last_child[parent] = match["branch"] == "└"
        parents[name] = parent
        path.append(name)
        bars.append(match["branch"] == "├")
    still_open = [name for name, last in last_child.items() if not last]
    assert not still_open, f"the last child of {still_open} is drawn ├──"
    return parents


def real_parents() -> dict[str, str | None]:
    classes = {
        name: cls
        for name, cls in vars(exceptions).items()
        if inspect.isclass(cls)
        and issubclass(cls, BaseException)
        and cls.__module__ == exceptions.__name__
    }
    root = exceptions.TradebotError
    out: dict[str, str | None] = {}
    for name, cls in classes.items():
        (base,) = cls.__bases__
        out[name] = None if cls is root else base.__name__
    return out


def test_the_drawn_tree_is_the_class_hierarchy() -> None:
    assert drawn_parents() == real_parents()


def test_an_unknown_outcome_is_never_a_transient_error() -> None:
    """Everything that retries transient errors would otherwise send the order again."""
    assert not issubclass(exceptions.OrderOutcomeUnknown, exceptions.TransientError)
    assert drawn_parents()["OrderOutcomeUnknown"] == "TradebotError"
