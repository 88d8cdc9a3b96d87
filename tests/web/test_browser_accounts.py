"""The Performance page of several accounts in a real browser (Debian's Chromium driven by
Playwright, as tests/web/test_browser.py): each account's section draws its own charts, from
its own figures (tests/web/test_accounts_pages.py's journal of two accounts)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import async_playwright, expect

from tests.web.test_accounts_pages import sources, two_accounts_config, write_today
from tests.web.test_broker_snapshot import dashboard
from tests.web.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

#: the page's own deadline, generous (every core may be busy)
GENEROUS = 60_000


async def test_each_accounts_section_draws_its_own_charts(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    journal = tmp_path / "journal.sqlite"
    write_today(journal)
    served = sources(str(journal), tmp_path, two_accounts_config())
    async with dashboard(served) as handle, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1360, "height": 900})
            await page.goto(f"{handle.url}performance")
            for name in ("main", "family"):
                section = page.locator(f"section[data-account='{name}']")
                chart = section.locator(f"#equity-{name}[data-drawn='true'] canvas")
                await expect(chart).to_be_visible(timeout=GENEROUS)
                bars = section.locator(f"#slippage-{name}[data-drawn='true'] canvas")
                await expect(bars).to_be_visible(timeout=GENEROUS)
            # one account picked: its figures, its chart drawn from them
            await page.goto(f"{handle.url}performance?account=family")
            await expect(page.locator("#equity[data-drawn='true'] canvas")).to_be_visible(
                timeout=GENEROUS
            )
            await expect(page.locator("#account-picker a.here")).to_have_text("family")
            await page.screenshot(path=ARTIFACTS / "performance-family.png", full_page=True)
        finally:
            await browser.close()
