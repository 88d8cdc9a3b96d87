"""The contract every sizing strategy fulfils: what it sees (:class:`SizingContext`, a leg) and
what it answers (:class:`Sizing`). Pure.

It lives in the core because the planner calls it: strategies (``strategies/``, or a user's
``package.module:Class``) import it from here, and the config resolves a name to a class
(:mod:`tradebot.config.strategy`), so core, config and strategies never import each other in a
circle (``tests/test_layers.py``).

A strategy turns one open leg into a *raw* quantity: a non-negative ``Decimal`` that may have any
number of decimals. The planner then rounds it (whole shares unless fractional trading is allowed
for the algorithm, the order type and the asset), applies the risk limits, and skips a leg that
ends at zero with the strategy's ``basis`` as the explanation. Strategies never see the broker,
the clock or the journal: everything comes in through :class:`SizingContext`.

The leg a strategy sees is priced at the *reference price* (the broker's market price, checked
against the signal's own by the price collar before sizing), so a strategy that divides dollars
by ``leg.price`` can never be fooled by a garbled signal price.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

from pydantic import BaseModel, ConfigDict

from tradebot.core.account import AccountSnapshot
from tradebot.core.signal import Leg


class StrategyParams(BaseModel):
    """Base for a strategy's ``params``: frozen, unknown keys rejected, numbers finite."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


P = TypeVar("P", bound=StrategyParams)


@dataclass(frozen=True, slots=True)
class SizingContext:
    """What a strategy may look at besides the leg."""

    account: AccountSnapshot
    #: this algorithm's positions (symbol -> signed quantity, non-zero only) as they will be
    #: when the leg's order goes out: the signal's closes and earlier opens already applied.
    holdings: Mapping[str, Decimal]


@dataclass(frozen=True, slots=True)
class Sizing:
    """A strategy's answer: the raw quantity and how it was reached (shown in plans, journaled)."""

    qty: Decimal
    basis: str


class SizingStrategy(ABC, Generic[P]):
    """Subclass this, set ``Params`` to a :class:`StrategyParams` model, implement :meth:`size`.

    Instances are made once, when the config is loaded, from validated params, and must be
    immutable and pure: the same leg and context always give the same :class:`Sizing`.
    """

    Params: ClassVar[type[StrategyParams]] = StrategyParams

    __slots__ = ("params",)

    def __init__(self, params: P) -> None:
        self.params = params

    @classmethod
    def from_params(cls, raw: Mapping[str, Any]) -> Self:
        """Validate ``raw`` against :attr:`Params`; raises ``pydantic.ValidationError``."""
        return cls(cast(P, cls.Params.model_validate(raw)))

    @abstractmethod
    def size(self, leg: Leg, ctx: SizingContext) -> Sizing:
        """The raw (unrounded, non-negative) quantity for an open ``leg``."""

    def __eq__(self, other: object) -> bool:
        """Strategies are values: the same class with the same params is the same strategy."""
        return type(other) is type(self) and other.params == self.params

    def __hash__(self) -> int:
        return hash((type(self), self.params))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"
