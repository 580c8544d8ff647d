"""Money going out driven from the Wagtail admin, end to end over real HTTP: the guest pays
through the Daraja simulator's STK push, the owner cancels in the admin, a second staff member
approves the refund, the simulator posts the Reversal's result back, and staff read it on the
refund's page; a failed refund retried from the admin; a payout held and released from the admin
reaching the owner's phone."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mpesa.models import CallbackRecord, Payout, Refund
from mpesa.payouts import payouts_plan
from reservations.models import Booking
from tests.factories import OwnerFactory, StaffFactory, make_booking, make_property, start_payment
from tests.mpesa import conftest as transfer_conftest
from tests.mpesa.conftest import wait_for_status
from tests.processes import wait_until

# The Daraja simulator with B2C / Reversal / Transaction Status (tests/mpesa's fixture, whose key
# pair comes from tests/conftest.py; tests/backoffice/conftest.py's own `simulator` knows only
# the STK push).
transfer_simulator = transfer_conftest.simulator

PHONE = "0712345678"
MSISDN = "254712345678"
OWNER_MSISDN = "254700765432"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _paid_booking(simulator, owner, amount: int, days: int = 30) -> Booking:
    home = make_property(owner=owner, price_per_night=amount // 2, cancellation_policy="strict")
    booking = make_booking(property=home, nights=2, check_in=timezone.localdate() + dt.timedelta(days=days))
    payment = start_payment(booking_id=booking.pk, user=booking.primary_guest, phone_number=PHONE, amount=amount)
    payment.refresh_from_db()
    simulator.respond(payment.checkout_request_id, "pay")
    wait_for_status(payment.pk, "SUCCESS")
    booking.refresh_from_db()
    return booking


def _wait_for_refund(refund_id: int, *statuses: str) -> Refund:
    return wait_until(
        lambda: (r := Refund.objects.get(pk=refund_id)).status in statuses and r,
        timeout=20,
        message=f"refund {refund_id} to become {'/'.join(statuses)}",
    )


def _cancel(client, booking, reason):
    url = reverse("wagtailsnippets_reservations_booking:cancel", args=[booking.pk])
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(url, {"reason": reason})
    assert response.status_code == 302, response.content.decode()[:2000]
    return page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_owner_cancel_then_second_staff_approval_sends_the_reversal(transfer_simulator, site_tree, settings):
    settings.REFUND_APPROVAL_THRESHOLD = 20000
    owner, asker, approver = OwnerFactory(), StaffFactory(name="Asking Staff"), StaffFactory(name="Second Staff")
    booking = _paid_booking(transfer_simulator, owner, 24000)
    assert (booking.status, booking.amount_paid) == ("CONFIRMED", 24000)

    # The owner cancels from the admin: strict policy, but the host cancelling gives all back.
    page = _cancel(_client(owner), booking, "The roof leaks")
    assert "KES 24,000 (everything paid) goes back" in page and "a Nexus staff member approves" in page
    refund = Refund.objects.get(booking=booking)
    assert (refund.status, refund.amount, refund.method) == ("AWAITING_APPROVAL", 24000, "reversal")
    assert transfer_simulator.transfers(party=MSISDN) == []  # nothing leaves before approval

    # The owner asked, so any staff member may approve; a staff member who asked could not.
    Refund.objects.filter(pk=refund.pk).update(requested_by=asker)
    approve = reverse("wagtailsnippets_mpesa_refund:approve", args=[refund.pk])
    refused = _client(asker).post(approve)
    assert refused.status_code == 200 and "another staff member" in refused.content.decode()
    staff = _client(approver)
    dashboard = staff.get("/admin/").content.decode()
    assert 'data-refunds-awaiting="1"' in dashboard
    assert staff.post(approve).status_code == 302

    refund = _wait_for_refund(refund.pk, "SUCCESS")
    booking.refresh_from_db()
    assert (booking.status, booking.cancel_kind, booking.amount_paid) == ("CANCELED", "owner", 0)
    (sent,) = transfer_simulator.transfers(party=MSISDN, kind="reversal")
    assert sent["amount"] == 24000

    # The refund's page shows Daraja's answer, the result as it came, and the stored callback.
    record = CallbackRecord.objects.get(refund=refund, kind="RESULT")
    html = staff.get(reverse("wagtailsnippets_mpesa_refund:inspect", args=[refund.pk])).content.decode()
    assert refund.conversation_id in html and refund.mpesa_transaction_id in html
    assert "Accept the service request successfully." in html
    assert f'data-callback-record="{record.pk}"' in html and "OriginatorConversationID" in html
    assert "refund.approved" in html and "Second Staff" in html
    # The owner sees the refund, settled, without Daraja's raw bodies.
    owner_html = _client(owner).get(reverse("wagtailsnippets_mpesa_refund:inspect", args=[refund.pk])).content
    assert b"Refunded" in owner_html and f'data-callback-record="{record.pk}"'.encode() not in owner_html


@pytest.mark.django_db(transaction=True)
def test_failed_refund_retried_from_the_admin_is_sent_again(transfer_simulator, site_tree):
    owner, staff_user = OwnerFactory(), StaffFactory()
    booking = _paid_booking(transfer_simulator, owner, 8000)
    transfer_simulator.transfer_directive(MSISDN, result="failure")
    _cancel(_client(staff_user), booking, "Double booked")
    failed = _wait_for_refund(Refund.objects.get(booking=booking).pk, "FAILED")
    staff = _client(staff_user)
    assert 'data-refunds-failed="1"' in staff.get("/admin/").content.decode()
    inspect = staff.get(reverse("wagtailsnippets_mpesa_refund:inspect", args=[failed.pk])).content.decode()
    assert "Retry refund" in inspect and "data-failure-reason" in inspect

    response = staff.post(reverse("wagtailsnippets_mpesa_refund:retry", args=[failed.pk]))
    assert response.status_code == 302
    retry = Refund.objects.get(retry_of=failed)
    assert response["Location"] == reverse("wagtailsnippets_mpesa_refund:inspect", args=[retry.pk])
    retry = _wait_for_refund(retry.pk, "SUCCESS")
    booking.refresh_from_db()
    assert booking.amount_paid == 0 and retry.amount == 8000
    assert 'data-refunds-failed="0"' in staff.get("/admin/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_payout_held_and_released_from_the_admin_reaches_the_owner(transfer_simulator, site_tree):
    owner, staff_user = OwnerFactory(payout_phone_number=OWNER_MSISDN), StaffFactory()
    booking = _paid_booking(transfer_simulator, owner, 10000)
    # The stay is over: its payout is due (check-in + PAYOUT_DELAY_HOURS is past).
    Booking.objects.filter(pk=booking.pk).update(
        check_in=timezone.localdate() - dt.timedelta(days=3), check_out=timezone.localdate() - dt.timedelta(days=1)
    )
    payouts_plan()
    payout = Payout.objects.get(booking=booking)
    assert (payout.status, payout.gross, payout.commission, payout.amount) == ("SCHEDULED", 10000, 1000, 9000)

    staff = _client(staff_user)
    assert 'data-payouts-due="1"' in staff.get("/admin/").content.decode()
    owner_dashboard = _client(owner).get("/admin/").content.decode()
    assert 'data-payouts-upcoming="1"' in owner_dashboard and "KES 9,000" in owner_dashboard

    hold = reverse("wagtailsnippets_mpesa_payout:hold", args=[payout.pk])
    assert staff.post(hold, {"reason": "Guest reported damage"}).status_code == 302
    payout.refresh_from_db()
    assert payout.status == "HELD"
    assert transfer_simulator.transfers(party=OWNER_MSISDN) == []

    response = staff.post(reverse("wagtailsnippets_mpesa_payout:release", args=[payout.pk]), follow=True)
    assert response.status_code == 200
    payout = wait_until(
        lambda: (p := Payout.objects.get(pk=payout.pk)).status == "SUCCESS" and p, timeout=20, message="payout sent"
    )
    (sent,) = transfer_simulator.transfers(party=OWNER_MSISDN, kind="b2c")
    assert sent["amount"] == 9000
    html = staff.get(reverse("wagtailsnippets_mpesa_payout:inspect", args=[payout.pk])).content.decode()
    assert payout.mpesa_transaction_id in html and "payout.held" in html and "payout.hold_lifted" in html
    assert re.search(r'data-callback-record="\d+"', html)
    assert 'data-payouts-due="0"' in staff.get("/admin/").content.decode()
