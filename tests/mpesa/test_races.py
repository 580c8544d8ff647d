"""Races, with real threads and their own database connections (PostgreSQL and SQLite)."""


import pytest
import requests

from core.exceptions import ApplicationError
from core.models import AuditEntry
from mpesa.models import Payment
from tests.processes import run_together
from tests.factories import start_payment
from reservations.models import BookingGuest
from tests.factories import UserFactory, make_booking, make_payment, make_property
from tests.mpesa.conftest import CALLBACK_TOKEN



@pytest.mark.django_db(transaction=True)
def test_two_guests_racing_for_the_last_balance_never_ask_for_more_than_is_due(simulator):
    booking = make_booking(
        property=make_property(price_per_night=5000), nights=2, status="PROCESSING", amount_paid=4000
    )
    make_payment(booking=booking, status="SUCCESS", amount=4000)
    co_guest = UserFactory()
    BookingGuest.objects.create(booking=booking, name=co_guest.name, user=co_guest)
    payers = [(booking.primary_guest, "0712000001"), (co_guest, "0712000002"), (booking.primary_guest, "0712000003")]

    results = run_together(
        [
            (
                lambda user=user, phone=phone: start_payment(
                    booking_id=booking.pk, user=user, phone_number=phone, amount=6000
                )
            )
            for user, phone in payers
        ]
    )

    created = [r for r in results if isinstance(r, Payment)]
    refused = [r for r in results if isinstance(r, ApplicationError)]
    assert len(created) == 1, results
    assert {r.code for r in refused} == {"amount_exceeds_balance"} and len(refused) == 2
    asked = sum(p.amount for p in Payment.objects.filter(booking=booking, status__in=["QUEUED", "PENDING"]))
    assert asked == 6000


@pytest.mark.django_db(transaction=True)
def test_split_payments_racing_never_exceed_the_balance(simulator):
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    amounts = [4000, 4000, 4000, 4000]
    results = run_together(
        [
            (
                lambda n=n, amount=amount: start_payment(
                    booking_id=booking.pk, user=booking.primary_guest, phone_number=f"07120001{n:02d}", amount=amount
                )
            )
            for n, amount in enumerate(amounts)
        ]
    )
    created = [r for r in results if isinstance(r, Payment)]
    assert len(created) == 2, results  # 4000 + 4000 of 10000; a third would exceed it
    in_flight = Payment.objects.filter(booking=booking, status__in=["QUEUED", "PENDING"])
    assert sum(p.amount for p in in_flight) == 8000


@pytest.mark.django_db(transaction=True)
def test_identical_callbacks_posted_concurrently_credit_once(simulator, live_server):
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    payment = make_payment(booking=booking, status="PENDING", amount=4000)
    body = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": payment.merchant_request_id,
                "CheckoutRequestID": payment.checkout_request_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": 4000.0},
                        {"Name": "MpesaReceiptNumber", "Value": "SRACE00001"},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20270110093015},
                        {"Name": "PhoneNumber", "Value": 254712345678},
                    ]
                },
            }
        }
    }
    url = f"{live_server.url}/payments/callback/{CALLBACK_TOKEN}/"

    results = run_together([lambda: requests.post(url, json=body, timeout=30) for _ in range(4)])

    assert [r.status_code for r in results] == [200] * 4, results
    assert all(r.json() == {"ResultCode": 0, "ResultDesc": "Accepted"} for r in results)
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert (payment.status, payment.mpesa_receipt_number) == ("SUCCESS", "SRACE00001")
    assert (booking.amount_paid, booking.balance_due, booking.status) == (4000, 6000, "PROCESSING")
    assert AuditEntry.objects.filter(object_id=str(payment.pk), action="payment.succeeded").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_callback_racing_a_reconciliation_query_credits_once(simulator, settings):
    settings.MPESA_QUERY_FIRST_AFTER_SECONDS = 0
    from mpesa.reconcile import payment_query_and_settle

    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    simulator.directive("254712345678", callback_mode="never")
    payment = start_payment(booking_id=booking.pk, user=booking.primary_guest, phone_number="0712345678", amount=4000)
    payment.refresh_from_db()
    simulator.respond(payment.checkout_request_id, "pay")
    prompt = simulator.prompt(payment.checkout_request_id)
    body = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": prompt["merchant_request_id"],
                "CheckoutRequestID": payment.checkout_request_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": 4000},
                        {"Name": "MpesaReceiptNumber", "Value": prompt["receipt_number"]},
                        {"Name": "PhoneNumber", "Value": 254712345678},
                    ]
                },
            }
        }
    }
    url = f"{settings.MPESA_CALLBACK_BASE_URL}/payments/callback/{CALLBACK_TOKEN}/"
    results = run_together(
        [
            lambda: requests.post(url, json=body, timeout=30).status_code,
            lambda: payment_query_and_settle(payment_id=payment.pk).status,
        ]
    )
    assert results[0] == 200, results
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == "SUCCESS" and payment.mpesa_receipt_number == prompt["receipt_number"]
    assert booking.amount_paid == 4000
