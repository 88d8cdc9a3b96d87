"""The dashboard in a real browser (Debian's Chromium, headless, driven by Playwright) over the
journal of a real `tradebot run` between the AlphaHub and Alpaca simulators.

Each test runs twice: against the dashboard the running bot serves itself (``bot``), and against
`tradebot dashboard` serving the bot's files from a second process (``standalone``), as a person
reviews a bot from another terminal. Screenshots are saved under tests/artifacts/ for a look
after the run.
Chromium comes from apt (scripts/setup installs it in CI); Playwright never downloads a browser.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.e2e.harness import (
    ALGOS,
    DEADLINE,
    BotProcess,
    Env,
    alpaca_server,
    bot_config,
    entries,
    leg,
    until,
    wait_subscribed,
)
from tradebot.cli.main import cli
from tradebot.cli.report_cmd import EXECUTION_COLUMNS
from tradebot.journal.records import Status
from tradebot.journal.review import money_text
from tradebot.runtime.killswitch import HaltMode, read_kill_switch
from tradebot.simulators.alphahub.server import AlphaHubSimulator

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TOKEN = "browser-token-3c9d1e"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(
            f"{CHROMIUM} is missing in CI: scripts/setup installs the chromium package"
        )
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)", allow_module_level=True)

from playwright.async_api import Browser, Page, async_playwright, expect  # noqa: E402

# every expectation waits for its condition on the page; its deadline is only the last resort,
# as long as the harness's (Playwright's 5 s default is too short with every core busy:
# scripts/check --stress)
expect.set_options(timeout=DEADLINE * 1000)

DASHBOARD_YAML = """
dashboard:
  port: 0
  token: ${TRADEBOT_DASHBOARD_TOKEN:-}
"""


@dataclass
class Dash:
    env: Env
    url: str
    browser: Browser

    async def page(self, name: str = "") -> Page:
        page = await self.browser.new_page(viewport={"width": 1360, "height": 900})
        await page.goto(self.url + name)
        return page


async def _dashboard(config: Path) -> tuple[asyncio.subprocess.Process, str]:
    env = {**os.environ, "TRADEBOT_DASHBOARD_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tradebot",
        "dashboard",
        "--config",
        str(config),
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        env=env,
    )
    assert proc.stderr is not None
    async with asyncio.timeout(DEADLINE):
        while True:
            line = (await proc.stderr.readline()).decode()
            assert line, "tradebot dashboard exited before saying where it listens"
            found = re.search(r"dashboard: (http://\S+)", line)
            if found:
                return proc, found[1]


async def _served_by_bot(bot: BotProcess) -> str:
    """The address the bot printed right after its banner."""
    found: list[str] = []

    def printed() -> bool:
        match = re.search(r"dashboard: (http://\S+)", bot.output())
        found[:] = [match[1]] if match else []
        return bool(found) or not bot.running

    await until(printed, "the bot's dashboard line")
    assert found, f"the bot printed no dashboard address:\n{bot.output()}"
    return found[0]


@pytest.fixture(params=["bot", "standalone"])
async def dash(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Dash]:
    ARTIFACTS.mkdir(exist_ok=True)
    with alpaca_server() as server:
        async with AlphaHubSimulator(port=0) as hub:
            config = tmp_path / "config.yaml"
            config.write_text(bot_config(hub.url, server) + DASHBOARD_YAML)
            bot = BotProcess(config, {"TRADEBOT_DASHBOARD_TOKEN": TOKEN})
            await bot.start()
            web = None
            if request.param == "bot":
                url = await _served_by_bot(bot)
            else:
                web, url = await _dashboard(config)
            try:
                await wait_subscribed(hub, ALGOS)
                env = Env(hub, server, bot, config, tmp_path / "journal" / "tradebot.sqlite")
                async with async_playwright() as pw:
                    browser = await pw.chromium.launch(
                        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                    )
                    try:
                        yield Dash(env, url, browser)
                    finally:
                        await browser.close()
            finally:
                if web is not None:
                    web.send_signal(signal.SIGINT)
                    async with asyncio.timeout(DEADLINE):
                        await web.wait()
                if bot.running:
                    await bot.stop(signal.SIGKILL)


async def test_live_signal_chart_and_story(dash: Dash) -> None:
    env = dash.env
    now = await dash.page()
    await expect(now.locator("#live")).to_have_attribute("data-state", "open")
    # a signal pushed now appears on the open page without a reload
    env.server.set_price("JBHT", Decimal("168.56"))
    await env.hub.push(16, {"open": [leg("JBHT", "buy", "168.56", env.at)]})
    row = now.locator("#recent tr", has_text="JBHT").first
    await expect(row).to_be_visible(timeout=DEADLINE * 1000)
    await expect(now.locator("#recent .badge", has_text="signal").first).to_be_visible()
    await until(lambda: bool(entries(env.journal, statuses=(Status.FILLED,))), "the JBHT fill")
    await expect(now.locator("#recent tr", has_text="filled").first).to_be_visible(
        timeout=DEADLINE * 1000
    )
    await expect(now.locator("#count-fills")).to_have_text("1", timeout=DEADLINE * 1000)
    # each algorithm's connections, from the status file the bot rewrites every few seconds
    for algo in ALGOS:
        line = now.locator(".algos tr", has_text=f"{algo}")
        await expect(line.first).to_contain_text("2/2 joined", timeout=DEADLINE * 1000)
    await expect(now.locator("#bot-state")).to_have_text("running")
    await now.screenshot(path=ARTIFACTS / "now.png", full_page=True)
    held = await dash.page("positions")  # the journal's 10 JBHT beside the broker's 10
    # the broker's side is its last snapshot, refreshed in the background: at once after a
    # fill when the bot serves the page, within seconds when the dashboard runs alone
    end = asyncio.get_running_loop().time() + DEADLINE
    while await held.locator("tr.drift").count() and asyncio.get_running_loop().time() < end:
        await asyncio.sleep(0.1)  # a poll's interval, as until() has
        await held.reload()
    await expect(held.locator(".broker-age")).to_contain_text("broker positions as of")
    net = held.locator("tr.net", has_text="JBHT")
    await expect(net).to_contain_text("10")
    assert await held.locator("tr.drift").count() == 0
    await held.screenshot(path=ARTIFACTS / "positions.png", full_page=True)

    # a close realises P&L: the equity chart draws
    await env.push_and_wait(16, {"close": [leg("JBHT", "sell", "170.00", env.at)]})
    await until(
        lambda: len(entries(env.journal, statuses=(Status.FILLED,))) == 2, "the close's fill"
    )
    perf = await dash.page("performance")
    await expect(perf.locator("#equity[data-drawn='true'] canvas")).to_be_visible()
    await expect(perf.locator(".uplot .u-legend").first).to_contain_text("algo 16")
    # the execution table shows `tradebot report`'s figures for the same journal, and the
    # slippage bars draw
    await expect(perf.locator("#slippage[data-drawn='true'] canvas")).to_be_visible()
    expected = _execution_report(env.journal)
    assert expected, "the report has execution rows to compare"
    assert await _execution_table(perf) == expected
    await perf.screenshot(path=ARTIFACTS / "performance.png", full_page=True)

    # every journal row opens its story: the filled order's, from the signal to the fill
    journal = await dash.page("journal?symbol=JBHT&status=filled")
    link = journal.locator("#journal tbody tr a").first
    await link.click()
    await expect(journal).to_have_url(re.compile(r"story\?id="))
    story = journal.locator(".story")
    await expect(story).to_contain_text("intent")
    await expect(story).to_contain_text("filled")
    await expect(story).to_contain_text("raw frame")
    await journal.screenshot(path=ARTIFACTS / "story.png", full_page=True)
    for name in ("config", "journal"):
        page = await dash.page(name)
        await page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
        assert TOKEN not in await page.content()


#: the cells of a row after its algorithm and style, as the report names them
_EXECUTION_CELLS = EXECUTION_COLUMNS[2:]


def _execution_report(journal: Path) -> dict[tuple[str, str], list[str]]:
    """``tradebot report --execution --format json``, as the page would print its cells."""
    result = CliRunner().invoke(
        cli, ["report", "--journal", str(journal), "--execution", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    return {
        (str(r["algo_id"]), r["style"]): [
            "–" if r[c] is None else str(r[c]) for c in _EXECUTION_CELLS
        ]
        for r in json.loads(result.stdout)["rows"]
    }


async def _execution_table(page: Page) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    rows = page.locator("#execution tbody tr[data-style]")
    for n in range(await rows.count()):
        row = rows.nth(n)
        key = (
            await row.get_attribute("data-algo") or "",
            await row.get_attribute("data-style") or "",
        )
        found[key] = [
            (await row.locator(f"td[data-col='{c}']").inner_text()).strip()
            for c in _EXECUTION_CELLS
        ]
    return found


async def test_halt_needs_the_token_and_stops_the_next_signal(dash: Dash) -> None:
    env = dash.env
    switch = env.config.parent / "tradebot.halt"
    now = await dash.page()
    await now.fill("input[name=token]", "not-the-token")
    await now.click("#halt")
    await expect(now.locator("#problem")).to_have_text("refused: wrong token")
    assert read_kill_switch(switch).mode is HaltMode.RUNNING
    # the refusal is the dashboard's own page: styled, and its links lead to the pages
    top = now.locator("header.top")
    assert await top.evaluate("e => getComputedStyle(e).display") == "flex"
    await now.screenshot(path=ARTIFACTS / "refused.png", full_page=True)
    await now.click("header.top nav a:text('Journal')")
    await expect(now.locator("#journal")).to_be_visible()
    assert now.url == dash.url + "journal"

    now = await dash.page()
    await now.fill("input[name=token]", TOKEN)
    await now.fill("input[name=reason]", "watching a fill")
    await now.click("#halt")
    await expect(now.locator("#kill-switch")).to_have_text("halt")
    assert read_kill_switch(switch).reason == "dashboard: watching a fill"
    await now.screenshot(path=ARTIFACTS / "halted.png", full_page=True)

    await env.push_and_wait(17, {"open": [leg("AAPL", "buy", "189.50", env.at)]})
    assert env.skips("AAPL") == ["kill_switch"]
    assert env.orders("AAPL") == []

    # the change's CONFIG row is queued for the journal's writer, not written with the plan:
    # wait for it to appear (under load it can come after the skip)
    def change_journaled() -> bool:
        changes = [e.detail for e in entries(env.journal, statuses=(Status.CONFIG,))]
        return any("kill switch: halt" in d and "watching a fill" in d for d in changes)

    await until(change_journaled, "the kill-switch change in the journal")


async def test_money_equity_on_now(dash: Dash) -> None:
    """The Now page shows the broker's equity, cash and the day's P&L (equity against the
    previous close), from the snapshot refreshed in the background, with the time it answered;
    the Positions page values the position at the broker's last price."""
    env = dash.env
    with env.server.lock:
        env.server.account.last_equity = Decimal("99000")  # the previous close
    env.server.set_price("JBHT", Decimal("168.56"))
    await env.push_and_wait(16, {"open": [leg("JBHT", "buy", "168.56", env.at)]})
    await until(lambda: bool(entries(env.journal, statuses=(Status.FILLED,))), "the JBHT fill")
    env.server.set_price("JBHT", Decimal("175.25"))  # the position gains; equity follows
    with env.server.lock:
        equity = env.server.account.equity()
        cash = env.server.account.cash
    now = await dash.page()
    await expect(now.locator("#equity")).to_have_text(money_text(equity))
    await expect(now.locator("#cash")).to_have_text(money_text(cash))
    day = money_text(equity - Decimal("99000"), signed=True)
    await expect(now.locator("#day-pnl")).to_contain_text(day)
    await expect(now.locator("#money-as-of")).to_contain_text("the broker answered at")
    await now.screenshot(path=ARTIFACTS / "now-money.png", full_page=True)
    held = await dash.page("positions")
    row = held.locator(".positions tbody tr", has_text="JBHT").first  # algo 16's, then NET
    end = asyncio.get_running_loop().time() + DEADLINE
    while "175.2500" not in await row.inner_text() and asyncio.get_running_loop().time() < end:
        await asyncio.sleep(0.1)  # the journal's symbols are priced from the next refresh
        await held.reload()
    await expect(row.locator("td.last")).to_have_text("175.2500")
    await expect(row.locator("td.upl")).to_contain_text("+")


async def test_no_horizontal_scroll_at_390_px(dash: Dash) -> None:
    """On a phone's 390 px no dashboard page is wider than the screen: a wide table scrolls
    inside its own box (the page was 908 px wide)."""
    env = dash.env
    await env.push_and_wait(16, {"open": [leg("JBHT", "buy", "168.56", env.at)]})
    await until(lambda: bool(entries(env.journal, statuses=(Status.FILLED,))), "the JBHT fill")
    [signal_row] = entries(env.journal, statuses=(Status.SIGNAL,))[:1]
    pages = (
        "",
        "journal",
        "positions",
        "performance",
        "tracking",
        "config",
        f"story?id={signal_row.id}",
    )
    for name in pages:
        page = await dash.browser.new_page(viewport={"width": 390, "height": 844})
        await page.goto(dash.url + name)
        await expect(page.locator("main")).to_be_visible()
        width = await page.evaluate("document.documentElement.scrollWidth")
        await page.screenshot(path=ARTIFACTS / f"phone-{name.split('?')[0] or 'now'}.png")
        assert width <= 390, f"{name or 'now'} is {width} px wide at 390 px"
        await page.close()
