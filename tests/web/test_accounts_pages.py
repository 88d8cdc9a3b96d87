"""The dashboard's figures per account (issue 22), over a journal of two accounts written
through the journal's real writers (tests/cli/two_accounts.py: ``main`` and ``family`` both
hold AAPL of algorithm 16, each realising against its own cost; the family's MSFT order of
algorithm 17 was rejected), on SQLite and on a real PostgreSQL, served on loopback.

With an account picked, Positions (beside that account's own broker snapshot), Performance
(latency too) and the Now page's counts are its figures alone; with none picked, each account
apart, never added together; the Tracking page tracks the account picked, none without one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli import two_accounts
from tests.execution.fixed_planner import make_signal
from tests.web.scripted_reader import ScriptedReader
from tests.web.test_broker_snapshot import dashboard, get
from tradebot.config.model import Config
from tradebot.core.ids import exit_id
from tradebot.core.order_shape import Stop
from tradebot.core.orders import IntentRole, OrderIntent, Plan, TimeInForce
from tradebot.core.signal import Leg, Side, Signal
from tradebot.journal import open_journal
from tradebot.journal.interface import Journal
from tradebot.tracking.track import track
from tradebot.web.accounts import shown
from tradebot.web.serve import DashboardHandle
from tradebot.web.snapshot import BrokerSnapshots
from tradebot.web.sources import Sources

D = Decimal
DEADLINE = 20  # a generous bound on waits for events, never a measure of speed
#: what each account's broker holds: main as its journal (20), family 3 more than its (6)
BROKER_HOLDS = {"main": D(20), "family": D(9)}
LAST = D("105")  # AAPL's last price at both brokers


def decide(journal: Journal, signal: Signal, plans: dict[str, Plan]) -> None:
    """The signal journaled once (shared), then each account's plan of it."""
    signal_id = None
    for account, plan in plans.items():
        if signal_id is None:
            signal_id, _ = journal.record_signal_and_plan(signal, plan, account=account)
        else:
            journal.record_plan(signal_id, plan, account=account)


def stop_loss(entry: OrderIntent, leg: Leg, qty: str) -> OrderIntent:
    """A stop-loss at 95 for ``entry``'s position, live at the broker (no outcome yet)."""
    return OrderIntent(
        client_order_id=exit_id(entry.client_order_id, "sl"),
        algo_id=entry.algo_id,
        symbol=entry.symbol,
        side=Side.SELL,
        qty=Decimal(qty),
        price=Stop(Decimal(95)),
        time_in_force=TimeInForce.GTC,
        role=IntentRole.EXIT,
        leg_ids=(leg.id,),
        reference_price=Decimal(100),
    )


def write_today(at: str | Path) -> None:
    """tests/cli/two_accounts.py's trades, signalled now (the Now page counts today's rows):
    both accounts follow 16 into AAPL and out; only the family is given 17's MSFT signal, and
    its broker rejects the order."""
    now = datetime.now(UTC)
    opening = make_signal(16, opens=(("AAPL", "buy", "100"),), received_at=now, leg_time=now)
    closing = make_signal(16, closes=(("AAPL", "sell", "110"),), received_at=now, leg_time=now)
    msft = make_signal(17, opens=(("MSFT", "buy", "400"),), received_at=now, leg_time=now)
    trades = two_accounts.TRADES
    with open_journal(at) as journal:
        for signal, (qty, price) in ((opening, (0, 1)), (closing, (2, 3))):
            (leg,) = (*signal.close_legs, *signal.open_legs)
            orders = {a: two_accounts.intent(leg, trades[a][qty], a) for a in trades}
            decide(journal, signal, {a: Plan((o,)) for a, o in orders.items()})
            for a, order in orders.items():
                filled = two_accounts.fill(order, trades[a][price], now)
                journal.record_event(filled, account=a)
            if signal is opening:  # main protects its AAPL with a stop-loss; family does not
                stop = stop_loss(orders["main"], leg, "20")
                journal.record_plan(None, Plan(intents=(stop,)), account="main")
        (leg,) = msft.open_legs
        rejected = two_accounts.intent(leg, "5", "family")
        decide(journal, msft, {"family": Plan((rejected,))})
        journal.record_rejected(rejected.client_order_id, "insufficient buying power")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def journal(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The two accounts' journal on each backend, written by the journal's writers."""
    return two_accounts.on_backend(request, tmp_path_factory, write_today)


def two_accounts_config() -> Config:
    return Config.model_validate(yaml.safe_load(two_accounts.config_text()))


def sources(journal: str, tmp_path: Path, config: Config | None) -> Sources:
    """The dashboard's sources over ``journal``: each account's broker a scripted snapshot."""
    brokers = {
        name: BrokerSnapshots(
            ScriptedReader(positions_answers=[{"AAPL": held}], prices={"AAPL": LAST}),
            f"scripted-{name}",
            every=0.05,
        )
        for name, held in BROKER_HOLDS.items()
    }
    return Sources(
        journal_path=Path(journal) if "://" not in journal else tmp_path / "unused.sqlite",
        config=config,
        kill_switch_path=tmp_path / "tradebot.halt",
        brokers=brokers,
        opener=lambda: open_journal(journal, readonly=True),
    )


@pytest.fixture
async def dash(journal: str, tmp_path: Path) -> AsyncIterator[DashboardHandle]:
    """The dashboard of the two accounts' config, each broker snapshot refreshed once."""
    served = sources(journal, tmp_path, two_accounts_config())
    async with dashboard(served) as handle:
        async with asyncio.timeout(DEADLINE):
            for snapshots in served.brokers.values():
                await snapshots.wait_refreshed(1)
        yield handle


async def json_of(handle: DashboardHandle, path: str) -> Any:
    response = await get(f"{handle.url}{path}")
    assert response.status_code == 200, response.text
    return response.json()


def positions(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (r.get("account"), r["algo"], r["symbol"], r["qty"], r.get("broker"), r.get("drift"))
        for r in rows
    ]


def exits(rows: list[dict[str, Any]]) -> dict[tuple[Any, str], str]:
    """Each algorithm's row's live exits ("" for none), by (account, algorithm)."""
    return {(r.get("account"), r["algo"]): r["exits"] for r in rows if r["algo"] != "NET"}


# -- Positions ------------------------------------------------------------------------------------


async def test_a_picked_accounts_positions_are_its_own_beside_its_own_broker(
    dash: DashboardHandle,
) -> None:
    family = await json_of(dash, "api/positions?account=family")
    # its 6 (bought 10, sold 4), never 26 (both accounts'), beside its broker's 9: drift 3
    assert positions(family["rows"]) == [
        (None, "16", "AAPL", "6", None, None),
        (None, "NET", "AAPL", "6", "9", "3"),
    ]
    assert exits(family["rows"]) == {(None, "16"): ""}  # main's stop-loss is not its
    assert family["with_broker"] is True and "scripted-family" in family["broker_note"]
    # valued at its own average cost (101): 6 x (105 - 101)
    assert [(t["algo"], t["unrealised"]) for t in family["totals"]] == [
        ("16", "+24.00"),
        ("ALL", "+24.00"),
    ]
    main = await json_of(dash, "api/positions?account=main")
    assert positions(main["rows"]) == [
        (None, "16", "AAPL", "20", None, None),
        (None, "NET", "AAPL", "20", "20", ""),
    ]
    assert exits(main["rows"]) == {(None, "16"): "sell 20: stop-loss 95"}
    assert "scripted-main" in main["broker_note"]
    page = await get(f"{dash.url}positions?account=family")
    assert "(account family)" in page.text and 'id="every-account"' not in page.text
    assert "summaries are not kept per account" not in page.text


async def test_without_a_pick_each_accounts_positions_are_apart(dash: DashboardHandle) -> None:
    every = await json_of(dash, "api/positions")
    # in the config's order (main, then family), each NET beside its own broker's
    assert positions(every["rows"]) == [
        ("main", "16", "AAPL", "20", None, None),
        ("main", "NET", "AAPL", "20", "20", ""),
        ("family", "16", "AAPL", "6", None, None),
        ("family", "NET", "AAPL", "6", "9", "3"),
    ]
    assert [(t["account"], t["algo"], t["unrealised"]) for t in every["totals"]] == [
        ("main", "16", "+100.00"),
        ("main", "ALL", "+100.00"),
        ("family", "16", "+24.00"),
        ("family", "ALL", "+24.00"),
    ]
    assert [b["account"] for b in every["brokers"]] == ["main", "family"]
    assert exits(every["rows"]) == {("main", "16"): "sell 20: stop-loss 95", ("family", "16"): ""}
    page = (await get(f"{dash.url}positions")).text
    assert "<th>account</th><th>algo</th>" in page
    # the picker's link, its broker's line, its two rows and its two totals
    assert page.count('data-account="family"') == 6
    assert "account main: broker positions as of" in page


# -- Performance ----------------------------------------------------------------------------------


REPORTED = ("signals", "orders", "fills", "rejections", "realised_pnl")


def figures(view: Mapping[str, Any]) -> dict[str, Any]:
    """What a Performance view says of each algorithm, symbol and day, and its latency."""
    return {
        "report": {r["algo_id"]: tuple(r[k] for k in REPORTED) for r in view["report"]},
        "unrealised": {r["algo_id"]: r["unrealised_pnl"] for r in view["report"]},
        "symbols": {s["symbol"]: s["realised"] for s in view["symbols"]},
        "days": [d["realised"] for d in view["days"]],
        "execution": [(r["algo_id"], r["style"], r["legs"]) for r in view["execution"]],
        "latency": sorted(
            (r["algo_id"], r["n"]) for r in view["latency"] if r["interval"] == "signal_to_order"
        ),
        "chart_end": None if view["chart"] is None else view["chart"]["data"][-1][-1],
    }


#: each account's figures, as ``tradebot report --account NAME`` shows them
FAMILY = {
    "report": {16: (2, 2, 2, 0, "-44"), 17: (1, 1, 0, 1, "0")},
    "unrealised": {16: "+24.00", 17: "0.00"},
    "symbols": {"AAPL": "-44.00"},
    "days": ["-44.00"],
    "execution": [(16, "market", 2), (17, "market", 1)],
    "latency": [(16, 2), (17, 1)],
    "chart_end": pytest.approx(-44),
}
MAIN = {
    "report": {16: (2, 3, 2, 0, "100")},  # its orders: the buy, the sell, the stop-loss
    "unrealised": {16: "+100.00"},
    "symbols": {"AAPL": "+100.00"},
    "days": ["+100.00"],
    "execution": [(16, "market", 2), (16, "exit stop", 1)],
    "latency": [(16, 2)],
    "chart_end": pytest.approx(100),
}


async def test_a_picked_accounts_performance_is_its_own(dash: DashboardHandle) -> None:
    assert figures(await json_of(dash, "api/performance?account=family")) == FAMILY
    assert figures(await json_of(dash, "api/performance?account=main")) == MAIN
    page = (await get(f"{dash.url}performance?account=main")).text
    assert "(account main)" in page and 'id="every-account"' not in page
    # its chart is drawn from its own figures, never every account's
    assert 'data-chart="api/performance?account=main"' in page
    assert 'id="latency"' in page and 'id="latency-main"' not in page


async def test_without_a_pick_each_accounts_performance_is_a_section_of_its_own(
    dash: DashboardHandle,
) -> None:
    every = await json_of(dash, "api/performance")
    assert sorted(every) == ["accounts"]  # keyed by account, never one added-up report
    assert {a: figures(v) for a, v in every["accounts"].items()} == {
        "family": FAMILY,
        "main": MAIN,
    }
    page = (await get(f"{dash.url}performance")).text
    assert page.index('data-account="main"') < page.index('data-account="family"')
    for name in ("family", "main"):
        assert f'<section class="account-figures" data-account="{name}">' in page
        assert f'id="latency-{name}"' in page and f'id="per-day-{name}"' in page
        assert f'data-chart="api/performance?account={name}"' in page
        assert f"Account {name}: Per algorithm" in page
    assert 'id="latency"' not in page  # no unnamed (added-up) table


# -- Now ------------------------------------------------------------------------------------------


async def test_the_now_pages_counts_are_the_picked_accounts(dash: DashboardHandle) -> None:
    def counted(view: Mapping[str, Any]) -> tuple[int, ...]:
        today = view["today"]
        return tuple(today[n] for n in ("signals", "orders", "fills", "rejections"))

    # every account's rows, each counted once (the shared signals once, not once per account)
    assert counted(await json_of(dash, "api/now")) == (3, 6, 4, 1)
    # family's orders and fills, and the signals of the algorithms it has rows of (16, 17)
    assert counted(await json_of(dash, "api/now?account=family")) == (3, 3, 2, 1)
    # main's: algorithm 17's signal is not its (it has no rows of it), nor family's rejection
    assert counted(await json_of(dash, "api/now?account=main")) == (2, 3, 2, 0)
    page = (await get(f"{dash.url}?account=main")).text
    assert "account main, and the signals every account shares" in page
    assert '<dd id="count-orders">3</dd>' in page


# -- Tracking -------------------------------------------------------------------------------------


async def test_the_tracking_page_tracks_the_account_picked_and_adds_nothing_up(
    dash: DashboardHandle, journal: str
) -> None:
    """None picked: no figures (they would add the accounts' fills together), the page asks
    for an account; one picked: ``tradebot track --account``'s figures for it alone."""
    page = await get(f"{dash.url}tracking")
    assert page.status_code == 200
    assert 'id="every-account"' in page.text and "Pick an account" in page.text
    view = await json_of(dash, "api/tracking")
    assert view["rows"] == [] and view["chart"] is None
    seen = {}
    for name in ("main", "family"):
        page = await get(f"{dash.url}tracking?account={name}")
        assert page.status_code == 200 and 'id="every-account"' not in page.text
        view = await json_of(dash, f"api/tracking?account={name}")
        with open_journal(journal, readonly=True) as store:
            tracked = track(store, two_accounts_config(), account=name)
        expected = {t.decomposition.algo_id: str(t.decomposition.account.pnl) for t in tracked}
        shown = {r["algo_id"]: r["account_pnl"] for r in view["rows"]}
        assert shown == expected and all(r["account"] == name for r in view["rows"])
        assert all(r["reconciled"] for r in view["rows"])
        seen[name] = shown[16]
    # each its own fills: never the same figure twice
    assert seen["main"] != seen["family"]


# -- a journal without a config -------------------------------------------------------------------


async def test_without_a_config_a_journal_of_several_accounts_is_shown_apart(
    journal: str, tmp_path: Path
) -> None:
    """``tradebot dashboard --journal``: no config names the accounts; the journal's summaries
    do, so its figures are never added together either."""
    served = sources(journal, tmp_path, None)
    served.brokers = {}
    async with dashboard(served) as handle:
        every = await json_of(handle, "api/performance")
        assert sorted(every["accounts"]) == ["family", "main"]
        assert figures(every["accounts"]["main"])["report"] == MAIN["report"]
        tracked = await json_of(handle, "api/tracking")
        assert tracked["rows"] == [] and tracked["every_account"]
        picked = await json_of(handle, "api/tracking?account=family")
        assert {r["account"] for r in picked["rows"]} == {"family"}
        rows = (await json_of(handle, "api/positions"))["rows"]
        assert {(r["account"], r["algo"], r["qty"]) for r in rows} == {
            ("family", "16", "6"),
            ("family", "NET", "6"),
            ("main", "16", "20"),
            ("main", "NET", "20"),
        }


def test_which_accounts_a_page_shows_apart() -> None:
    """Several accounts (the config's, then any only the journal has) each apart; one account
    (a journal of one account, a config of one): ``[None]``, every row read as before accounts
    (tests/web/test_app.py and test_money.py check those pages' figures)."""
    config = two_accounts_config()
    one = Config.model_validate(yaml.safe_load(two_accounts.config_text().split("  family:")[0]))
    assert list(one.accounts) == ["main"]
    assert shown(None, ["default"]) == [None]
    assert shown(None, []) == [None]
    assert shown(one, ["main"]) == [None]
    assert shown(None, ["family", "main"]) == ["family", "main"]
    assert shown(one, ["family", "main"]) == ["main", "family"]
    assert shown(config, []) == ["main", "family"]  # the config's order
    assert shown(config, ["main", "old"]) == ["main", "family", "old"]  # none hidden
