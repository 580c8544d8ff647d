"""An Idempotency-Key reused with a different body is refused (docs/api.md, docs/security.md).

Replaying the first answer for a different body would tell a client its second,
different request succeeded when nothing was done: a booking for other dates or a
payment of another amount silently dropped.
"""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from core.models import IdempotencyRecord
from mpesa.models import Payment
from reservations.models import Booking
from tests.factories import UserFactory, future_date, make_booking, make_property

BOOKINGS = "/api/bookings/"
PHONE = "0712345678"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def booking_body(listing, *, starts_in=20, nights=3, **extra) -> dict:
    check_in = future_date(starts_in)
    return {
        "property": listing.pk,
        "check_in": check_in.isoformat(),
        "check_out": (check_in + dt.timedelta(days=nights)).isoformat(),
        "guests": [],
        **extra,
    }


@pytest.mark.django_db
def test_same_key_with_other_booking_dates_is_422_and_creates_nothing(guest):
    listing = make_property()
    client = client_for(guest)
    first = client.post(BOOKINGS, booking_body(listing), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201

    other = client.post(BOOKINGS, booking_body(listing, starts_in=40), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 422, other.content
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["detail"]
    assert "Idempotent-Replayed" not in other
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_same_key_with_the_same_body_in_another_key_order_replays(guest):
    listing = make_property()
    client = client_for(guest)
    body = booking_body(listing)
    first = client.post(BOOKINGS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    reordered = dict(reversed(list(body.items())))
    again = client.post(BOOKINGS, reordered, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_same_key_for_a_payment_of_another_amount_is_422_and_sends_no_second_prompt(guest):
    booking = make_booking(guest=guest, check_in=future_date(30))
    client = client_for(guest)
    url = f"/api/bookings/{booking.pk}/payments/"
    first = client.post(url, {"phone_number": PHONE, "amount": booking.total_price}, format="json",
                        HTTP_IDEMPOTENCY_KEY="pay-1")
    assert first.status_code == 202, first.content
    other = client.post(url, {"phone_number": PHONE, "amount": booking.total_price - 1}, format="json",
                        HTTP_IDEMPOTENCY_KEY="pay-1")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    same = client.post(url, {"amount": booking.total_price, "phone_number": PHONE}, format="json",
                       HTTP_IDEMPOTENCY_KEY="pay-1")
    assert same.status_code == 202
    assert same.json()["id"] == first.json()["id"]
    assert Payment.objects.filter(booking=booking).count() == 1


@pytest.mark.django_db
def test_a_refused_first_request_is_replayed_for_its_body_and_other_bodies_are_422(guest):
    listing = make_property(max_guests=1)
    client = client_for(guest)
    too_many = booking_body(listing, guests=[{"name": "Achieng Otieno"}])
    first = client.post(BOOKINGS, too_many, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert first.status_code == 400
    # A 400 claims nothing (the key stays free), so a corrected body under the same key works.
    fixed = client.post(BOOKINGS, booking_body(listing), format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert fixed.status_code == 201
    assert client.post(BOOKINGS, too_many, format="json", HTTP_IDEMPOTENCY_KEY="k-3").status_code == 422


@pytest.mark.django_db
def test_another_users_same_key_is_independent(guest):
    listing = make_property()
    first = client_for(guest).post(BOOKINGS, booking_body(listing), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    other_user = UserFactory()
    other = client_for(other_user).post(
        BOOKINGS, booking_body(listing, starts_in=40), format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )
    assert (first.status_code, other.status_code) == (201, 201)
    assert other.json()["id"] != first.json()["id"]
    assert Booking.objects.count() == 2
    assert IdempotencyRecord.objects.filter(key="shared").count() == 2


@pytest.mark.django_db
def test_schema_documents_422_where_the_idempotency_key_applies(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    booking_post = schema["paths"]["/api/bookings/"]["post"]
    payment_post = schema["paths"]["/api/bookings/{booking_id}/payments/"]["post"]
    assert "422" in booking_post["responses"]
    assert "422" in payment_post["responses"]
    assert "422" not in schema["paths"]["/api/auth/token/"]["post"]["responses"]
