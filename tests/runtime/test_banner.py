"""The start-up banner: the account and its order id tag, the allocation warning, and where
the bot listens, never what it logs in with."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import SecretStr

from tradebot.config.model import Config, Mode
from tradebot.core.account import AccountSnapshot
from tradebot.masking import register
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


def test_the_banner_masks_url_credentials_tokens_and_registered_secrets() -> None:
    register("REGISTERED-banner-password")
    config = Config.model_validate(
        {
            "alphahub": {
                "url": "http://hubuser:URLPW-banner-1@127.0.0.1:4000/?token=TOKEN-banner-1",
                "password": SecretStr("REGISTERED-banner-password"),
            },
            "algorithms": {
                16: {
                    "name": "said REGISTERED-banner-password",
                    "strategy": "fixed_shares",
                    "params": {"shares": 10},
                }
            },
        }
    )
    account = AccountSnapshot("PA1", Decimal(100000), Decimal(200000), Decimal(100000))
    text = banner(config, Mode.PAPER, "alpaca", account, Path("journal/j.sqlite"), None)
    assert "AlphaHub http://***@127.0.0.1:4000/?token=***" in text
    assert "URLPW-banner-1" not in text and "TOKEN-banner-1" not in text
    assert "REGISTERED-banner-password" not in text
    assert "PAPER trading" in text and "fixed_shares(shares=10)" in text
