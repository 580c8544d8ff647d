"""Staff in a real browser at 1280 x 800: the bookings list shows real dates ("Thu 10 Dec
2026", not "4 weeks ago"), payment badges have three colours, and neither list scrolls
sideways."""

import datetime as dt
import os
from pathlib import Path

import pytest

from mpesa.models import Payment
from reservations.models import Booking
from tests.chromium import BROWSER_MARKS
from tests.factories import DEFAULT_PASSWORD, StaffFactory, UserFactory, make_booking, make_payment, make_property

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = BROWSER_MARKS

CHECK_IN = dt.date(2026, 12, 10)
BOOKED_AT = dt.datetime(2026, 11, 12, 6, 5, tzinfo=dt.timezone.utc)  # 09:05 in Nairobi


# Playwright's sync API keeps an event loop on this thread from the first browser test to
# the end of the session; the ORM calls here, and the database set-up and flush around
# the test, are still synchronous, so Django's async-safety guard does not apply
# (tests/browser/conftest.py does the same).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def seed_a_busy_month():
    """Realistically long titles and names, every payment status, a flagged refund."""
    villa = make_property(title="Nyali beachfront villa with pool", price_per_night=12500)
    # Six-figure totals: the widest amounts a list has to fit.
    flat = make_property(title="Kilimani two-bedroom serviced apartment", price_per_night=68000)
    guests = [
        UserFactory(name="Wanjiku Njeri Kamau-Otieno"),
        UserFactory(name="Mohamed Abdullahi Hassan"),
        UserFactory(name="Achieng Atieno Odhiambo"),
    ]
    bookings = []
    for n, (stay, guest) in enumerate([(villa, guests[0]), (flat, guests[1]), (villa, guests[2]), (flat, guests[0])]):
        booking = make_booking(
            property=stay,
            guest=guest,
            check_in=CHECK_IN + dt.timedelta(days=7 * n),
            nights=3,
            status=["CONFIRMED", "PENDING", "PROCESSING", "CANCELED"][n],
            reference=f"NXGLNC{n}A",
        )
        bookings.append(booking)
    Booking.objects.update(booking_date=BOOKED_AT)
    make_payment(booking=bookings[0], phone_number="254711111111")
    make_payment(
        booking=bookings[1],
        status="FAILED",
        amount=20400,
        phone_number="254722222222",
        result_code="2001",
        result_desc="The initiator information is invalid.",
        failure_reason="Wrong M-Pesa PIN entered by the customer (Daraja result 2001)",
    )
    make_payment(booking=bookings[2], status="PENDING", amount=18750, phone_number="254733333333")
    make_payment(booking=bookings[2], status="QUEUED", amount=18750, phone_number="254733333333")
    make_payment(
        booking=bookings[3], phone_number="254744444444", flagged=True, needs_refund=True, flag_reason="Cancelled"
    )
    Payment.objects.update(created_at=BOOKED_AT)
    return bookings


def assert_fits(page, width=1280):
    """Nothing to scroll sideways, and nothing clipped: Wagtail's main area hides its
    horizontal overflow, so the page's scrollWidth alone would not see a table cut off."""
    sizes = page.evaluate(
        """() => {
            const main = document.querySelector('main');
            const table = document.querySelector('#listing-results table');
            return {
                page: document.documentElement.scrollWidth,
                main: main.scrollWidth,
                mainVisible: main.clientWidth,
                tableRight: table.getBoundingClientRect().right,
            };
        }"""
    )
    assert sizes["page"] <= width, sizes
    assert sizes["main"] <= sizes["mainVisible"] and sizes["tableRight"] <= width, sizes


@pytest.mark.django_db(transaction=True)
def test_staff_see_real_dates_and_lists_fit_a_laptop_screen(live_server, chromium):
    from playwright.sync_api import expect

    seed_a_busy_month()
    staff = StaffFactory(name="Wanjiru Kamau")
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(20_000)
    ARTIFACTS.mkdir(exist_ok=True)

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", staff.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_role("link", name="Bookings").first).to_be_visible()

    page.goto(f"{live_server.url}/admin/snippets/reservations/booking/")
    rows = page.locator("#listing-results tbody tr")
    expect(rows).to_have_count(4)
    first = rows.filter(has_text="NXGLNC0A")
    expect(first).to_contain_text("Thu 10 Dec 2026")  # check-in
    expect(first).to_contain_text("Sun 13 Dec 2026")  # check-out
    expect(first).to_contain_text("Thu 12 Nov 2026, 09:05")  # booked, Nairobi time
    expect(first).to_contain_text("KES 37,500")
    expect(page.locator("#listing-results")).not_to_contain_text(" ago")
    page.screenshot(path=str(ARTIFACTS / "backoffice-bookings-1280.png"), full_page=True)
    assert_fits(page)

    page.goto(f"{live_server.url}/admin/snippets/mpesa/payment/")
    rows = page.locator("#listing-results tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.filter(has_text="NXGLNC1A")).to_contain_text("Wrong M-Pesa PIN")
    expect(page.locator("#listing-results")).to_contain_text("Thu 12 Nov 2026, 09:05")
    colours = page.evaluate(
        """() => Object.fromEntries(['positive', 'critical', 'pending'].map(tone => {
            const badge = document.querySelector(`#listing-results .nexus-badge--${tone}`);
            return [tone, badge ? getComputedStyle(badge).backgroundColor : null];
        }))"""
    )
    assert None not in colours.values() and len(set(colours.values())) == 3, colours
    page.screenshot(path=str(ARTIFACTS / "backoffice-payments-1280.png"), full_page=True)
    assert_fits(page)

    for report in ("bookings", "payments"):
        page.goto(f"{live_server.url}/admin/reports/{report}/")
        expect(page.locator("#listing-results")).to_contain_text("Thu 12 Nov 2026, 09:05")
        assert_fits(page)
    context.close()
