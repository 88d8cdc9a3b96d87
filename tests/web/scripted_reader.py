"""A broker's read-only side for the snapshot tests, answering what the test scripts: each
answer a value, or an exception the call raises."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from tradebot.core.account import AccountSnapshot
from tradebot.core.market import MarketPrices

ACCOUNT = AccountSnapshot(
    account_id="PA0000SCRIPT",
    equity=Decimal("100000"),
    buying_power=Decimal("100000"),
    cash=Decimal("100000"),
    last_equity=Decimal("100000"),
)


@dataclass
class ScriptedReader:
    """``positions`` answers pop from the front (the last one stays); ``account`` and
    ``prices`` are answered as they stand when asked."""

    positions_answers: list[Mapping[str, Decimal] | Exception] = field(default_factory=list)
    account_answer: AccountSnapshot | Exception = ACCOUNT
    prices: dict[str, Decimal] = field(default_factory=dict)
    prices_error: Exception | None = None
    asked_prices: list[tuple[str, ...]] = field(default_factory=list)

    async def positions(self) -> Mapping[str, Decimal]:
        answer = (
            self.positions_answers.pop(0)
            if len(self.positions_answers) > 1
            else self.positions_answers[0]
        )
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)

    async def account(self) -> AccountSnapshot:
        if isinstance(self.account_answer, Exception):
            raise self.account_answer
        return self.account_answer

    async def reference_prices(self, symbols: Sequence[str]) -> MarketPrices:
        self.asked_prices.append(tuple(symbols))
        if self.prices_error is not None:
            raise self.prices_error
        found = {s: self.prices[s] for s in symbols if s in self.prices}
        return MarketPrices(found)
