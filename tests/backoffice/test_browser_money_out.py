"""Staff in a real browser at 1280 x 800: the Refunds and Payouts lists fit the screen with
long titles and six-figure amounts, a second staff member approves a refund through its
confirmation page, and an owner's dashboard shows their upcoming payouts."""

import datetime as dt
import os
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from mpesa.models import Payout, Refund
from tests.backoffice.test_browser_admin_glance import assert_fits
from tests.chromium import BROWSER_MARKS
from tests.factories import (
    DEFAULT_PASSWORD,
    OwnerFactory,
    StaffFactory,
    UserFactory,
    make_booking,
    make_payment,
    make_property,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = BROWSER_MARKS

# See tests/backoffice/test_browser_admin_glance.py: the ORM runs beside Playwright's loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _seed(owner, asker):
    villa = make_property(owner=owner, title="Kilimani two-bedroom serviced apartment", price_per_night=68000)
    rows = []
    for n, status in enumerate(["AWAITING_APPROVAL", "FAILED", "SUCCESS", "PENDING"]):
        booking = make_booking(
            property=villa, guest=UserFactory(name="Wanjiku Njeri Kamau-Otieno"), status="CONFIRMED",
            check_in=timezone.localdate() + dt.timedelta(days=20 + 7 * n), nights=3, amount_paid=204000,
        )
        payment = make_payment(booking=booking, amount=204000, phone_number=f"25471111111{n}")
        rows.append(Refund.objects.create(
            booking=booking, payment=payment, amount=204000, method="reversal", status=status,
            phone_number=payment.phone_number, reason=f"Booking {booking.reference}: cancelled by the host",
            requested_by=asker, originator_conversation_id=f"browser-{uuid.uuid4().hex}",
            failure_reason="The OriginalTransactionID is invalid." if status == "FAILED" else "",
        ))
        Payout.objects.create(
            booking=booking, owner=owner, status=["SCHEDULED", "HELD", "SUCCESS", "FAILED"][n], gross=204000,
            commission=20400, amount=183600, method="b2c", phone_number="254700765432",
            due_at=timezone.now() + dt.timedelta(days=21 + 7 * n), hold_reason="Guest reported damage" if n == 1 else "",
            originator_conversation_id=f"browser-{uuid.uuid4().hex}",
        )
    return rows


def _login(page, base, user):
    page.goto(f"{base}/admin/login/")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")


@pytest.mark.django_db(transaction=True)
def test_money_out_lists_fit_and_a_second_staff_member_approves(live_server, site_tree, chromium, monkeypatch):
    from playwright.sync_api import expect

    # The approved refund is queued, not sent: no Daraja here (the simulator flows are in
    # test_money_out_admin_flows.py).
    monkeypatch.setattr("mpesa.refunds_out.transfer_enqueue_on_commit", lambda transfer: None)

    owner, asker, approver = OwnerFactory(name="Amina Owner"), StaffFactory(), StaffFactory(name="Second Staff")
    awaiting, *_ = _seed(owner, asker)
    ARTIFACTS.mkdir(exist_ok=True)
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(20_000)
    _login(page, live_server.url, approver)
    expect(page.locator("[data-refunds-awaiting]")).to_have_attribute("data-refunds-awaiting", "1")

    page.goto(f"{live_server.url}/admin/snippets/mpesa/refund/")
    expect(page.locator("#listing-results tbody tr")).to_have_count(4)
    expect(page.locator("#listing-results")).to_contain_text("KES 204,000")
    expect(page.locator("#listing-results")).to_contain_text("The OriginalTransactionID")
    page.screenshot(path=str(ARTIFACTS / "backoffice-refunds-1280.png"), full_page=True)
    assert_fits(page)

    page.goto(f"{live_server.url}/admin/snippets/mpesa/payout/")
    expect(page.locator("#listing-results tbody tr")).to_have_count(4)
    expect(page.locator("#listing-results")).to_contain_text("Guest reported damage")
    page.screenshot(path=str(ARTIFACTS / "backoffice-payouts-1280.png"), full_page=True)
    assert_fits(page)

    page.goto(f"{live_server.url}/admin/snippets/mpesa/refund/inspect/{awaiting.pk}/")
    page.locator("[data-transfer-actions]").get_by_role("link", name="Approve refund").click()
    expect(page.locator("main")).to_contain_text("KES 204,000 is sent through M-Pesa at once")
    page.get_by_role("button", name="Approve and send").click()
    expect(page.locator("[data-transfer-status]")).to_have_text("Queued")
    expect(page.locator("[data-approved-by]")).to_contain_text("Second Staff")
    awaiting.refresh_from_db()
    assert awaiting.status == "QUEUED" and awaiting.approved_by == approver
    context.close()

    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    _login(page, live_server.url, owner)
    expect(page.locator("[data-payouts-upcoming]")).to_have_attribute("data-payouts-upcoming", "2")
    expect(page.locator("[data-payouts-upcoming-total]")).to_have_text("KES 367,200")
    page.screenshot(path=str(ARTIFACTS / "backoffice-owner-payouts-1280.png"), full_page=True)
    context.close()
