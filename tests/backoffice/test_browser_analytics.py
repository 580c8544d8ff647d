"""Staff in a real browser: open Reports > Analytics, see Chart.js draw the three charts from
the page's JSON block with the tables under them, then filter by one property and see the
charts redrawn with that property's figures (the seed and its hand count: test_analytics.py)."""

import os
import re
from pathlib import Path

import pytest

from tests.backoffice.test_analytics import seed_november_and_december
from tests.chromium import BROWSER_MARKS
from tests.factories import DEFAULT_PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = BROWSER_MARKS

CHARTS = ("occupancy", "revenue", "bookings")
DRAWN = """(name) => {
    const canvas = document.querySelector(`canvas[data-chart="${name}"]`);
    return Boolean(canvas && window.Chart && Chart.getChart(canvas) !== undefined);
}"""
CHART_DATA = """(name) => Chart.getChart(document.querySelector(`canvas[data-chart="${name}"]`))
    .data.datasets.map((set) => set.data)"""


# Playwright's sync API keeps an event loop on this thread from the first browser test to the
# end of the session; the ORM calls of the seed, and the database set-up and flush around the
# test, are still synchronous, so Django's async-safety guard does not apply (as in
# tests/browser/conftest.py).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def seeded(site_tree):
    return seed_november_and_december(site_tree)


@pytest.mark.django_db(transaction=True)
def test_staff_open_analytics_and_see_the_charts_and_their_tables(live_server, seeded, chromium):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    browser = chromium.new_context(viewport={"width": 1280, "height": 1000})
    page = browser.new_page()
    page.set_default_timeout(20_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", seeded["staff"].email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")

    # Through the menu, as staff would: the default range (the last twelve months).
    page.get_by_role("button", name="Reports").click()
    page.get_by_role("link", name="Analytics").click()
    expect(page).to_have_url(re.compile(r"/admin/reports/analytics/$"))
    for name in CHARTS:
        page.wait_for_function(DRAWN, arg=name)
    assert page.evaluate("() => typeof Chart.getChart") == "function"

    # The seeded months: the charts draw the hand-counted figures, the tables hold them.
    page.goto(f"{live_server.url}/admin/reports/analytics/?month_from=2025-11&month_to=2025-12")
    for name in CHARTS:
        page.wait_for_function(DRAWN, arg=name)
    assert page.evaluate(CHART_DATA, "occupancy") == [[15.6, 7.3]]
    assert page.evaluate(CHART_DATA, "revenue") == [[65000, 29000]]
    assert page.evaluate(CHART_DATA, "bookings") == [[4, 3], [1, 1]]
    november = page.locator('[data-table="occupancy"] tr[data-month="2025-11"]')
    expect(november.locator("[data-occupancy]")).to_have_text("15.6 %")
    expect(november.locator("[data-nights-available]")).to_have_text("64")
    expect(page.locator('[data-table="revenue"] tr[data-month="2025-11"] [data-revenue]')).to_have_text("65,000")
    expect(page.locator('[data-table="revenue"] tfoot [data-adr]')).to_have_text("6,643")
    expect(page.locator('[data-table="bookings"] tr[data-month="2025-12"] [data-cancellations]')).to_have_text("1")
    canvas = page.locator('canvas[data-chart="occupancy"]')
    assert "occupancy per month" in canvas.get_attribute("aria-label")
    page.wait_for_timeout(1200)  # let the bars finish growing for the picture
    page.screenshot(path=str(ARTIFACTS / "backoffice-analytics.png"), full_page=True)

    # Filter by one property: Wagtail swaps the results in and the charts are drawn again.
    page.get_by_role("button", name="Filter").click()
    page.locator("button[aria-controls=drilldown-id_property]").click()
    page.locator("#id_property").select_option(label="Bakari's villa")
    expect(november.locator("[data-occupancy]")).to_have_text("35.7 %")
    page.keyboard.press("Escape")
    page.wait_for_function(
        """() => {
            const chart = Chart.getChart(document.querySelector('canvas[data-chart="occupancy"]'));
            return chart !== undefined && chart.data.datasets[0].data[0] === 35.7;
        }"""
    )
    assert page.evaluate(CHART_DATA, "revenue") == [[40000, 24000]]
    expect(page.locator('[data-table="properties"] tbody tr')).to_have_count(1)
    page.wait_for_timeout(1200)  # let the bars finish growing for the picture
    page.screenshot(path=str(ARTIFACTS / "backoffice-analytics-filtered.png"), full_page=True)
    browser.close()
    assert errors == []
    print(f"screenshots: {ARTIFACTS / 'backoffice-analytics.png'} {ARTIFACTS / 'backoffice-analytics-filtered.png'}")
