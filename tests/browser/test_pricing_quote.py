"""The property page's live price in a real browser: picking dates asks the server's quote
(seasons, weekend nights, the weekly discount) and shows what the booking will charge."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from listings.models import PropertySeasonalPrice
from tests.browser.conftest import listing, screenshot
from tests.factories import future_date

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ONE_DAY = dt.timedelta(days=1)


def _next_thursday() -> dt.date:
    day = future_date(3)
    while day.weekday() != 3:
        day += ONE_DAY
    return day


def test_the_live_quote_prices_weekends_seasons_and_the_weekly_discount(live_site, page):
    thursday = _next_thursday()
    place = listing(
        title="Watamu Reef Villa", town="Watamu", area="Turtle Bay", price_per_night=18000,
        weekend_price_per_night=21000, weekly_discount_percent=10, color=(30, 140, 170),
    )
    # The Sunday and Monday nights after that Thursday are in season.
    PropertySeasonalPrice.objects.create(
        page=place, start=thursday + 3 * ONE_DAY, end=thursday + 5 * ONE_DAY, price_per_night=26000, label="Festival"
    )

    page.goto(live_site.url + place.url)
    friday = page.locator(f'.calendar .day[data-date="{(thursday + ONE_DAY).isoformat()}"]')
    expect(friday.locator(".day-price")).to_have_text("21k")

    form = page.locator("#booking-form")
    form.get_by_label("Check-in").fill(thursday.isoformat())
    form.get_by_label("Check-out").fill((thursday + 6 * ONE_DAY).isoformat())
    form.get_by_label("Check-out").dispatch_event("change")
    quote = page.locator("#quote")
    # Thu 18,000; Fri, Sat 21,000; Sun, Mon 26,000 (the season); Tue 18,000.
    expect(quote).to_contain_text("KES 18,000 × 2 nights")
    expect(quote).to_contain_text("KES 21,000 × 2 nights")
    expect(quote).to_contain_text("KES 26,000 × 2 nights")
    expect(quote.locator("[data-quote-total]")).to_have_attribute("data-quote-total", "130000")
    screenshot(page, "property-quote-season")

    # A seventh night (Wednesday) brings the weekly discount: 10 % of 148,000.
    form.get_by_label("Check-out").fill((thursday + 7 * ONE_DAY).isoformat())
    form.get_by_label("Check-out").dispatch_event("change")
    expect(quote).to_contain_text("Weekly discount (10%)")
    expect(quote).to_contain_text("KES 14,800")
    expect(quote.locator("[data-quote-total]")).to_have_attribute("data-quote-total", "133200")


def test_an_owner_adds_a_season_and_a_weekend_price_in_the_admin(live_site, page):
    from tests.factories import DEFAULT_PASSWORD, OwnerFactory, make_property

    owner = OwnerFactory(name="Amina Odhiambo")
    place = make_property(owner=owner, title="Shela Swahili House", price_per_night=15000)
    start = _next_thursday() + 7 * ONE_DAY

    page.goto(live_site.url + "/admin/login/")
    page.fill("input[name=username]", owner.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_site.url}/admin/pages/{place.pk}/edit/")
    panel = page.locator("section", has=page.get_by_role("heading", name="Seasons and discounts")).first
    expect(panel).to_be_visible()
    page.get_by_label("Weekend price per night").fill("17000")
    page.get_by_label("Weekly discount (%)").fill("10")
    page.get_by_role("button", name="Add season").click()
    page.locator("#id_seasonal_prices-0-start").fill(start.isoformat())
    page.locator("#id_seasonal_prices-0-end").fill((start + 3 * ONE_DAY).isoformat())
    page.locator("#id_seasonal_prices-0-price_per_night").fill("22000")
    page.locator("#id_seasonal_prices-0-label").fill("Lamu Cultural Festival")
    page.mouse.click(1250, 700)  # away from the fields: closes the date pickers before the screenshot
    screenshot(page, "admin-seasons-and-discounts")
    page.locator("button.w-dropdown__toggle").last.click()
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".messages")).to_contain_text("published")

    place.refresh_from_db()
    assert (place.weekend_price_per_night, place.weekly_discount_percent) == (17000, 10)
    season = place.seasonal_prices.get()
    assert (season.start, season.end, season.price_per_night, season.label) == (
        start, start + 3 * ONE_DAY, 22000, "Lamu Cultural Festival",
    )
