"""A guest cancels a paid booking in a real browser: pays on the simulator's virtual phone,
opens "Cancel this booking", sees the refund before confirming, confirms, and the refund
arrives on the virtual phone (B2C through the simulator, its result posted back to the site),
while the booking page follows it live."""

import re
import shutil

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PAYMENT_TIMEOUT_MS, listing, screenshot
from tests.factories import DEFAULT_PASSWORD, UserFactory, future_date

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "254712345678"


@pytest.fixture
def money_out(live_site, settings, tmp_path):
    """The simulator's key pair and initiator for this test: refunds are sent with a
    SecurityCredential the simulator decrypts (docs/money-out.md)."""
    from mpesa.simulator.keys import CERTIFICATE_NAME, ensure_key_pair

    key_dir = tmp_path / "simulator-keys"
    ensure_key_pair(key_dir)
    settings.MPESA_SIMULATOR_KEY_DIR = str(key_dir)
    settings.MPESA_CERTIFICATE_PATH = str(key_dir / CERTIFICATE_NAME)
    settings.MPESA_INITIATOR_NAME = settings.MPESA_SIMULATOR_INITIATOR_NAME
    settings.MPESA_INITIATOR_PASSWORD = settings.MPESA_SIMULATOR_INITIATOR_PASSWORD
    settings.MPESA_B2C_SHORTCODE = settings.MPESA_SIMULATOR_SHORTCODE
    yield live_site
    shutil.rmtree(key_dir, ignore_errors=True)


def _pay_on_the_phone(phone_page, url: str, amount: int) -> None:
    phone_page.goto(url)
    prompt = phone_page.locator("form.prompt")
    expect(prompt).to_have_count(1, timeout=PAYMENT_TIMEOUT_MS)
    expect(prompt).to_have_attribute("data-amount", str(amount))
    prompt.locator("input[name=pin]").fill("1234")
    prompt.get_by_role("button", name="Pay").click()
    expect(phone_page.locator("form.prompt")).to_have_count(0)


def test_a_guest_cancels_a_paid_booking_and_the_refund_reaches_the_phone(money_out, page):
    from mpesa.models import Refund
    from reservations.models import Booking
    from reservations.services import booking_create

    live_site = money_out
    # Moderate policy, check-in in 3 days: half of what was paid comes back, by B2C.
    place = listing(
        title="Nanyuki Cedar Cabin", town="Nanyuki", area="Mount Kenya foothills", price_per_night=6000,
        cancellation_policy="moderate", color=(90, 120, 70),
    )
    guest = UserFactory(name="Wanjiru Kamau", email="wanjiru@example.com", phone_number="+" + PHONE)
    booking = booking_create(user=guest, property_id=place.pk, check_in=future_date(3), check_out=future_date(5), guests=[])

    # The listing states its policy before anyone books.
    page.goto(live_site.url + place.url)
    expect(page.locator("#cancellation-policy")).to_contain_text("Moderate: full refund until 5 days before check-in")
    expect(page.locator("#booking-policy")).to_contain_text("Cancellation: Moderate")

    # Log in, pay the whole stay on the virtual phone.
    page.goto(live_site.url + f"/bookings/{booking.pk}/")
    page.get_by_label("Email").fill(guest.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#policy-note")).to_contain_text("Moderate: full refund until 5 days before check-in, 50 % after")
    expect(page.locator("#id_amount")).to_have_value("12000")
    page.get_by_role("button", name="Send M-Pesa prompt").click()
    expect(page.locator("#progress")).to_contain_text("Check your phone", timeout=PAYMENT_TIMEOUT_MS)
    phone = page.context.new_page()
    phone_url = live_site.url + f"/simulator/phone/{PHONE}/"
    _pay_on_the_phone(phone, phone_url, 12000)
    badge = page.locator("#status-badge")
    expect(badge).to_have_attribute("data-status", "CONFIRMED", timeout=PAYMENT_TIMEOUT_MS)

    # "Cancel this booking" opens the confirmation with the refund, asked fresh from the API.
    cancel = page.get_by_role("link", name="Cancel this booking")
    expect(cancel).to_be_visible()
    cancel.click()
    dialog = page.locator("#cancel-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("refund-amount")).to_have_text("KES 6,000")
    expect(dialog).to_contain_text("Not refunded")
    expect(dialog).to_contain_text("50 % of the KES 12,000 paid, KES 6,000, goes back to the phone that paid")
    confirm = dialog.get_by_role("button", name="Yes, cancel and refund KES 6,000")
    expect(confirm).to_be_enabled()
    # Keyboard: the dialog opens on "Keep my booking"; Escape closes it and nothing happens.
    expect(dialog.get_by_role("button", name="Keep my booking")).to_be_focused()
    screenshot(page, "cancel-dialog")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(cancel).to_be_focused()
    assert Booking.objects.get(pk=booking.pk).status == "CONFIRMED"

    page.keyboard.press("Enter")  # on the focused link: the dialog again
    expect(dialog).to_be_visible()
    expect(confirm).to_be_enabled()
    confirm.click()

    # The booking page says what comes back, and to which phone; then follows it live.
    expect(badge).to_have_attribute("data-status", "CANCELED")
    expect(page.locator(".messages")).to_contain_text("KES 6,000 is being refunded to the phone that paid")
    refunds = page.locator("#refunds")
    expect(refunds).to_contain_text("to 0712•••678")
    screenshot(page, "cancel-refund-on-its-way")

    # The money lands on the virtual phone, as M-Pesa words it.
    phone.goto(phone_url)
    received = phone.get_by_test_id("money-received")
    expect(received).to_contain_text("You have received KES 6,000 from", timeout=PAYMENT_TIMEOUT_MS)
    screenshot(phone, "cancel-refund-virtual-phone")

    expect(page.locator("#refund-list .refund-item")).to_have_attribute("data-phase", "refunded", timeout=PAYMENT_TIMEOUT_MS)
    expect(page.locator("#refunds-summary")).to_contain_text("KES 6,000 has been refunded to 0712•••678.")
    refund = Refund.objects.get(booking=booking)
    assert (refund.status, refund.method, refund.amount, refund.phone_number) == ("SUCCESS", "b2c", 6000, PHONE)
    assert re.fullmatch(r"[A-Z0-9]{10}", refund.mpesa_transaction_id or ""), refund.mpesa_transaction_id
    expect(page.locator("#refund-list")).to_contain_text(refund.mpesa_transaction_id)
    screenshot(page, "cancel-refund-refunded")
