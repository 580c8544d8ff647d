"""Paying again after a failed payment: the API (POST /api/bookings/{id}/payments/) and the
site's pay form take the same road (mpesa.start.payment_start ->
reservations.services.booking_prepare_for_payment). A booking its failed payment cancelled
comes back to PENDING with a new hold while its dates are free, and both refuse with 409
dates_unavailable once someone else has booked them (docs/booking-rules.md).
"""

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import AuditEntry
from mpesa.models import CallbackRecord, Payment
from reservations.models import Booking
from reservations.services import booking_create
from tests.factories import UserFactory, make_booking, make_payment, make_property, recompute_booking_money
from tests.mpesa.conftest import CALLBACK_TOKEN, simulator, wait_for_status  # noqa: F401 (fixture)
from tests.processes import wait_until

PHONE = "0712345678"
MSISDN = "254712345678"
TOTAL = 10_000


def _api_pay(booking, amount=TOTAL):
    client = APIClient()
    client.force_authenticate(booking.primary_guest)
    response = client.post(
        f"/api/bookings/{booking.pk}/payments/", {"phone_number": PHONE, "amount": amount}, format="json"
    )
    return response.status_code, response.json()


def _site_pay(booking, amount=TOTAL):
    client = Client()
    client.force_login(booking.primary_guest)
    response = client.post(
        _pay_url(booking),
        {"phone_number": PHONE, "amount": str(amount)},
        HTTP_ACCEPT="application/json",
    )
    return response.status_code, response.json()


def _pay_url(booking) -> str:
    """The site's pay form posts here (the booking page's own path)."""
    return f"/bookings/{booking.pk}/pay/"


CHANNELS = {"api": _api_pay, "site": _site_pay}


def _cancelled_by_a_failed_payment(settings) -> Booking:
    """A PENDING booking whose only payment the guest cancelled on the phone: M-Pesa's
    failure callback, through the view and the ledger, cancels it (kind payment_failed)."""
    settings.MPESA_CALLBACK_TOKEN = CALLBACK_TOKEN
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    payment = make_payment(booking=booking, status="PENDING", amount=TOTAL)
    recompute_booking_money(booking.pk)
    body = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": payment.merchant_request_id,
                "CheckoutRequestID": payment.checkout_request_id,
                "ResultCode": 1032,
                "ResultDesc": "Request cancelled by user",
            }
        }
    }
    response = Client().post(
        f"/payments/callback/{CALLBACK_TOKEN}/", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200
    assert CallbackRecord.objects.get().state == "APPLIED"
    booking.refresh_from_db()
    assert (booking.status, booking.cancel_kind, booking.amount_in_flight) == ("CANCELED", "payment_failed", 0)
    return booking


def _take_the_dates(booking: Booking) -> Booking:
    """Someone else books one of the released nights, through the booking service."""
    return booking_create(
        user=UserFactory(),
        property_id=booking.property_id,
        check_in=booking.check_in + dt.timedelta(days=1),
        check_out=booking.check_out + dt.timedelta(days=1),
        guests=[],
    )


@pytest.mark.django_db
@pytest.mark.parametrize("pay", CHANNELS.values(), ids=CHANNELS.keys())
def test_paying_again_revives_a_payment_failed_booking_while_its_dates_are_free(settings, pay):
    booking = _cancelled_by_a_failed_payment(settings)

    status, body = pay(booking)

    assert status == 202, body
    booking.refresh_from_db()
    assert (booking.status, booking.cancel_kind, booking.canceled_at, booking.cancel_reason) == ("PENDING", "", None, "")
    assert booking.hold_expires_at > timezone.now() + dt.timedelta(minutes=settings.BOOKING_HOLD_MINUTES - 1)
    assert booking.amount_in_flight == TOTAL
    retry = Payment.objects.get(booking=booking, status="QUEUED")
    assert (retry.amount, retry.phone_number, retry.initiated_by_id) == (TOTAL, MSISDN, booking.primary_guest_id)
    assert AuditEntry.objects.filter(object_id=str(booking.pk), action="booking.restored_for_retry").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("pay", CHANNELS.values(), ids=CHANNELS.keys())
def test_paying_again_is_refused_once_the_dates_were_taken_meanwhile(settings, pay):
    booking = _cancelled_by_a_failed_payment(settings)
    taker = _take_the_dates(booking)

    status, body = pay(booking)

    assert (status, body["code"]) == (409, "dates_unavailable"), body
    booking.refresh_from_db()
    assert (booking.status, booking.cancel_kind, booking.amount_in_flight) == ("CANCELED", "payment_failed", 0)
    assert not Payment.objects.filter(booking=booking, status__in=["QUEUED", "PENDING"]).exists()
    assert not AuditEntry.objects.filter(object_id=str(booking.pk), action="booking.restored_for_retry").exists()
    taker.refresh_from_db()
    assert taker.status == "PENDING"


@pytest.mark.django_db
def test_the_pay_form_without_javascript_revives_and_refuses_the_same_way(settings):
    booking = _cancelled_by_a_failed_payment(settings)
    client = Client()
    client.force_login(booking.primary_guest)
    url = _pay_url(booking)

    revived = client.post(url, {"phone_number": PHONE, "amount": str(TOTAL)})

    retry = Payment.objects.get(booking=booking, status="QUEUED")
    assert revived.status_code == 302 and revived["Location"].endswith(f"?payment={retry.pk}#pay")
    booking.refresh_from_db()
    assert booking.status == "PENDING"

    # The retry fails too, someone takes the dates, and the guest tries once more.
    Payment.objects.filter(pk=retry.pk).update(status="FAILED", result_code="1032")
    Booking.objects.filter(pk=booking.pk).update(
        status="CANCELED", cancel_kind="payment_failed", canceled_at=timezone.now(), cancel_reason="Payment failed"
    )
    recompute_booking_money(booking.pk)
    _take_the_dates(booking)

    refused = client.post(url, {"phone_number": PHONE, "amount": str(TOTAL)})

    assert refused.status_code == 409
    assert "someone else booked some of these nights" in refused.content.decode()
    booking.refresh_from_db()
    assert booking.status == "CANCELED"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pay", CHANNELS.values(), ids=CHANNELS.keys())
def test_a_guest_whose_prompt_failed_pays_again_and_the_booking_is_confirmed(simulator, pay):
    """End to end over HTTP with the simulator: the first prompt is cancelled on the phone,
    the failure callback cancels the booking, paying again revives it, the second prompt is
    paid and its callback confirms it."""
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    simulator.directive(MSISDN, auto_action="cancel")
    status, body = _api_pay(booking)
    assert status == 202, body
    wait_for_status(body["id"], "FAILED")
    wait_until(
        lambda: Booking.objects.filter(pk=booking.pk, status="CANCELED", cancel_kind="payment_failed").exists(),
        timeout=20,
        message="the failed payment to cancel the booking",
    )

    simulator.directive(MSISDN, auto_action="pay")
    status, body = pay(booking)

    assert status == 202, body
    payment_id = body["id"] if "id" in body else body["payment"]["id"]
    wait_for_status(payment_id, "SUCCESS")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.balance_due, booking.cancel_kind) == (
        "CONFIRMED",
        TOTAL,
        0,
        "",
    )
    assert sorted(Payment.objects.filter(booking=booking).values_list("status", flat=True)) == ["FAILED", "SUCCESS"]
