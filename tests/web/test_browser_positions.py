"""The Positions page's pages in a real browser (Debian's Chromium driven by Playwright, as
tests/web/test_browser.py), with JavaScript and without: a person follows "next" from the
first page to the last and sees every position once, filters with the form and jumps to a page
(tests/web/test_positions_page.py's journal of two accounts, more positions than a page)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from tests.web.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.web.test_positions_page import SYMBOLS, expected_rows, served, write
from tradebot.web.positions_page import PAGE_SIZE
from tradebot.web.serve import DashboardHandle

#: the page's own deadline, generous (every core may be busy)
GENEROUS = 60_000


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("positions") / "journal.sqlite"
    write(path)
    return path


@pytest.fixture
async def dash(journal: Path, tmp_path: Path) -> AsyncIterator[DashboardHandle]:
    async with served(journal, tmp_path) as handle:
        yield handle


async def rows(page: Page) -> list[tuple[str, str]]:
    cells = await page.locator("table.positions tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].slice(0, 2).map(c => c.textContent.trim()))"
    )
    return [(a, s) for a, s in cells]


@pytest.mark.parametrize("script", [True, False], ids=["javascript", "no-javascript"])
async def test_a_person_reaches_every_position_by_the_page_links(
    dash: DashboardHandle, script: bool
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                java_script_enabled=script, viewport={"width": 1360, "height": 900}
            )
            page = await context.new_page()
            await page.goto(f"{dash.url}positions?account=main")
            top = page.locator("nav.pager[data-where='top']")
            seen: list[tuple[str, str]] = []
            for number in (1, 2, 3):
                await expect(top.locator(".page-of")).to_contain_text(
                    f"page {number} of 3", timeout=GENEROUS
                )
                seen += await rows(page)
                if number < 3:
                    await top.locator("a[rel='next']").click()
            assert seen == expected_rows("main", "algo")
            await expect(top.locator("a[rel='next']")).to_have_count(0)
            await page.screenshot(path=ARTIFACTS / f"positions-page-3-{script}.png")
            # the filter form (a plain GET: no script needed) keeps the account picked
            await page.locator("#positions-filter input[name='algo']").fill("17")
            await page.locator("#positions-filter select[name='sort']").select_option("symbol")
            await page.locator("#positions-filter button").click()
            await expect(top.locator(".page-of")).to_contain_text(
                "page 1 of 1: rows 1–150 of 150 matching (of 500)", timeout=GENEROUS
            )
            assert await rows(page) == [("17", s) for s in SYMBOLS]
            assert "account=main" in page.url
            await expect(page.locator("#account-picker a.here")).to_have_text("main")
            # the jump form: page 2 of everything, by symbol
            await page.goto(f"{dash.url}positions?account=main&sort=symbol")
            await top.locator("input[name='page']").fill("2")
            await top.locator("form.jump button").click()
            await expect(top.locator(".page-of")).to_contain_text(
                f"page 2 of 3: rows {PAGE_SIZE + 1}–{2 * PAGE_SIZE} of 500", timeout=GENEROUS
            )
            assert await rows(page) == expected_rows("main", "symbol")[PAGE_SIZE : 2 * PAGE_SIZE]
            # on a phone's 390 px the pager and its form wrap: the page never scrolls sideways
            await page.set_viewport_size({"width": 390, "height": 844})
            width = await page.evaluate("document.documentElement.scrollWidth")
            await page.screenshot(path=ARTIFACTS / f"phone-positions-page-2-{script}.png")
            assert width <= 390, f"page 2 of the positions is {width} px wide at 390 px"
        finally:
            await browser.close()
