"""A staff member in a real browser: log into /admin/, open Payments, filter by status,
re-check a stuck payment with M-Pesa (the simulator over HTTP) and see it paid."""

import re
from pathlib import Path

import pytest

from mpesa.models import Payment
from tests.chromium import BROWSER_MARKS
from tests.factories import start_payment
from tests.factories import (
    DEFAULT_PASSWORD,
    StaffFactory,
    make_booking,
    make_payment,
    make_property,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = BROWSER_MARKS


@pytest.fixture
def allow_orm_beside_playwright(monkeypatch):
    # Playwright's sync API keeps an event loop on this thread; the test's own ORM
    # calls are still synchronous, so Django's async-safety guard does not apply.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.mark.django_db(transaction=True)
def test_staff_filters_payments_and_rechecks_one_with_mpesa(live_server, simulator, allow_orm_beside_playwright, chromium):
    from playwright.sync_api import expect

    staff = StaffFactory(name="Wanjiru Kamau")
    stay = make_property(price_per_night=4500, title="Diani beach house")
    settled = make_payment(booking=make_booking(property=stay, nights=2, check_in=None, reference="NXPAID22"))
    stuck_booking = make_booking(property=stay, nights=3, reference="NXSTUCK3", check_in=settled.booking.check_out)
    simulator.directive("254712345678", callback_mode="never")
    stuck = start_payment(
        booking_id=stuck_booking.pk, user=stuck_booking.primary_guest, phone_number="0712345678", amount=13500
    )
    stuck.refresh_from_db()
    simulator.respond(stuck.checkout_request_id, "pay")
    assert stuck.status == "PENDING"

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "backoffice-payment-recheck.png"
    browser = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = browser.new_page()
    page.set_default_timeout(20_000)

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", staff.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("[data-pending-payments]")).to_contain_text("1 payment waiting for M-Pesa")

    page.get_by_role("link", name="Payments").first.click()
    expect(page).to_have_url(re.compile(r"/admin/snippets/mpesa/payment/"))
    rows = page.locator("#listing-results tbody tr")
    expect(rows).to_have_count(2)

    page.get_by_role("button", name="Filter").click()
    page.locator("button[aria-controls=drilldown-id_status]").click()
    page.locator("#id_status").get_by_label("Pending").check()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("NXSTUCK3")
    expect(page.locator("#listing-results")).not_to_contain_text("NXPAID22")
    page.keyboard.press("Escape")
    page.screenshot(path=str(ARTIFACTS / "backoffice-payments-filtered.png"))

    page.get_by_role("link", name=f"Payment #{stuck.pk}").click()
    expect(page.locator("[data-payment-status]")).to_have_text("Pending")
    page.locator("[data-payment-actions]").get_by_role("link", name="Re-check with M-Pesa").click()

    expect(page.locator(".messages")).to_contain_text(f"payment #{stuck.pk} is now Paid")
    expect(page.locator("[data-payment-status]")).to_have_text("Paid")
    expect(page.locator("[data-last-query]")).to_contain_text("ResultCode")
    expect(page.locator("[data-payment-actions]")).not_to_contain_text("Re-check with M-Pesa")
    page.screenshot(path=str(screenshot), full_page=True)
    browser.close()

    print(f"screenshots: {ARTIFACTS / 'backoffice-payments-filtered.png'} {screenshot}")
    stuck.refresh_from_db()
    assert stuck.status == Payment.Status.SUCCESS and stuck.received_amount == 13500
    stuck_booking.refresh_from_db()
    assert (stuck_booking.status, stuck_booking.amount_paid) == ("CONFIRMED", 13500)
