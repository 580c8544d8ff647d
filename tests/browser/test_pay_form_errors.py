"""The pay form's errors are announced and linked: the field is marked invalid, points at its
message, and takes the focus (WCAG 3.3.1, 4.1.2), instead of focus dropping to the page."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import listing
from tests.factories import DEFAULT_PASSWORD, UserFactory, future_date

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_missing_phone_number_marks_the_field_invalid_links_the_message_and_focuses_it(live_site, page):
    from reservations.services import booking_create

    place = listing(title="Lamu Dhow House", town="Lamu", area="Shela", price_per_night=7000, photos=1)
    guest = UserFactory(name="Halima Omar", email="halima.errors@example.com", phone_number="")
    booking = booking_create(user=guest, property_id=place.pk, check_in=future_date(15), check_out=future_date(17), guests=[])

    page.goto(live_site.url + f"/bookings/{booking.pk}/")
    page.get_by_label("Email").fill(guest.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    phone = page.get_by_label("M-Pesa phone number")
    phone.fill("")
    page.get_by_role("button", name="Send M-Pesa prompt").click()

    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_be_focused()
    described = phone.get_attribute("aria-describedby").split()
    assert "id_phone_number_error" in described
    for element_id in described:  # every reference resolves: no broken links
        assert page.locator(f"#{element_id}").count() == 1, element_id
    expect(page.locator("#id_phone_number_error")).to_have_text("Enter the M-Pesa phone number to send the prompt to.")

    # Fixing it clears the mark on the next try.
    phone.fill("0712345678")
    page.get_by_label("Amount (KES)").fill("0")
    page.get_by_role("button", name="Send M-Pesa prompt").click()
    amount = page.get_by_label("Amount (KES)")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(amount).to_be_focused()
    expect(phone).not_to_have_attribute("aria-invalid", "true")
