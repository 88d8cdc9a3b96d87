"""The account part of client order ids: broker.account_id when set, else the broker's number."""

from __future__ import annotations

from tests.core.helpers import ACCOUNT, make_signal, run
from tradebot.config.model import Config
from tradebot.core.ids import client_order_id
from tradebot.core.orders import IntentRole


def _config(account_id: str | None) -> Config:
    algos = {16: {"strategy": "fixed_shares", "params": {"shares": 10}}}
    return Config.model_validate({"broker": {"account_id": account_id}, "algorithms": algos})


def test_the_configured_tag_names_the_orders_whatever_the_broker_reports() -> None:
    signal = make_signal(opens=[("VRTX", "buy", "216.08")])
    (leg,) = signal.legs
    ids = {}
    for tag in ("acct-A", "acct-B", None):
        (intent,) = run(signal, config=_config(tag)).intents
        assert intent.role is IntentRole.OPEN
        ids[tag] = intent.client_order_id
    assert ids["acct-A"] == client_order_id("acct-A", [leg.id], "open")
    assert ids["acct-B"] == client_order_id("acct-B", [leg.id], "open")
    assert ids[None] == client_order_id(ACCOUNT.account_id, [leg.id], "open")  # the broker's
    assert len(set(ids.values())) == 3
    # deterministic: planning the same signal again (a restart) gives the same id
    assert run(signal, config=_config("acct-A")).intents[0].client_order_id == ids["acct-A"]
