"""Issue 11 item 16: a success callback credits at most what that payment asked for.

A different amount (more or less) is recorded as reported, flagged for staff, and the
booking is never confirmed on it until staff resolve the flag.
"""

import json

import pytest
from django.test import Client

from core.models import AuditEntry
from mpesa.models import Payment
from mpesa.refunds import payment_record_refund
from reservations.models import Booking
from tests.factories import StaffFactory, make_booking, make_payment, make_property
from tests.mpesa.conftest import client_for, wait_for_status

TOKEN = "amounts-test-token-0123456789abcdef"


@pytest.fixture
def callback(settings):
    settings.MPESA_CALLBACK_TOKEN = TOKEN
    client = Client(raise_request_exception=False)

    def post(body):
        return client.post(f"/payments/callback/{TOKEN}/", data=json.dumps(body), content_type="application/json")

    return post


def _success(payment, amount, receipt="SAM1CD2EF3") -> dict:
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
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20270110093015},
                        {"Name": "PhoneNumber", "Value": 254712345678},
                    ]
                },
            }
        }
    }


def _pending(asked: int):
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)  # total 10,000
    return make_payment(booking=booking, status="PENDING", amount=asked)


@pytest.mark.django_db
def test_an_over_reported_amount_credits_only_what_was_asked_and_is_flagged(callback):
    payment = _pending(4000)

    assert callback(_success(payment, 250_000)).status_code == 200

    payment.refresh_from_db()
    assert payment.status == "SUCCESS" and payment.received_amount == 250_000  # recorded as reported
    assert payment.flagged and "250,000" in payment.flag_reason and "4,000" in payment.flag_reason
    booking = Booking.objects.get(pk=payment.booking_id)
    assert (booking.status, booking.amount_paid, booking.balance_due) == ("PROCESSING", 4000, 6000)


@pytest.mark.django_db
def test_an_over_reported_full_payment_does_not_confirm_the_booking_until_staff_resolve_it(callback):
    from mpesa.refunds import payment_resolve_flag

    payment = _pending(10_000)

    callback(_success(payment, 250_000))

    booking = Booking.objects.get(pk=payment.booking_id)
    assert (booking.status, booking.amount_paid, booking.balance_due) == ("PROCESSING", 10_000, 0)
    # Staff send the surplus back: the booking still counts only what it asked for.
    staff = StaffFactory()
    payment_record_refund(payment_id=payment.pk, actor=staff, amount=240_000, mpesa_reference="SURPLUS1", note="Surplus")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid) == ("PROCESSING", 10_000)
    payment_resolve_flag(payment_id=payment.pk, actor=staff, note="Surplus refunded")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.balance_due) == ("CONFIRMED", 10_000, 0)


@pytest.mark.django_db
def test_an_under_payment_credits_what_arrived_and_is_flagged(callback):
    payment = _pending(4000)

    callback(_success(payment, 2500))

    payment.refresh_from_db()
    assert payment.received_amount == 2500 and payment.flagged and "2,500" in payment.flag_reason
    booking = Booking.objects.get(pk=payment.booking_id)
    assert (booking.status, booking.amount_paid, booking.balance_due) == ("PROCESSING", 2500, 7500)


@pytest.mark.django_db
def test_a_second_identical_over_reported_callback_changes_nothing(callback):
    payment = _pending(4000)
    callback(_success(payment, 250_000))
    booking = Booking.objects.get(pk=payment.booking_id)
    audit_count = AuditEntry.objects.count()
    payment.refresh_from_db()
    before = (payment.status, payment.received_amount, payment.flag_reason, payment.updated_at)

    assert callback(_success(payment, 250_000)).status_code == 200

    payment.refresh_from_db()
    assert (payment.status, payment.received_amount, payment.flag_reason, payment.updated_at) == before
    again = Booking.objects.get(pk=booking.pk)
    assert (again.status, again.amount_paid, again.updated_at) == (booking.status, booking.amount_paid, booking.updated_at)
    assert AuditEntry.objects.count() == audit_count


@pytest.mark.django_db(transaction=True)
def test_the_simulator_reporting_more_than_was_asked_credits_only_the_asked_amount(simulator):
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    response = client_for(booking.primary_guest).post(
        f"/api/bookings/{booking.pk}/payments/", {"phone_number": "0712345678", "amount": 10_000}, format="json"
    )
    assert response.status_code == 202, response.content
    payment = Payment.objects.get(pk=response.json()["id"])
    assert payment.checkout_request_id

    simulator.respond(payment.checkout_request_id, "pay", amount=250_000)

    payment = wait_for_status(payment.pk, "SUCCESS")
    assert payment.received_amount == 250_000 and payment.flagged
    booking.refresh_from_db()
    assert booking.amount_paid == 10_000 and booking.status != "CONFIRMED"
