"""A guest pays with the virtual phone and the "payment received" SMS arrives on that phone's
page, next to the M-Pesa prompts (SMS_BACKEND=simulator)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PAYMENT_TIMEOUT_MS, listing, screenshot
from tests.factories import DEFAULT_PASSWORD, UserFactory, future_date

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_guest_pays_and_sees_the_payment_received_sms_on_the_virtual_phone(live_site, page, settings):
    from mpesa.simulator.models import SimulatedSms
    from reservations.services import booking_create

    settings.SMS_BACKEND = "simulator"
    place = listing(title="Kilifi Creek Bungalow", town="Kilifi", area="Mnarani", price_per_night=4500, color=(60, 150, 140))
    guest = UserFactory(name="Zawadi Njeri", email="zawadi.sms@example.com", phone_number="+254722555777")
    booking = booking_create(user=guest, property_id=place.pk, check_in=future_date(12), check_out=future_date(14), guests=[])

    page.goto(live_site.url + f"/bookings/{booking.pk}/")
    page.get_by_label("Email").fill(guest.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#id_amount")).to_have_value("9000")
    page.get_by_role("button", name="Send M-Pesa prompt").click()
    expect(page.locator("#progress")).to_contain_text("Check your phone", timeout=PAYMENT_TIMEOUT_MS)

    phone = page.context.new_page()
    phone.goto(live_site.url + "/simulator/phone/254722555777/")
    prompt = phone.locator("form.prompt")
    expect(prompt).to_have_count(1, timeout=PAYMENT_TIMEOUT_MS)
    prompt.locator("input[name=pin]").fill("1234")
    prompt.get_by_role("button", name="Pay").click()
    expect(page.locator("#status-badge")).to_have_attribute("data-status", "CONFIRMED", timeout=PAYMENT_TIMEOUT_MS)

    # The phone page reloads by itself when an SMS arrives.
    inbox = phone.get_by_test_id("sms-inbox")
    received = inbox.locator("li.sms").filter(has_text="payment received")
    expect(received).to_have_count(1, timeout=PAYMENT_TIMEOUT_MS)
    expect(received).to_contain_text(re.compile(rf"Nexus: payment received, KES 9,000 \(M-Pesa \w+\) for booking {booking.reference}"))
    expect(received).to_contain_text("Paid in full.")
    expect(inbox.locator("li.sms").filter(has_text=f"booking {booking.reference} at Kilifi Creek Bungalow is confirmed")).to_have_count(1)
    screenshot(phone, "virtual-phone-sms")
    # Once each, whatever the page reloads and repeated callbacks did.
    assert SimulatedSms.objects.filter(phone_number="254722555777", message__contains="payment received").count() == 1
