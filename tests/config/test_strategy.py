from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from textwrap import dedent

import pytest

import strategies
from strategies.allocation import Allocation
from strategies.fixed_shares import FixedShares
from tradebot.config.strategy import StrategyNotFound, builtin_names, resolve_strategy

SIZER = """
from decimal import Decimal

from strategies.base import Sizing, SizingStrategy, StrategyParams


class HalfParams(StrategyParams):
    shares: Decimal


class Half(SizingStrategy[HalfParams]):
    Params = HalfParams

    def size(self, leg, ctx):
        return Sizing(self.params.shares / 2, "half")
"""


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh importable package ``usersizers`` in a temporary folder."""
    root = tmp_path / "usersizers"
    root.mkdir()
    (root / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield root
    for name in [m for m in sys.modules if m.startswith("usersizers")]:
        del sys.modules[name]
    resolve_strategy.cache_clear()


def test_built_ins_are_found_by_module_name() -> None:
    assert builtin_names() == ("allocation", "fixed_notional", "fixed_shares", "percent_of_equity")
    assert resolve_strategy("allocation") is Allocation
    assert resolve_strategy(" fixed_shares ") is FixedShares


def test_a_qualified_name_finds_any_importable_class(package: Path) -> None:
    (package / "mine.py").write_text(dedent(SIZER))
    cls = resolve_strategy("usersizers.mine:Half")
    assert cls.__name__ == "Half"
    assert cls.from_params({"shares": 10}).params.shares == 10  # type: ignore[attr-defined]


@pytest.fixture
def drop_in() -> Iterator[Callable[[str], str]]:
    """Write a module into the real strategies/ folder, as a user would; removed afterwards."""
    written: list[Path] = []

    def write(source: str) -> str:
        name = f"_dropped_in_test_{len(written)}"
        path = Path(strategies.__file__).parent / f"{name}.py"
        path.write_text(dedent(source))
        written.append(path)
        importlib.invalidate_caches()
        return name

    yield write
    for path in written:
        path.unlink()
        sys.modules.pop(f"strategies.{path.stem}", None)
    resolve_strategy.cache_clear()


def test_a_module_dropped_into_strategies_is_found_by_its_name(
    drop_in: Callable[[str], str],
) -> None:
    name = drop_in(SIZER)
    cls = resolve_strategy(name)
    assert cls.__name__ == "Half" and cls.__module__ == f"strategies.{name}"
    assert name not in builtin_names()  # private (underscore) modules are not listed


def test_a_module_with_two_strategies_must_name_one(drop_in: Callable[[str], str]) -> None:
    name = drop_in(SIZER + "\n\nclass Other(Half):\n    pass\n")
    with pytest.raises(StrategyNotFound) as info:
        resolve_strategy(name)
    assert "must define exactly one SizingStrategy subclass (found: Half, Other)" in str(info.value)
    assert f"'strategies.{name}:Class'" in str(info.value)
    assert resolve_strategy(f"strategies.{name}:Other").__name__ == "Other"


def test_a_module_without_a_strategy(drop_in: Callable[[str], str]) -> None:
    # importing a strategy class from elsewhere does not make it this module's
    name = drop_in("from strategies.fixed_shares import FixedShares\n")
    with pytest.raises(StrategyNotFound, match=r"\(found: none\)"):
        resolve_strategy(name)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("kelly", "unknown strategy 'kelly' (built-in strategies: allocation, fixed_notional"),
        ("Fixed-Shares", "is not a strategy name"),
        ("base", "is not a strategy name"),
        ("loader", "unknown strategy 'loader'"),  # resolution moved to tradebot.config
        ("nopkg.nomodule:Thing", "unknown strategy 'nopkg.nomodule:Thing'"),
        ("strategies.allocation:Nope", "has no SizingStrategy class 'Nope'"),
        ("strategies.allocation:AllocationParams", "has no SizingStrategy class"),
        ("strategies.base:SizingStrategy", "has no SizingStrategy class"),
    ],
)
def test_bad_names_are_explained(name: str, fragment: str) -> None:
    with pytest.raises(StrategyNotFound) as info:
        resolve_strategy(name)
    assert fragment in str(info.value)


def test_a_module_that_fails_to_import_is_reported_not_raised(package: Path) -> None:
    (package / "broken.py").write_text("import not_a_real_dependency_xyz\n")
    with pytest.raises(StrategyNotFound) as info:
        resolve_strategy("usersizers.broken:Thing")
    assert "failed to import" in str(info.value)
    assert "not_a_real_dependency_xyz" in str(info.value)
    (package / "explodes.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(StrategyNotFound, match="RuntimeError: boom"):
        resolve_strategy("usersizers.explodes:Thing")
