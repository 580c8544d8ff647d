"""Picking a stay on the property page's calendar in a real browser, by mouse (or finger) and
by keyboard only: booked nights can't be picked, the booking form and the phone's bottom bar
show the total, and a stay the server refuses shows its reason and no price."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import listing, screenshot
from tests.factories import future_date, make_booking

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
VIEWPORTS = pytest.mark.parametrize("browser_context", [PHONE, LAPTOP], indirect=True, ids=["phone-360", "laptop"])
ONE_DAY = dt.timedelta(days=1)


def _name(page) -> str:
    return "phone" if page.viewport_size["width"] <= 400 else "laptop"


def _day(page, day: dt.date):
    return page.locator(f'.calendar td[data-date="{day.isoformat()}"]')


def _a_free_start(days_ahead: int = 4) -> dt.date:
    return future_date(days_ahead)


def _next_month(day: dt.date) -> dt.date:
    """The same day next month, or that month's last day (what Page Down moves to)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return min(day.replace(year=year, month=month, day=1) + dt.timedelta(days=day.day - 1), following - ONE_DAY)


@VIEWPORTS
def test_pick_a_stay_by_mouse_and_see_the_total_in_the_box_and_the_phone_bar(live_site, page):
    start = _a_free_start()
    taken = start + 6 * ONE_DAY
    place = listing(title="Kilifi Creek House", town="Kilifi", price_per_night=10800, min_nights=2, max_nights=10, color=(40, 120, 160))
    make_booking(property=place, check_in=taken, nights=2, status="CONFIRMED")
    page.goto(live_site.url + place.url)

    # Booked nights are marked and can't be picked.
    expect(_day(page, taken)).to_have_attribute("aria-disabled", "true")
    expect(_day(page, taken)).to_have_attribute("aria-label", re.compile(r"booked$"))
    _day(page, taken).click(force=True)  # force: Playwright itself won't click an aria-disabled cell
    expect(page.locator("#id_check_in")).to_have_value("")

    _day(page, start).click()
    expect(page.locator("#id_check_in")).to_have_value(start.isoformat())
    expect(page.locator("#id_check_out")).to_have_value("")
    expect(page.locator("#calendar-status")).to_have_text(re.compile(r"^Check-in \d+ \w+\. Now choose check-out\.$"))
    expect(_day(page, start)).to_have_attribute("aria-label", re.compile(r", available, check-in$"))
    # A check-out after the booked nights would cross them; one night is under the minimum.
    expect(_day(page, taken + 2 * ONE_DAY)).to_have_attribute("aria-disabled", "true")
    expect(_day(page, start + ONE_DAY)).to_have_attribute("aria-disabled", "true")
    # The booked check-in day of someone else is a fine check-out day.
    expect(_day(page, taken)).to_have_attribute("aria-disabled", "false")

    _day(page, start + 3 * ONE_DAY).click()
    expect(page.locator("#id_check_out")).to_have_value((start + 3 * ONE_DAY).isoformat())
    expect(page.locator("#calendar-status")).to_have_text(re.compile(r"^Check-out \d+ \w+: 3 nights\.$"))
    expect(page.locator(".calendar .day-selected")).to_have_count(3)
    quote = page.locator("#quote")
    expect(quote).to_contain_text("KES 10,800 × 3 nights")
    expect(quote.locator("[data-quote-total]")).to_have_text("KES 32,400")
    bar = page.locator("#mobile-book-bar")
    if _name(page) == "phone":
        page.evaluate("window.scrollTo(0, 0)")
        expect(bar).to_be_visible()
        expect(bar.locator("#mobile-bar-price")).to_have_text("KES 32,400 for 3 nights")
        screenshot(page, "property-calendar-picked-phone")
        # The bar's Reserve link is a real control: it takes the keyboard to the booking box.
        bar.get_by_role("link", name="Reserve").click()
        expect(page.locator("#reserve-button")).to_be_focused()
        expect(bar).to_have_class(re.compile("is-hidden"))
    else:
        expect(bar).to_be_hidden()
        screenshot(page, "property-calendar-picked-laptop")

    # Picking again starts a new stay.
    _day(page, start + ONE_DAY).click()
    expect(page.locator("#id_check_in")).to_have_value((start + ONE_DAY).isoformat())
    expect(page.locator("#id_check_out")).to_have_value("")
    expect(page.locator(".calendar .day-selected")).to_have_count(1)
    expect(quote).not_to_contain_text("KES 32,400")
    # ...and the check-in day picked again clears the choice.
    _day(page, start + ONE_DAY).click()
    expect(page.locator("#id_check_in")).to_have_value("")
    expect(page.locator("#calendar-status")).to_have_text("Dates cleared. Choose check-in.")
    expect(page.locator(".calendar .day-selected")).to_have_count(0)


@VIEWPORTS
def test_pick_a_stay_with_the_keyboard_only(live_site, page):
    place = listing(title="Nanyuki Farm Cottage", town="Nanyuki", price_per_night=7000, min_nights=1, color=(90, 140, 70))
    today = future_date(0)
    page.goto(live_site.url + place.url)
    cells = page.locator(".calendar td[data-date]")
    # One tab stop for the whole calendar, on the first day that can be picked (today).
    expect(page.locator('.calendar td[tabindex="0"]')).to_have_count(1)
    expect(page.locator('.calendar td[tabindex="0"]')).to_have_attribute("data-date", today.isoformat())
    assert cells.count() > 80
    expect(page.locator(".calendar").first).to_have_attribute("role", "grid")

    page.locator('.calendar td[tabindex="0"]').focus()
    page.keyboard.press("ArrowDown")  # a week on
    page.keyboard.press("ArrowRight")  # and a day
    first = today + 8 * ONE_DAY
    expect(page.locator(".calendar td:focus")).to_have_attribute("data-date", first.isoformat())
    page.keyboard.press("Enter")
    expect(page.locator("#id_check_in")).to_have_value(first.isoformat())
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press(" ")
    expect(page.locator("#id_check_out")).to_have_value((first + 2 * ONE_DAY).isoformat())
    expect(page.locator("#quote [data-quote-total]")).to_have_text("KES 14,000")
    expect(page.locator(".calendar td:focus")).to_have_attribute("aria-selected", "true")

    # Page Down: the same day next month; Home and End: the week's Monday and Sunday.
    page.keyboard.press("PageDown")
    expect(page.locator(".calendar td:focus")).to_have_attribute("data-date", _next_month(first + 2 * ONE_DAY).isoformat())
    page.keyboard.press("Home")
    monday = dt.date.fromisoformat(page.locator(".calendar td:focus").get_attribute("data-date"))
    assert monday.weekday() == 0 or monday.day == 1
    page.keyboard.press("End")
    sunday = dt.date.fromisoformat(page.locator(".calendar td:focus").get_attribute("data-date"))
    assert sunday.weekday() == 6 or (sunday + ONE_DAY).day == 1
    page.keyboard.press("PageUp")
    # Tab leaves the calendar in one step (a single tab stop), still one day with tabindex=0.
    expect(page.locator('.calendar td[tabindex="0"]')).to_have_count(1)
    page.keyboard.press("Tab")
    expect(page.locator(".calendar td:focus")).to_have_count(0)
    screenshot(page, f"property-calendar-keyboard-{_name(page)}")


@VIEWPORTS
def test_typed_dates_are_highlighted_and_refused_ones_show_the_reason_and_no_price(live_site, page):
    place = listing(title="Lamu Old Town House", town="Lamu", price_per_night=9000, min_nights=2, max_nights=5, color=(170, 120, 60))
    start = future_date(10)
    make_booking(property=place, check_in=start + 2 * ONE_DAY, nights=1, status="CONFIRMED")
    page.goto(live_site.url + place.url)
    form = page.locator("#booking-form")
    quote = page.locator("#quote")

    # Typing in the form highlights the range on the calendar.
    form.get_by_label("Check-in").fill((start + 3 * ONE_DAY).isoformat())
    form.get_by_label("Check-out").fill((start + 5 * ONE_DAY).isoformat())
    form.get_by_label("Check-out").dispatch_event("change")
    expect(quote.locator("[data-quote-total]")).to_have_text("KES 18,000")
    expect(page.locator(".calendar .day-selected")).to_have_count(2)

    # Over a booked night: the reason, no price, and the server is not asked.
    requests = []
    page.on("request", lambda request: requests.append(request.url) if "/quote/" in request.url else None)
    form.get_by_label("Check-in").fill(start.isoformat())
    form.get_by_label("Check-out").fill((start + 4 * ONE_DAY).isoformat())
    form.get_by_label("Check-out").dispatch_event("change")
    expect(quote).to_contain_text("Some of these nights are already booked")
    expect(quote.locator("[data-quote-total]")).to_have_count(0)
    expect(quote).not_to_contain_text("KES")

    # Shorter than the minimum stay.
    form.get_by_label("Check-in").fill((start + 3 * ONE_DAY).isoformat())
    form.get_by_label("Check-out").fill((start + 4 * ONE_DAY).isoformat())
    form.get_by_label("Check-out").dispatch_event("change")
    expect(quote).to_contain_text("minimum stay of 2 nights")
    expect(quote.locator("[data-quote-total]")).to_have_count(0)
    screenshot(page, f"property-refused-dates-{_name(page)}")

    # A refusal the page can't foresee (here: the listing's maximum changed since the page
    # was opened) comes from the server, and its message is shown instead of a price.
    place.max_nights = 3
    place.save_revision(user=place.owner).publish()
    form.get_by_label("Check-in").fill((start + 3 * ONE_DAY).isoformat())
    form.get_by_label("Check-out").fill((start + 7 * ONE_DAY).isoformat())
    form.get_by_label("Check-out").dispatch_event("change")
    expect(quote).to_contain_text("This property takes stays of at most 3 nights.")
    expect(quote.locator("[data-quote-total]")).to_have_count(0)
    assert any("/quote/" in url for url in requests)


def test_a_slow_answer_for_old_dates_never_shows_its_price(live_site, page):
    """While the server is asked, the old price is gone; an answer for dates no longer chosen is dropped."""
    place = listing(title="Diani Slow Quote", town="Diani", price_per_night=5000, min_nights=1, color=(30, 150, 160))
    start = future_date(12)
    page.goto(live_site.url + place.url)
    form = page.locator("#booking-form")
    quote = page.locator("#quote")
    form.get_by_label("Check-in").fill(start.isoformat())
    form.get_by_label("Check-out").fill((start + 2 * ONE_DAY).isoformat())
    form.get_by_label("Check-out").dispatch_event("change")
    expect(quote.locator("[data-quote-total]")).to_have_text("KES 10,000")

    held = []
    page.route(re.compile(r".*/quote/\?.*check_out=" + re.escape((start + 3 * ONE_DAY).isoformat()) + ".*"), lambda route: held.append(route))
    form.get_by_label("Check-out").fill((start + 3 * ONE_DAY).isoformat())
    form.get_by_label("Check-out").dispatch_event("change")
    expect(quote).to_have_attribute("aria-busy", "true")
    expect(quote).not_to_contain_text("KES 10,000")
    form.get_by_label("Check-out").fill((start + 4 * ONE_DAY).isoformat())
    form.get_by_label("Check-out").dispatch_event("change")
    expect(quote.locator("[data-quote-total]")).to_have_text("KES 20,000")
    for route in held:
        try:
            route.continue_()
        except Exception:  # the request was aborted by the page: that's the point
            pass
    page.wait_for_timeout(300)
    expect(quote.locator("[data-quote-total]")).to_have_text("KES 20,000")
