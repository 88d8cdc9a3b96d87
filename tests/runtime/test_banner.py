"""The start-up banner: the account and its order id tag, and the allocation warning."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tradebot.config.model import Config, Mode
from tradebot.core.account import AccountSnapshot
from tradebot.runtime.banner import banner

ACCOUNT = AccountSnapshot("PA1", Decimal(100000), Decimal(100000), Decimal(100000))


def _config(account_id: str | None = None, pcts: tuple[int, ...] = (20,)) -> Config:
    algos = {
        14 + i: {"strategy": "allocation", "params": {"pct": pct, "max_positions": 1}}
        for i, pct in enumerate(pcts)
    }
    return Config.model_validate({"broker": {"account_id": account_id}, "algorithms": algos})


def _banner(config: Config, tmp_path: Path) -> str:
    return banner(config, Mode.PAPER, "alpaca", ACCOUNT, tmp_path / "j.sqlite", None)


def test_the_account_tag_is_shown_beside_the_broker_account(tmp_path: Path) -> None:
    text = _banner(_config("acct-B"), tmp_path)
    assert "  broker   alpaca, account PA1 (order ids tagged acct-B): equity 100,000.00" in text
    plain = _banner(_config(), tmp_path)
    assert "  broker   alpaca, account PA1: equity 100,000.00" in plain


def test_allocations_over_all_equity_are_warned_about(tmp_path: Path) -> None:
    text = _banner(_config(pcts=(80, 30)), tmp_path)
    assert "  WARNING  allocations add up to 110% of equity (14: 80%, 15: 30%)" in text
    assert "WARNING" not in _banner(_config(pcts=(70, 30)), tmp_path)
