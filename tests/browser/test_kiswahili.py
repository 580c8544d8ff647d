"""A new guest does the whole journey in Kiswahili, on a 360 px phone and a laptop: switch
language on the home page, search, open a stay, sign up, book, pay on the virtual phone and
see the booking confirmed. Every page is under /sw/, says lang="sw" and speaks Kiswahili."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PAYMENT_TIMEOUT_MS, listing, screenshot, screenshot_fitting
from tests.factories import future_date, make_booking

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
VIEWPORTS = [pytest.param(PHONE, id="phone-360"), pytest.param(LAPTOP, id="laptop")]


def _in_kiswahili(page, live_site, path_pattern: str) -> None:
    expect(page).to_have_url(re.compile(re.escape(live_site.url) + "/sw/" + path_pattern))
    expect(page.locator("html")).to_have_attribute("lang", "sw")
    # The header offers the way back to English, in English.
    expect(page.locator("[data-language-switch] button")).to_have_text(re.compile(r"English"))


@pytest.mark.parametrize("browser_context", VIEWPORTS, indirect=True)
def test_a_new_guest_books_and_pays_in_kiswahili(live_site, page):
    viewport = "phone" if page.viewport_size["width"] <= 400 else "laptop"
    check_in = future_date(30)
    check_out = check_in + dt.timedelta(days=3)
    place = listing(
        title="Nyumba ya Ziwa Naivasha", town="Naivasha", area="Moi South Lake Road", price_per_night=6000,
        max_guests=4, min_deposit_percent=30, color=(70, 130, 90),
    )
    make_booking(property=place, check_in=check_in + dt.timedelta(days=5), nights=2, status="CONFIRMED")
    english_url = place.url

    # Home, in English; the header's switch turns the same page into Kiswahili.
    page.goto(live_site.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    switch = page.locator("[data-language-switch] button")
    expect(switch).to_have_attribute("lang", "sw")
    switch.click()
    _in_kiswahili(page, live_site, "$")
    expect(page.get_by_role("heading", name="Malazi teule")).to_be_visible()
    expect(page.get_by_role("link", name="Jisajili")).to_be_visible()
    expect(page.get_by_role("link", name="Ingia")).to_be_visible()
    screenshot_fitting(page, f"sw-home-{viewport}")

    # Search.
    page.locator("input[name=check_in]").first.fill(check_in.isoformat())
    page.locator("input[name=check_out]").first.fill(check_out.isoformat())
    page.get_by_role("button", name="Tafuta", exact=True).first.click()
    _in_kiswahili(page, live_site, r"stays/\?")
    card = page.locator(".listing-card").filter(has_text="Nyumba ya Ziwa Naivasha")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("KES 18,000")
    screenshot_fitting(page, f"sw-search-{viewport}")

    # The stay, and Reserve ("Hifadhi") before having an account.
    card.get_by_role("link").first.click()
    _in_kiswahili(page, live_site, re.escape(english_url.lstrip("/")))
    booking_form = page.locator("#booking-form")
    expect(booking_form.locator("#id_check_in")).to_have_value(check_in.isoformat())
    screenshot_fitting(page, f"sw-property-{viewport}")
    booking_form.get_by_role("button", name="Hifadhi").click()

    # Booking needs an account: the log-in page, in Kiswahili, then sign up.
    _in_kiswahili(page, live_site, r"accounts/login/\?next=")
    expect(page.locator(".messages")).to_contain_text("Ingia au fungua akaunti ili uhifadhi")
    expect(page.get_by_role("heading", name="Ingia")).to_be_visible()
    page.get_by_role("link", name="Fungua akaunti").click()
    _in_kiswahili(page, live_site, r"accounts/signup/\?next=")
    expect(page.get_by_role("heading", name="Fungua akaunti yako")).to_be_visible()
    page.get_by_label("Jina kamili").fill("Amani Wanjiru")
    page.get_by_label("Barua pepe").fill(f"amani.{viewport}@example.com")
    page.get_by_label("Nambari ya simu ya M-Pesa").fill("0712 345 678")
    page.get_by_label("Nenosiri").fill("Mombasa-Raha-2026")
    screenshot_fitting(page, f"sw-signup-{viewport}")
    page.locator("main").get_by_role("button", name="Jisajili").click()

    # Signed in, the reservation goes through with the dates kept (straight to the booking,
    # or back on the stay with the form filled in, to press Reserve again).
    expect(page.locator(".messages")).to_contain_text("Karibu Nexus, Amani.")
    expect(page.get_by_role("link", name="Uhifadhi wangu")).to_be_visible()
    if "/bookings/" not in page.url:
        _in_kiswahili(page, live_site, re.escape(english_url.lstrip("/")))
        expect(page.locator("#id_check_in")).to_have_value(check_in.isoformat())
        page.locator("#booking-form").get_by_role("button", name="Hifadhi").click()

    # The booking page: pay the whole stay on the virtual phone.
    _in_kiswahili(page, live_site, r"bookings/\d+/$")
    badge = page.locator("#status-badge")
    expect(badge).to_have_attribute("data-status", "PENDING")
    expect(page.locator('[data-field="total_price"]')).to_have_text("KES 18,000")
    pay_button = page.locator("#pay-button")
    expect(pay_button).to_have_text("Tuma ombi la M-Pesa")
    screenshot_fitting(page, f"sw-booking-{viewport}")
    page.locator("#id_amount").fill("18000")
    pay_button.click()
    phone = page.context.new_page()
    phone.goto(live_site.url + "/simulator/phone/254712345678/")
    prompt = phone.locator("form.prompt")
    expect(prompt).to_have_count(1, timeout=PAYMENT_TIMEOUT_MS)
    expect(prompt).to_have_attribute("data-amount", "18000")
    prompt.locator("input[name=pin]").fill("1234")
    prompt.get_by_role("button", name="Pay").click()
    expect(phone.locator("form.prompt")).to_have_count(0)
    phone.close()

    expect(badge).to_have_attribute("data-status", "CONFIRMED", timeout=PAYMENT_TIMEOUT_MS)
    expect(page.locator('[data-field="balance_due"]').first).to_have_text("KES 0")
    expect(page.locator("html")).to_have_attribute("lang", "sw")
    screenshot_fitting(page, f"sw-booking-confirmed-{viewport}")

    # "Uhifadhi wangu" lists the stay as upcoming and paid, in Kiswahili.
    page.get_by_role("link", name="Uhifadhi wangu").click()
    _in_kiswahili(page, live_site, r"bookings/$")
    expect(page.get_by_role("heading", name="Malazi yajayo")).to_be_visible()
    row = page.locator(".booking-row").filter(has_text="Nyumba ya Ziwa Naivasha")
    expect(row.locator(".badge")).to_have_attribute("data-status", "CONFIRMED")
    expect(row).to_contain_text("Imelipwa KES 18,000")
    expect(row).to_contain_text("usiku 3")
    screenshot_fitting(page, f"sw-my-bookings-{viewport}")

    # And back to English on the same page, remembered in the profile.
    page.locator("[data-language-switch] button").click()
    expect(page).to_have_url(re.compile(re.escape(live_site.url) + "/bookings/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Upcoming stays")).to_be_visible()
    from accounts.models import User

    assert User.objects.get(email=f"amani.{viewport}@example.com").language == "en"


@pytest.mark.parametrize("browser_context", VIEWPORTS, indirect=True)
def test_the_language_switch_works_from_the_keyboard(live_site, page):
    page.goto(live_site.url + "/stays/")
    for _ in range(20):  # Tab through the header to the switch, as a keyboard user does
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('[data-language-switch]') !== null"):
            break
    else:
        pytest.fail("The language switch cannot be reached with the Tab key")
    # A visible focus indicator (WCAG 2.4.7): an outline drawn around the focused button.
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), outline
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(live_site.url) + "/sw/stays/$"))
    expect(page.locator("html")).to_have_attribute("lang", "sw")
    screenshot(page, f"sw-switch-{'phone' if page.viewport_size['width'] <= 400 else 'laptop'}")
