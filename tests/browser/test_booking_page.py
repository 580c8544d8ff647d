"""From Reserve to a confirmed stay in a real browser, on a 360 px phone and a laptop: Reserve
while logged out, sign up and land on the booking (dates and co-guest kept); the pay form right
under the summary; pay on the virtual phone and watch the status, figures and payments list
change without a reload; a failed payment offers one "Try again"; once confirmed, the check-in
details (address, map, host's phone, instructions) appear."""

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PAYMENT_TIMEOUT_MS, answer_prompt, listing, screenshot_fitting
from tests.factories import DEFAULT_PASSWORD, OwnerFactory, UserFactory, future_date

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
VIEWPORTS = pytest.mark.parametrize("browser_context", [PHONE, LAPTOP], indirect=True, ids=["phone-360", "laptop"])


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (30, 90, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


def _name(page) -> str:
    return "phone" if page.viewport_size["width"] <= 400 else "laptop"


def _shot(page, step: str) -> None:
    screenshot_fitting(page, f"booking-{step}-{_name(page)}")


def _place(title: str, **fields):
    host = OwnerFactory(name="Amina Hassan", phone_number="+254722000111")
    return listing(
        title=title, town="Diani", area="Galu Beach", price_per_night=6000, max_guests=4, photos=1,
        owner=host, latitude=Decimal("-4.316500"), longitude=Decimal("39.581200"),
        street_address="Plot 14, Galu Kinondo Road", host_phone_number="+254733444555",
        check_in_instructions="The gate code is 4471.\nAsk for Juma at the gate.", **fields,
    )


def _log_in(page, live_site, booking, guest):
    page.goto(live_site.url + f"/bookings/{booking.pk}/")
    page.get_by_label("Email").fill(guest.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#status-badge")).to_have_attribute("data-status", "PENDING")


@VIEWPORTS
def test_reserve_sign_up_land_on_the_booking_pay_live_and_see_check_in(live_site, page):
    check_in = future_date(30)
    check_out = check_in + dt.timedelta(days=3)
    place = _place("Galu Beach Cottage", min_deposit_percent=100)
    viewport = _name(page)

    # Logged out: choose the stay and a co-guest, press Reserve.
    page.goto(f"{live_site.url}{place.url}?check_in={check_in.isoformat()}&check_out={check_out.isoformat()}")
    booking_form = page.locator("#booking-form")
    booking_form.get_by_label("Guests").select_option("2")
    booking_form.locator("#id_guest-0-name").fill("Achieng Otieno")
    booking_form.get_by_role("button", name="Reserve").click()

    # Sign up, and land straight on the booking: no second Reserve.
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Name").fill("Baraka Mwangi")
    page.get_by_label("Email").fill(f"baraka.booking.{viewport}@example.com")
    page.get_by_label("M-Pesa phone number").fill("0712 345 678")
    page.get_by_label("Password").fill("Mombasa-Raha-2026")
    page.get_by_label("Photo of your national ID or passport").set_input_files(
        files=[{"name": "id.png", "mimeType": "image/png", "buffer": _png()}]
    )
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/bookings/\d+/$"))
    expect(page.locator("#status-badge")).to_have_attribute("data-status", "PENDING")
    expect(page.locator(".stay-facts")).to_contain_text(check_in.strftime("%-d %b %Y"))
    expect(page.locator(".guest-list")).to_contain_text("Achieng Otieno")
    expect(page.locator(".messages")).to_contain_text("holding these dates")
    expect(page.locator("#check-in")).to_have_count(0)  # not before it is confirmed
    _shot(page, "landed")

    # The pay form comes straight after the summary, in the DOM and on the screen.
    figures = page.evaluate("""() => {
      const summary = document.querySelector('.booking-summary').getBoundingClientRect();
      const card = document.getElementById('pay').getBoundingClientRect();
      const form = document.getElementById('pay-form').getBoundingClientRect();
      const after = document.querySelector('.booking-summary').compareDocumentPosition(document.getElementById('pay'));
      return {summaryBottom: summary.bottom + scrollY, cardTop: card.top + scrollY, formTop: form.top + scrollY,
              domAfter: !!(after & Node.DOCUMENT_POSITION_FOLLOWING)};
    }""")
    print(f"pay form y ({viewport}): {figures}")
    assert figures["domAfter"]
    if viewport == "phone":
        assert 0 <= figures["cardTop"] - figures["summaryBottom"] <= 40, figures
        assert figures["formTop"] - figures["summaryBottom"] <= 160, figures
        # Below the first screen, a "Pay KES 18,000" bar takes you there, focus on the phone field.
        bar = page.locator("#pay-bar")
        if figures["cardTop"] > PHONE["height"]:
            expect(bar).to_be_visible()
            expect(bar).to_have_text("Pay KES 18,000")
            _shot(page, "pay-bar")
            bar.click()
            expect(page.get_by_label("M-Pesa phone number")).to_be_focused()
            expect(bar).to_be_hidden()
    else:
        assert figures["formTop"] < PHONE["height"], figures  # beside the summary, in the first screen
        expect(page.locator("#pay-bar")).to_be_hidden()
    # The place asks for the whole amount: no deposit wording anywhere in the pay card.
    expect(page.locator("#pay")).not_to_contain_text(re.compile("deposit", re.I))
    expect(page.locator("#amount-help")).to_have_text("The full balance: KES 18,000.")
    expect(page.get_by_label("M-Pesa phone number")).to_have_value("0712345678")
    expect(page.locator("#payments")).to_be_hidden()

    # Send the prompt: focus goes to the status panel, which says to check the phone.
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="Send M-Pesa prompt").click()
    status_panel = page.locator("#status-panel")
    expect(status_panel).to_be_focused()
    expect(status_panel).to_have_attribute("role", "status")
    expect(status_panel).to_contain_text("Check your phone", timeout=PAYMENT_TIMEOUT_MS)
    expect(page.locator("#payment-list .payment-item")).to_have_count(1)
    expect(page.locator("#payment-list .payment-item").first).to_contain_text("Check your phone")
    _shot(page, "waiting")

    phone = page.context.new_page()
    answer_prompt(phone, live_site.url + "/simulator/phone/254712345678/", action="pay", expected_amount=18000)

    # Confirmed without a reload: badge, figures, payments list, the hold message gone.
    expect(page.locator("#status-badge")).to_have_attribute("data-status", "CONFIRMED", timeout=PAYMENT_TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument") is True
    expect(page.locator('[data-field="amount_paid"]')).to_have_text("KES 18,000")
    expect(page.locator('[data-field="balance_due"]').first).to_have_text("KES 0")
    item = page.locator("#payment-list .payment-item").first
    expect(item).to_have_attribute("data-phase", "paid")
    expect(item).to_contain_text("Payment received")
    expect(page.locator("#payment-list")).not_to_contain_text("Check your phone")
    expect(status_panel).to_contain_text("Booking status: Confirmed. Paid KES 18,000, balance KES 0.")
    expect(page.locator(".messages")).to_have_count(0)
    expect(page.locator("#hold")).to_be_hidden()

    # The check-in details arrive with the confirmation.
    section = page.locator("#check-in")
    expect(section).to_be_visible()
    expect(section).to_contain_text("Plot 14, Galu Kinondo Road")
    expect(section).to_contain_text("The gate code is 4471.")
    expect(section.locator('a[href="tel:+254733444555"]')).to_have_text("0733 444 555")
    expect(section).to_contain_text("Amina Hassan")
    expect(section.get_by_role("link", name=re.compile("Directions"))).to_have_attribute("href", re.compile("destination=-4.3165"))
    expect(page.locator("#check-in-map")).to_have_attribute("data-ready", "true")
    expect(page.locator("#check-in-map .leaflet-marker-icon")).to_have_count(1)
    _shot(page, "confirmed")

    # Reloaded, the confirmed booking shows the same section from the server.
    page.reload()
    expect(page.locator("#check-in")).to_contain_text("Ask for Juma at the gate.")
    expect(page.locator("#check-in-map .leaflet-marker-icon")).to_have_count(1)
    expect(page.locator("#payment-list .payment-item")).to_have_count(1)


@VIEWPORTS
def test_a_failed_payment_offers_one_try_again_and_another_number(live_site, page):
    from reservations.services import booking_create

    place = _place("Galu Reef House", min_deposit_percent=100)
    guest = UserFactory(name="Zawadi Njeri", email=f"zawadi.{_name(page)}@example.com", phone_number="+254722111333")
    booking = booking_create(user=guest, property_id=place.pk, check_in=future_date(12), check_out=future_date(14), guests=[])
    _log_in(page, live_site, booking, guest)
    phone_url = live_site.url + "/simulator/phone/254722111333/"
    phone = page.context.new_page()

    page.get_by_role("button", name="Send M-Pesa prompt").click()
    expect(page.locator("#status-panel")).to_be_focused()
    answer_prompt(phone, phone_url, action="cancel", expected_amount=12000)

    progress = page.locator("#progress")
    expect(progress).to_have_attribute("data-phase", "cancelled", timeout=PAYMENT_TIMEOUT_MS)
    # One clear action: "Try again"; the form (and its own button) stays out of the way.
    expect(page.get_by_role("button", name="Try again")).to_have_count(1)
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    expect(page.get_by_role("button", name="Send M-Pesa prompt")).to_be_hidden()
    expect(page.get_by_role("button", name="Use another number")).to_be_visible()
    expect(page.locator("#payment-list .payment-item").first).to_have_attribute("data-phase", "cancelled")
    _shot(page, "failed")

    # Try again: the same phone, one tap; focus back on the status.
    page.get_by_role("button", name="Try again").click()
    expect(page.locator("#status-panel")).to_be_focused()
    expect(progress).to_contain_text("Check your phone", timeout=PAYMENT_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Try again")).to_be_hidden()
    answer_prompt(phone, phone_url, action="cancel", expected_amount=12000)
    expect(progress).to_have_attribute("data-phase", "cancelled", timeout=PAYMENT_TIMEOUT_MS)
    expect(page.locator("#payment-list .payment-item")).to_have_count(2)

    # Another number: the form comes back with the phone field focused.
    page.get_by_role("button", name="Use another number").click()
    phone_field = page.get_by_label("M-Pesa phone number")
    expect(phone_field).to_be_focused()
    expect(page.get_by_role("button", name="Try again")).to_be_hidden()
    phone_field.fill("")
    page.get_by_role("button", name="Send M-Pesa prompt").click()
    expect(phone_field).to_be_focused()
    expect(phone_field).to_have_attribute("aria-invalid", "true")
    _shot(page, "another-number")


@VIEWPORTS
def test_add_guest_errors_are_linked_and_focused(live_site, page):
    from reservations.services import booking_create

    place = _place("Galu Garden Flat")
    guest = UserFactory(name="Halima Omar", email=f"halima.{_name(page)}@example.com", phone_number="+254722555666")
    booking = booking_create(user=guest, property_id=place.pk, check_in=future_date(22), check_out=future_date(25), guests=[])
    _log_in(page, live_site, booking, guest)
    page.locator(".add-guest summary").click()
    page.locator("#id_add-email").fill("not-an-email")
    page.get_by_role("button", name="Add guest").click()

    name = page.locator("#id_add-name")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_be_focused()
    for field in ("#id_add-name", "#id_add-email"):
        described = page.locator(field).get_attribute("aria-describedby").split()
        assert described, field
        for element_id in described:
            assert page.locator(f"#{element_id}").count() == 1, element_id
    expect(page.locator("#id_add-name_error")).to_contain_text("Enter this guest's name.")
    _shot(page, "guest-errors")
