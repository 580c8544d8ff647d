"""The guest's journey in a real browser: search, sign up, book with a co-guest, pay with
M-Pesa on the simulator's virtual phone, and watch the booking change without reloading."""

import datetime as dt
import io
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PAYMENT_TIMEOUT_MS, answer_prompt, listing, screenshot, screenshot_fitting
from tests.factories import DEFAULT_PASSWORD, UserFactory, future_date, make_booking

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (30, 90, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_search_by_dates_and_party_size_finds_a_free_place_and_hides_a_booked_one(live_site, page):
    check_in = future_date(21)
    check_out = check_in + dt.timedelta(days=3)
    free = listing(title="Diani Palm Cottage", town="Diani", area="Galu Beach", max_guests=4, price_per_night=8500, color=(40, 150, 170))
    booked = listing(title="Diani Reef Villa", town="Diani", area="Galu Beach", max_guests=6, color=(170, 120, 60))
    small = listing(title="Diani Studio", town="Diani", area="Colobus", max_guests=2, color=(120, 160, 90))
    make_booking(property=booked, check_in=check_in + dt.timedelta(days=1), nights=2, status="CONFIRMED")

    page.goto(live_site.url + "/")
    expect(page.get_by_role("heading", name="Featured stays")).to_be_visible()
    expect(page.locator(".listing-card")).to_have_count(3)
    screenshot(page, "home")
    page.get_by_label("Where").fill("Diani")
    page.get_by_label("Check-in").fill(check_in.isoformat())
    page.get_by_label("Check-out").fill(check_out.isoformat())
    page.get_by_label("Guests").fill("3")
    page.get_by_role("button", name="Search").click()

    expect(page).to_have_url(re.compile(r"/stays/\?"))
    results = page.locator(".listing-card")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Diani Palm Cottage")
    expect(results.first).to_contain_text("KES 25,500 total for 3 nights")
    expect(page.get_by_text(booked.title)).to_have_count(0)
    expect(page.get_by_text(small.title)).to_have_count(0)
    expect(page.locator(".results-summary")).to_contain_text("1 stay")
    screenshot(page, "search-results")

    # The listing opens with the search's dates already in its booking form.
    results.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(re.escape(free.url)))
    expect(page.locator("#id_check_in")).to_have_value(check_in.isoformat())
    expect(page.locator("#quote")).to_contain_text("KES 8,500 × 3 nights")


def _book_and_pay(page, live_site, *, viewport_name: str) -> None:
    check_in = future_date(30)
    check_out = check_in + dt.timedelta(days=3)
    place = listing(
        title="Naivasha Lakeside House", town="Naivasha", area="Moi South Lake Road", price_per_night=6000,
        max_guests=4, min_deposit_percent=30, amenities=("Wi-Fi", "Parking", "Kitchen", "Pool"), color=(70, 130, 90),
    )
    make_booking(property=place, check_in=check_in + dt.timedelta(days=5), nights=2, status="CONFIRMED")

    # Search, open the listing, choose the party and a co-guest.
    page.goto(live_site.url + "/")
    screenshot_fitting(page, f"home-{viewport_name}")
    page.get_by_label("Check-in").fill(check_in.isoformat())
    page.get_by_label("Check-out").fill(check_out.isoformat())
    page.get_by_role("button", name="Search").click()
    screenshot_fitting(page, f"search-results-{viewport_name}")
    page.locator(".listing-card").filter(has_text="Naivasha Lakeside House").get_by_role("link").click()
    expect(page.locator(".calendar .day-taken").first).to_be_visible()
    booking_form = page.locator("#booking-form")
    booking_form.get_by_label("Guests").select_option("2")
    booking_form.locator("#id_guest-0-name").fill("Achieng Otieno")
    booking_form.locator("#id_guest-0-email").fill("achieng@example.com")
    expect(page.locator("#quote")).to_contain_text("KES 6,000 × 3 nights")
    expect(page.locator("#quote")).to_contain_text("KES 18,000")
    expect(page.locator(".calendar .day-selected")).to_have_count(3)
    screenshot_fitting(page, f"property-{viewport_name}")
    booking_form.get_by_role("button", name="Reserve").click()

    # Booking needs an account: sign up (with an ID photo) and come straight back.
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.locator(".messages")).to_contain_text("Log in or create an account to book")
    page.get_by_role("link", name="Create an account").click()
    screenshot_fitting(page, f"signup-{viewport_name}")
    page.get_by_label("Name").fill("Baraka Mwangi")
    page.get_by_label("Email").fill(f"baraka.{viewport_name}@example.com")
    page.get_by_label("M-Pesa phone number").fill("0712 345 678")
    page.get_by_label("Password").fill("Mombasa-Raha-2026")
    page.get_by_label("Photo of your national ID or passport").set_input_files(
        files=[{"name": "id.png", "mimeType": "image/png", "buffer": _png()}]
    )
    page.get_by_role("button", name="Sign up").click()

    # Sign-up goes straight on to the booking kept from before (no second Reserve):
    # the booking page with its reference, guests, totals, hold countdown.
    expect(page).to_have_url(re.compile(r"/bookings/\d+/$"))
    badge = page.locator("#status-badge")
    expect(badge).to_have_attribute("data-status", "PENDING")
    expect(page.locator(".reference")).to_have_text(re.compile(r"^NX[0-9A-Z]{8}$"))
    expect(page.locator(".guest-list")).to_contain_text("Baraka Mwangi")
    expect(page.locator(".guest-list")).to_contain_text("Achieng Otieno")
    expect(page.locator('[data-field="total_price"]')).to_have_text("KES 18,000")
    expect(page.locator("#hold-countdown")).to_have_text(re.compile(r"^1[45]:\d\d$"))
    expect(page.locator("#id_phone_number")).to_have_value("0712345678")
    screenshot_fitting(page, f"booking-{viewport_name}")

    # Pay the 30 % deposit on the virtual phone; the page follows it live.
    page.get_by_role("button", name=re.compile(r"Deposit · KES 5,400")).click()
    expect(page.locator("#id_amount")).to_have_value("5400")
    page.get_by_role("button", name="Send M-Pesa prompt").click()
    progress = page.locator("#progress")
    expect(progress).to_have_attribute("data-phase", re.compile("sending|waiting"))
    expect(progress).to_contain_text("Check your phone", timeout=PAYMENT_TIMEOUT_MS)
    phone_url = live_site.url + "/simulator/phone/254712345678/"
    phone = page.context.new_page()
    answer_prompt(phone, phone_url, action="pay", expected_amount=5400)

    expect(badge).to_have_attribute("data-status", "PROCESSING", timeout=PAYMENT_TIMEOUT_MS)
    expect(progress).to_have_attribute("data-phase", "paid")
    expect(page.locator('[data-field="amount_paid"]')).to_have_text("KES 5,400")
    expect(page.locator('[data-field="balance_due"]').first).to_have_text("KES 12,600")
    expect(page.locator("#hold")).to_be_hidden()
    screenshot_fitting(page, f"booking-deposit-paid-{viewport_name}")

    # Pay the rest: the form is back, filled with the balance.
    expect(page.locator("#id_amount")).to_have_value("12600")
    page.get_by_role("button", name="Send M-Pesa prompt").click()
    expect(progress).to_contain_text("Check your phone", timeout=PAYMENT_TIMEOUT_MS)
    answer_prompt(phone, phone_url, action="pay", expected_amount=12600)

    expect(badge).to_have_attribute("data-status", "CONFIRMED", timeout=PAYMENT_TIMEOUT_MS)
    expect(page.locator("#paid-in-full-live")).to_be_visible()
    expect(page.locator('[data-field="balance_due"]').first).to_have_text("KES 0")
    expect(page.locator("#pay-form")).to_be_hidden()
    screenshot_fitting(page, f"booking-confirmed-{viewport_name}")

    # My bookings lists it as upcoming and paid.
    page.get_by_role("link", name="My bookings").click()
    row = page.locator(".booking-row").filter(has_text="Naivasha Lakeside House")
    expect(row.locator(".badge")).to_have_attribute("data-status", "CONFIRMED")
    expect(row).to_contain_text("Paid KES 18,000")
    screenshot_fitting(page, f"my-bookings-{viewport_name}")


@pytest.mark.parametrize("browser_context", [LAPTOP], indirect=True, ids=["laptop"])
def test_sign_up_book_with_a_co_guest_pay_deposit_then_the_rest_live(live_site, page):
    _book_and_pay(page, live_site, viewport_name="laptop")


@pytest.mark.parametrize("browser_context", [PHONE], indirect=True, ids=["phone-360"])
def test_the_same_journey_on_a_360px_phone(live_site, page):
    _book_and_pay(page, live_site, viewport_name="phone-360")


def test_a_cancelled_prompt_says_cancelled_and_trying_again_works(live_site, page):
    from reservations.services import booking_create

    place = listing(title="Lamu Old Town Rooftop", town="Lamu", area="Shela", price_per_night=4500, color=(190, 150, 90))
    guest = UserFactory(name="Zawadi Njeri", email="zawadi@example.com", phone_number="+254722111333")
    booking = booking_create(user=guest, property_id=place.pk, check_in=future_date(12), check_out=future_date(14), guests=[])

    page.goto(live_site.url + f"/bookings/{booking.pk}/")
    page.get_by_label("Email").fill(guest.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#status-badge")).to_have_attribute("data-status", "PENDING")
    expect(page.locator("#id_phone_number")).to_have_value("0722111333")
    expect(page.locator("#id_amount")).to_have_value("9000")
    page.get_by_role("button", name="Send M-Pesa prompt").click()

    phone = page.context.new_page()
    phone_url = live_site.url + "/simulator/phone/254722111333/"
    answer_prompt(phone, phone_url, action="cancel", expected_amount=9000)

    progress = page.locator("#progress")
    expect(progress).to_have_attribute("data-phase", "cancelled", timeout=PAYMENT_TIMEOUT_MS)
    expect(progress).to_contain_text("Payment cancelled")
    expect(progress).to_contain_text("no money was taken")
    retry = page.get_by_role("button", name="Try again")
    expect(retry).to_be_visible()
    screenshot(page, "payment-cancelled")

    retry.click()
    expect(progress).to_contain_text("Check your phone", timeout=PAYMENT_TIMEOUT_MS)
    expect(page.locator("#status-badge")).to_have_attribute("data-status", "PENDING")
    answer_prompt(phone, phone_url, action="pay", expected_amount=9000)
    expect(page.locator("#status-badge")).to_have_attribute("data-status", "CONFIRMED", timeout=PAYMENT_TIMEOUT_MS)
    expect(progress).to_have_attribute("data-phase", "paid")
    screenshot(page, "payment-retried-confirmed")


A11Y_PROBLEMS = """() => {
  const problems = [];
  document.querySelectorAll("input:not([type=hidden]), select, textarea").forEach((el) => {
    const label = (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest("label");
    if (!label && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby")) {
      problems.push("no label: " + (el.name || el.outerHTML.slice(0, 80)));
    }
  });
  document.querySelectorAll("img").forEach((img) => {
    if (!(img.getAttribute("alt") || "").trim()) problems.push("no alt text: " + img.src);
  });
  document.querySelectorAll("button, a[href]").forEach((el) => {
    if (!el.textContent.trim() && !el.getAttribute("aria-label")) problems.push("no name: " + el.outerHTML.slice(0, 80));
  });
  if (document.querySelectorAll("h1").length !== 1) problems.push("expected one h1");
  if (!document.documentElement.lang) problems.push("no lang");
  return problems;
}"""


def test_pages_have_labels_and_alt_text_and_work_from_the_keyboard(live_site, page):
    from reservations.services import booking_create

    place = listing(title="Nanyuki Farm Cottage", town="Nanyuki", area="Timau Road", color=(90, 120, 160))
    guest = UserFactory(email="keyboard@example.com", phone_number="+254733000444")
    booking = booking_create(user=guest, property_id=place.pk, check_in=future_date(40), check_out=future_date(42), guests=[])

    for path in ("/", "/stays/", place.url, "/accounts/signup/", f"/bookings/{booking.pk}/"):
        page.goto(live_site.url + path)
        assert page.evaluate(A11Y_PROBLEMS) == [], path
        if path == "/":
            page.keyboard.press("Tab")
            expect(page.locator(".skip-link")).to_be_focused()

    # The login form (where the booking page sent us) works with the keyboard alone;
    # the email field has the focus when it opens.
    expect(page.locator("#id_email")).to_be_focused()
    page.keyboard.type(guest.email)
    page.keyboard.press("Tab")
    page.keyboard.type(DEFAULT_PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/bookings/{booking.pk}/$"))
    # The URL changes when the redirect commits; evaluating before the new document has
    # loaded can land in the context being replaced.
    page.wait_for_load_state("load")
    assert page.evaluate(A11Y_PROBLEMS) == []

    # So does paying: Enter in the amount field sends the prompt.
    page.locator("#id_amount").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#progress")).to_contain_text("Check your phone", timeout=PAYMENT_TIMEOUT_MS)
    expect(page.locator("#pay-form")).to_be_hidden()
    screenshot(page, "keyboard-payment-waiting")
