"""Who may import whom: the pure core imports no other layer, and nothing imports in a circle.

Read from the source with :mod:`ast` (nothing is imported), so a new import that breaks the
layering fails here, naming the modules, before it can surface as an ImportError at start-up or
as a core that quietly depends on the config file's shape.

- ``tradebot.core`` (the planner and its values) imports only itself, the exception tree and the
  shared market model, even lazily or for type checking: the config depends on the core, never
  the reverse.
- ``strategies`` (sizing rules a user may add to) imports only the core and itself.
- ``tradebot.journal`` imports nothing of ``tradebot.broker``, even lazily or for type checking:
  what it records of a broker's answer (``OrderSnapshot``, ``OrderStatus``) are core values.
- ``tradebot.simulators`` (the local Alpaca server and the AlphaHub simulator, the oracles the
  bot is tested against) import only themselves, the shared market model
  (``tradebot.market_model``) and generic utilities (``tradebot.clock``, ``tradebot.masking``),
  which import nothing of tradebot; ``tradebot.market_model`` imports only itself. So the bot's
  own code can never decide what the markets it is tested against do.
- At import time (module level, outside ``if TYPE_CHECKING``), no module and no package imports
  itself in a circle. A lazy import inside a function is allowed to point back (``tradebot demo``
  runs the CLI it is part of); a top-level one is not.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tradebot", "strategies")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (or package)
    top_level: bool  # runs when the module is imported (not in a function, not type-only)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {
        module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _deferred(node: ast.AST) -> bool:
    """Code that does not run when its module is imported: a function body, a type-only block."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        return True
    return isinstance(node, ast.If) and _is_type_checking(node)


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, known: Mapping[str, Path]
) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: resolved against the importing module's package
        package = module if known[module].name == "__init__.py" else module.rpartition(".")[0]
        base = importlib.util.resolve_name("." * node.level + base, package)
    # ``from package import module`` imports the module; ``from module import name``, the module
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]


def imports(known: Mapping[str, Path]) -> Iterator[Import]:
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))

        def walk(node: ast.AST, top_level: bool, module: str = module) -> Iterator[Import]:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.Import | ast.ImportFrom):
                    for target in _targets(child, module, known):
                        if target.split(".")[0] in PACKAGES:
                            yield Import(module, target, top_level)
                elif _deferred(child):
                    yield from walk(child, False)
                else:
                    yield from walk(child, top_level)

        yield from walk(tree, True)


def package_of(module: str) -> str:
    """``tradebot.core.planner`` -> ``tradebot.core``; ``strategies.base`` -> ``strategies``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "tradebot" and len(parts) > 1 else parts[0]


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One cycle in ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


ALL = list(imports(modules()))


@pytest.mark.parametrize(
    ("layer", "allowed"),
    [
        # the planner and its values: the config depends on the core, never the reverse
        ("tradebot.core", ("tradebot.core", "tradebot.exceptions", "tradebot.market_model")),
        # sizing rules: they see a leg and an account, nothing of config or I/O
        ("strategies", ("strategies", "tradebot.core")),
    ],
)
def test_a_layer_imports_only_what_it_may(layer: str, allowed: tuple[str, ...]) -> None:
    bad = sorted(
        f"{i.module} imports {i.target}"
        for i in ALL
        if package_of(i.module) == layer and package_of(i.target) not in allowed
    )
    assert bad == []


def test_the_journal_does_not_import_the_broker() -> None:
    """The journal stores what a broker answered, as core values; a broker import would tie the
    record of every order to the code that talks to one broker (issue 23)."""
    bad = sorted(
        f"{i.module} imports {i.target}"
        for i in ALL
        if package_of(i.module) == "tradebot.journal" and package_of(i.target) == "tradebot.broker"
    )
    assert bad == []


def test_no_package_imports_itself_in_a_circle() -> None:
    graph: dict[str, set[str]] = {}
    for i in ALL:
        source, target = package_of(i.module), package_of(i.target)
        if i.top_level and source != target:
            graph.setdefault(source, set()).add(target)
    assert find_cycle(graph) is None


def test_no_module_imports_itself_in_a_circle() -> None:
    known = modules()
    graph: dict[str, set[str]] = {}
    for i in ALL:
        if i.top_level and i.target in known and i.target != i.module:
            graph.setdefault(i.module, set()).add(i.target)
    assert find_cycle(graph) is None


def test_a_cycle_is_found_where_there_is_one() -> None:
    """The checker itself: the circle this test file exists for, and a clean graph."""
    circle = {"tradebot.core": {"tradebot.config"}, "tradebot.config": {"strategies"}}
    circle["strategies"] = {"tradebot.core"}
    assert find_cycle(circle) == ["strategies", "tradebot.core", "tradebot.config", "strategies"]
    assert (
        find_cycle({"tradebot.config": {"tradebot.core"}, "strategies": {"tradebot.core"}}) is None
    )


#: what the simulators may import besides themselves: the shared market rules, and utilities
#: that know nothing of the bot (see test_generic_utilities_import_nothing_of_tradebot)
SIMULATORS_MAY_IMPORT = ("tradebot.market_model", "tradebot.clock", "tradebot.masking")


def _offending(layer: str, allowed: tuple[str, ...]) -> list[str]:
    """Every import of a module under ``layer`` that reaches outside it and ``allowed``."""
    return sorted(
        f"{i.module} imports {i.target}"
        for i in ALL
        if (i.module == layer or i.module.startswith(layer + "."))
        and not any(i.target == ok or i.target.startswith(ok + ".") for ok in (layer, *allowed))
    )


def test_the_simulators_import_only_the_market_model_and_generic_utilities() -> None:
    assert _offending("tradebot.simulators", SIMULATORS_MAY_IMPORT) == []


def test_the_market_model_imports_nothing_of_the_bot() -> None:
    assert _offending("tradebot.market_model", ()) == []


def test_generic_utilities_import_nothing_of_tradebot() -> None:
    for utility in SIMULATORS_MAY_IMPORT[1:]:
        assert _offending(utility, ()) == [], utility


def test_an_offending_import_is_named() -> None:
    """The checker itself: a simulator importing the bot's core is caught, and named."""
    found = [i for i in ALL if i.module.startswith("tradebot.simulators.")]
    assert found, "the simulators import each other: the rule sees them"
    assert _offending("tradebot.simulators", ()) != []  # they do import the market model
    assert "tradebot.simulators.alpaca.prices imports tradebot.market_model.prices" in (
        _offending("tradebot.simulators", ())
    )
