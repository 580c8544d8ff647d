"""Issue 11 item 14: a staff (or owner, guest, deadline) cancellation is final.

Only a booking cancelled because its payment failed may be revived, by paying again while
its dates are free; the API and the site go through the same service. A late success on a
booking cancelled for good keeps the booking cancelled and flags the money for refund.
"""

import datetime as dt
import importlib
import json

import pytest
from django.apps import apps as django_apps
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from mpesa.models import Payment
from reservations.models import Booking
from reservations.staff_services import booking_staff_cancel
from tests.factories import StaffFactory, future_date, make_booking, make_payment, make_property

pytestmark = pytest.mark.django_db

TOKEN = "cancellations-test-token-0123456789ab"
PHONE = "0712345678"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _api_pay(user, booking, amount=2000):
    return client_for(user).post(
        f"/api/bookings/{booking.pk}/payments/", {"phone_number": PHONE, "amount": amount}, format="json"
    )


def _site_pay(user, booking, amount=2000):
    client = Client()
    client.force_login(user)
    return client.post(
        reverse("payments:booking_pay", args=[booking.pk]),
        {"phone_number": PHONE, "amount": str(amount)},
        HTTP_ACCEPT="application/json",
    )


def _booking_with_a_failed_payment(prop=None):
    """What a guest whose prompt failed has: nothing paid, the one attempt FAILED."""
    booking = make_booking(property=prop or make_property(price_per_night=5000), nights=2)
    failed = make_payment(
        booking=booking, status="FAILED", amount=2000, result_code="1032", result_desc="Request cancelled by user"
    )
    return booking, failed


def _staff_cancelled():
    booking, failed = _booking_with_a_failed_payment()
    booking_staff_cancel(booking_id=booking.pk, actor=StaffFactory(), reason="Guest broke house rules")
    booking.refresh_from_db()
    assert booking.status == "CANCELED" and booking.cancel_kind == "staff"
    return booking, failed


def _payment_failed_cancelled(prop=None):
    """Cancelled by the payment service itself, the way a failure callback does it."""
    from mpesa.settle import Outcome, payment_settle

    booking, _ = _booking_with_a_failed_payment(prop)
    pending = make_payment(booking=booking, status="PENDING", amount=2000, phone_number="254700000077")
    payment_settle(
        payment_id=pending.pk,
        outcome=Outcome(paid=False, source="callback", result_code="1032", result_desc="Request cancelled by user"),
    )
    booking.refresh_from_db()
    assert booking.status == "CANCELED" and booking.cancel_kind == "payment_failed"
    return booking


def _success_callback(payment, amount):
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": payment.merchant_request_id,
                "CheckoutRequestID": payment.checkout_request_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": amount},
                        {"Name": "MpesaReceiptNumber", "Value": "SLT4TE5UCC"},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20270110093015},
                        {"Name": "PhoneNumber", "Value": int(payment.phone_number)},
                    ]
                },
            }
        }
    }


# --- Staff cancellation is final -----------------------------------------------------------------


def test_paying_again_through_the_api_cannot_undo_a_staff_cancellation():
    booking, _ = _staff_cancelled()
    response = _api_pay(booking.primary_guest, booking)
    assert (response.status_code, response.json()["code"]) == (409, "booking_not_payable")
    booking.refresh_from_db()
    assert booking.status == "CANCELED" and booking.cancel_kind == "staff"
    assert not Payment.objects.filter(booking=booking, status="QUEUED").exists()


def test_paying_again_through_the_site_cannot_undo_a_staff_cancellation():
    booking, _ = _staff_cancelled()
    response = _site_pay(booking.primary_guest, booking)
    assert response.status_code == 409 and response.json()["code"] == "booking_not_payable"
    booking.refresh_from_db()
    assert booking.status == "CANCELED"
    page = Client()
    page.force_login(booking.primary_guest)
    html = page.get(reverse("reservations:booking_detail", args=[booking.pk])).content.decode()
    assert "Pay now to try again" not in html


def test_a_late_success_on_a_staff_cancelled_booking_keeps_it_cancelled_and_refunds_it(settings):
    settings.MPESA_CALLBACK_TOKEN = TOKEN
    booking, failed = _staff_cancelled()
    # The prompt that "failed" (no answer in time) was in fact paid: M-Pesa says so late.
    Payment.objects.filter(pk=failed.pk).update(result_code=None, failure_reason="timed out")
    failed.refresh_from_db()

    response = Client().post(
        f"/payments/callback/{TOKEN}/", data=json.dumps(_success_callback(failed, 2000)), content_type="application/json"
    )

    assert response.status_code == 200
    failed.refresh_from_db()
    assert failed.status == "SUCCESS" and failed.flagged
    assert "refund" in failed.flag_reason.lower()
    # The money goes back by itself: a Reversal of its receipt (mpesa.refunds_out).
    refund = failed.daraja_refunds.get()
    assert (refund.method, refund.amount) == ("reversal", 2000) and not failed.needs_refund
    booking.refresh_from_db()
    assert booking.status == "CANCELED" and booking.cancel_kind == "staff"


@pytest.mark.parametrize("kind", ["guest", "owner", "hold_expired", "balance_deadline", ""])
def test_no_cancellation_but_a_failed_payment_is_revivable(kind):
    from reservations.services import booking_is_revivable

    booking, _ = _booking_with_a_failed_payment()
    Booking.objects.filter(pk=booking.pk).update(
        status="CANCELED", cancel_kind=kind, canceled_at=timezone.now(), cancel_reason="Payment failed: looks like it"
    )
    booking.refresh_from_db()
    assert booking_is_revivable(booking) is False
    assert _api_pay(booking.primary_guest, booking).json()["code"] == "booking_not_payable"


# --- A payment-failed cancellation may be revived -----------------------------------------------------


def test_a_payment_failed_cancellation_is_revived_through_the_api_with_a_new_hold():
    booking = _payment_failed_cancelled()
    response = _api_pay(booking.primary_guest, booking)
    assert response.status_code == 202, response.content
    booking.refresh_from_db()
    assert booking.status == "PENDING" and booking.cancel_kind == ""
    assert booking.hold_expires_at > timezone.now() + dt.timedelta(minutes=10)
    assert Payment.objects.filter(booking=booking, status="QUEUED").count() == 1


def test_a_payment_failed_cancellation_is_revived_through_the_site_the_same_way():
    booking = _payment_failed_cancelled()
    response = _site_pay(booking.primary_guest, booking)
    assert response.status_code == 202, response.content
    booking.refresh_from_db()
    assert booking.status == "PENDING" and booking.hold_expires_at > timezone.now() + dt.timedelta(minutes=10)


def test_a_payment_failed_cancellation_is_not_revived_once_its_dates_are_taken():
    booking = _payment_failed_cancelled()
    make_booking(property=booking.property, check_in=booking.check_in, nights=1)
    response = _api_pay(booking.primary_guest, booking)
    assert (response.status_code, response.json()["code"]) == (409, "dates_unavailable")
    booking.refresh_from_db()
    assert booking.status == "CANCELED"
    assert not Payment.objects.filter(booking=booking, status="QUEUED").exists()


def test_a_refused_retry_leaves_the_booking_cancelled():
    booking = _payment_failed_cancelled()
    response = _api_pay(booking.primary_guest, booking, amount=1)  # under the deposit
    assert response.status_code == 400
    booking.refresh_from_db()
    assert booking.status == "CANCELED" and booking.cancel_kind == "payment_failed"


def test_a_late_success_on_a_payment_failed_cancellation_restores_it_while_its_dates_are_free(settings):
    settings.MPESA_CALLBACK_TOKEN = TOKEN
    booking = _payment_failed_cancelled()
    failed = Payment.objects.filter(booking=booking, status="FAILED").order_by("-pk").first()
    Payment.objects.filter(pk=failed.pk).update(result_code=None)  # failed on our deadline; M-Pesa was slow
    failed.refresh_from_db()

    Client().post(
        f"/payments/callback/{TOKEN}/", data=json.dumps(_success_callback(failed, 2000)), content_type="application/json"
    )

    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.cancel_kind) == ("PROCESSING", 2000, "")
    failed.refresh_from_db()
    assert failed.status == "SUCCESS" and not failed.needs_refund


# --- Existing rows ---------------------------------------------------------------------------------


def test_the_data_migration_infers_the_kind_from_the_reason_and_leaves_the_rest_final():
    migration = importlib.import_module("reservations.migrations.0007_booking_cancel_kind_backfill")

    prop = make_property(price_per_night=5000)
    rows = {}
    for key, reason in {
        "failed": "Payment failed: Request cancelled by user",
        "guest": "Cancelled by the guest",
        "staff": "Cancelled by Nexus: double booking",
        "hold": "Hold expired before payment",
        "odd": "Something else",
        "forged": "Payment failed: typed by a guest",
    }.items():
        booking = make_booking(property=prop, check_in=future_date(10 + 5 * len(rows)), status="CANCELED",
                               cancel_reason=reason, canceled_at=timezone.now())
        rows[key] = booking
    make_payment(booking=rows["failed"], status="FAILED", amount=2000, created_at=timezone.now())
    Payment.objects.filter(booking=rows["failed"]).update(created_at=timezone.now() - dt.timedelta(minutes=1))

    migration.infer_cancel_kind(django_apps, None)

    kinds = {key: Booking.objects.get(pk=b.pk).cancel_kind for key, b in rows.items()}
    assert kinds == {
        "failed": "payment_failed",
        "guest": "guest",
        "staff": "staff",
        "hold": "hold_expired",
        "odd": "",
        "forged": "",  # says "payment failed" but no failed payment backs it: final
    }
