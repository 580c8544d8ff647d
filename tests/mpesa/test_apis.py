"""POST/GET /api/bookings/{id}/payments/ and GET /api/payments/{id}/ (docs/api.md "Payments")."""

import pytest
from django.core import mail

from mpesa.models import Payment
from reservations.models import Booking, BookingGuest
from tests.factories import UserFactory, make_booking, make_payment, make_property
from tests.mpesa.conftest import client_for, wait_for_status

PHONE = "0712345678"
MSISDN = "254712345678"


def _url(booking) -> str:
    return f"/api/bookings/{booking.pk}/payments/"


@pytest.mark.django_db(transaction=True)
def test_guest_pays_in_two_parts_from_two_phones_and_the_booking_is_confirmed(simulator):
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    co_guest = UserFactory()
    BookingGuest.objects.create(booking=booking, name=co_guest.name, email=co_guest.email, user=co_guest)

    response = client_for(booking.primary_guest).post(_url(booking), {"phone_number": PHONE, "amount": 4000})
    assert response.status_code == 202, response.content
    first = response.json()
    assert first["amount"] == 4000 and first["phone_number"] == MSISDN
    payment = Payment.objects.get(pk=first["id"])
    assert payment.status == "PENDING" and payment.checkout_request_id  # the push went out over HTTP
    prompt = simulator.prompts(MSISDN, state="pending")[0]
    assert prompt["checkout_request_id"] == payment.checkout_request_id
    assert prompt["amount"] == 4000 and prompt["account_reference"] == booking.reference

    simulator.respond(payment.checkout_request_id, "pay")
    payment = wait_for_status(payment.pk, "SUCCESS")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.balance_due) == ("PROCESSING", 4000, 6000)
    assert payment.received_amount == 4000 and payment.mpesa_receipt_number
    assert payment.raw_callback["Body"]["stkCallback"]["CheckoutRequestID"] == payment.checkout_request_id

    second = client_for(co_guest).post(_url(booking), {"phone_number": "+254 110 000 001", "amount": 6000})
    assert second.status_code == 202, second.content
    assert second.json()["phone_number"] == "254110000001"
    other = Payment.objects.get(pk=second.json()["id"])
    simulator.respond(other.checkout_request_id, "pay")
    wait_for_status(other.pk, "SUCCESS")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.balance_due) == ("CONFIRMED", 10000, 0)
    assert other.initiated_by == co_guest
    subjects = " | ".join(m.subject for m in mail.outbox)
    assert booking.reference in subjects


def _post(user, booking, body, **headers):
    return client_for(user).post(_url(booking), body, format="json", **headers)


@pytest.mark.django_db
def test_a_stranger_gets_404_for_the_booking_its_payments_and_a_payment(guest):
    booking = make_booking()
    payment = make_payment(booking=booking, status="SUCCESS")
    client = client_for(guest)
    assert client.post(_url(booking), {"phone_number": PHONE, "amount": 100}, format="json").status_code == 404
    assert client.get(_url(booking)).status_code == 404
    assert client.get(f"/api/payments/{payment.pk}/").status_code == 404
    assert not Payment.objects.filter(initiated_by=guest).exists()


@pytest.mark.django_db
def test_anonymous_callers_get_401(api_client):
    booking = make_booking()
    assert api_client.post(_url(booking), {"phone_number": PHONE, "amount": 100}, format="json").status_code == 401


@pytest.mark.django_db
def test_payments_of_a_booking_are_listed_for_its_guests(guest):
    booking = make_booking(guest=guest)
    paid = make_payment(booking=booking, status="SUCCESS", amount=3000)
    failed = make_payment(booking=booking, status="FAILED", amount=2000, result_code="1032")
    response = client_for(guest).get(_url(booking))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert {p["id"] for p in body["results"]} == {paid.pk, failed.pk}
    detail = client_for(guest).get(f"/api/payments/{paid.pk}/").json()
    assert detail["mpesa_receipt_number"] == paid.mpesa_receipt_number
    assert detail["status"] == "SUCCESS" and detail["booking"] == booking.pk and detail["amount"] == 3000
    assert set(detail) >= {
        "id",
        "booking",
        "amount",
        "phone_number",
        "status",
        "checkout_request_id",
        "mpesa_receipt_number",
        "result_code",
        "result_desc",
        "created_at",
        "updated_at",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"phone_number": "0812345678", "amount": 100}, "phone_number"),
        ({"phone_number": "+255712345678", "amount": 100}, "phone_number"),
        ({"phone_number": "", "amount": 100}, "phone_number"),
        ({"phone_number": PHONE, "amount": 0}, "amount"),
        ({"phone_number": PHONE, "amount": -5}, "amount"),
        ({"phone_number": PHONE, "amount": "lots"}, "amount"),
        ({"phone_number": PHONE, "amount": 10.5}, "amount"),
        ({"phone_number": PHONE}, "amount"),
    ],
)
def test_bad_phone_or_amount_is_400_and_creates_nothing(guest, body, field):
    booking = make_booking(guest=guest)
    response = _post(guest, booking, body)
    assert response.status_code == 400
    assert field in response.json()
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_more_than_mpesa_takes_at_once_is_400(guest):
    booking = make_booking(guest=guest, property=make_property(price_per_night=200_000), nights=2)
    response = _post(guest, booking, {"phone_number": PHONE, "amount": 250_001})
    assert response.status_code == 400
    assert "amount" in response.json()


@pytest.mark.django_db
def test_amount_over_the_balance_less_payments_in_flight_is_409(guest):
    booking = make_booking(guest=guest, property=make_property(price_per_night=5000), nights=2)
    make_payment(booking=booking, status="PENDING", amount=7000, phone_number="254799999999")
    response = _post(guest, booking, {"phone_number": PHONE, "amount": 3001})
    assert response.status_code == 409
    assert response.json()["code"] == "amount_exceeds_balance"
    assert response.json()["max_amount"] == 3000
    assert _post(guest, booking, {"phone_number": PHONE, "amount": 3000}).status_code == 202


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["CANCELED", "CONFIRMED"])
def test_cancelled_or_fully_paid_booking_is_409_booking_not_payable(guest, status):
    booking = make_booking(guest=guest, status=status)
    response = _post(guest, booking, {"phone_number": PHONE, "amount": 100})
    assert (response.status_code, response.json()["code"]) == (409, "booking_not_payable")
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_first_payment_below_the_listing_deposit_is_400_unless_it_is_the_whole_balance(guest):
    booking = make_booking(guest=guest, property=make_property(price_per_night=3333, min_deposit_percent=30), nights=1)
    response = _post(guest, booking, {"phone_number": PHONE, "amount": 999})
    assert response.status_code == 400
    assert response.json()["code"] == "below_min_deposit"
    assert response.json()["min_amount"] == 1000  # ceil(3333 * 30 / 100)
    assert "30%" in response.json()["detail"]
    assert _post(guest, booking, {"phone_number": PHONE, "amount": 1000}).status_code == 202


@pytest.mark.django_db
def test_deposit_rule_no_longer_applies_once_something_is_paid(guest):
    booking = make_booking(
        guest=guest,
        property=make_property(price_per_night=10_000, min_deposit_percent=50),
        nights=1,
        status="PROCESSING",
        amount_paid=5000,
    )
    make_payment(booking=booking, status="SUCCESS", amount=5000)
    assert _post(guest, booking, {"phone_number": PHONE, "amount": 10}).status_code == 202


@pytest.mark.django_db
def test_second_prompt_to_a_phone_with_one_pending_is_409_phone_busy(guest):
    first = make_booking(guest=guest)
    second = make_booking(guest=guest)
    assert _post(guest, first, {"phone_number": PHONE, "amount": 2000}).status_code == 202
    response = _post(guest, second, {"phone_number": "+254712345678", "amount": 2000})
    assert (response.status_code, response.json()["code"]) == (409, "phone_busy")
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_same_idempotency_key_returns_the_first_payment_instead_of_a_second_prompt(guest):
    booking = make_booking(guest=guest)
    first = _post(guest, booking, {"phone_number": PHONE, "amount": 2000}, HTTP_IDEMPOTENCY_KEY="pay-1")
    again = _post(guest, booking, {"phone_number": PHONE, "amount": 2000}, HTTP_IDEMPOTENCY_KEY="pay-1")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_payments_are_throttled_per_user(guest, monkeypatch):
    from django.core.cache import cache

    from mpesa.apis import PaymentUserThrottle

    cache.clear()
    monkeypatch.setattr(PaymentUserThrottle, "rate", "2/min", raising=False)
    booking = make_booking(guest=guest, property=make_property(price_per_night=50_000))
    statuses = [
        _post(guest, booking, {"phone_number": f"07123450{n:02d}", "amount": 20_000}).status_code for n in range(3)
    ]
    assert statuses == [202, 202, 429]
    assert Payment.objects.count() == 2
    assert client_for(guest).get(_url(booking)).status_code == 200  # reading is not throttled


@pytest.mark.django_db
def test_a_phone_cannot_be_flooded_by_different_users(monkeypatch):
    from django.core.cache import cache

    from mpesa.apis import PaymentPhoneThrottle

    cache.clear()
    monkeypatch.setattr(PaymentPhoneThrottle, "rate", "2/min", raising=False)
    statuses = []
    for _ in range(3):
        booking = make_booking()
        statuses.append(
            _post(booking.primary_guest, booking, {"phone_number": "0722000111", "amount": 2000}).status_code
        )
    assert statuses == [202, 409, 429]  # the second is refused (prompt pending) and still counts


@pytest.mark.django_db
def test_creating_a_payment_answers_at_once_and_sends_the_push_after_commit(guest, django_capture_on_commit_callbacks):
    booking = make_booking(guest=guest)
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(guest, booking, {"phone_number": PHONE, "amount": 2000})
    assert response.status_code == 202
    assert response.json()["status"] == "QUEUED"
    assert len(callbacks) == 1  # the STK push task, enqueued on commit
    payment = Payment.objects.get()
    assert payment.initiated_by == guest and payment.booking == booking
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING
