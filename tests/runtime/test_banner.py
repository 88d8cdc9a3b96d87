"""The start-up banner shows where the bot listens, never what it logs in with."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import SecretStr

from tradebot.config.model import Config, Mode
from tradebot.core.account import AccountSnapshot
from tradebot.masking import register
from tradebot.runtime.banner import banner


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
