import datetime as dt
import json
import re
from types import SimpleNamespace

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework import serializers
from rest_framework.test import APIClient

from mpesa.models import Payment
from reservations.apis import BookingDetailOutputSerializer, BookingOutputSerializer
from reservations.models import Booking, BookingGuest
from reservations.selectors import booking_get_for_user
from tests.factories import UserFactory, future_date, make_booking, make_property, recompute_booking_money

pytestmark = pytest.mark.django_db

BOOKINGS = "/api/bookings/"
BOOKING_FIELDS = {
    "id",
    "reference",
    "property",
    "property_name",
    "check_in",
    "check_out",
    "nights",
    "status",
    "total_price",
    "nightly_prices",
    "discount",
    "amount_paid",
    "balance_due",
    "booking_date",
    "hold_expires_at",
    "min_first_payment",
    "balance_due_by",
    "cancellation_policy",
    "guests",
}


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def payload(property, *, starts_in=20, nights=3, **overrides):
    check_in = future_date(starts_in)
    data = {
        "property": property.pk,
        "check_in": check_in.isoformat(),
        "check_out": (check_in + dt.timedelta(days=nights)).isoformat(),
        "guests": [],
    }
    data.update(overrides)
    return data


def test_create_returns_the_booking_object_of_the_contract(guest):
    property = make_property(title="Diani Cottage", price_per_night=5000, max_guests=3)
    body = {
        **payload(property, nights=3),
        "guests": [{"name": "Achieng Otieno", "email": "achieng@example.com", "phone_number": "0712345678"}],
    }
    response = client_for(guest).post(BOOKINGS, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == BOOKING_FIELDS
    assert data["property"] == property.pk
    assert data["property_name"] == "Diani Cottage"
    assert (data["nights"], data["total_price"], data["amount_paid"], data["balance_due"]) == (3, 15000, 0, 15000)
    assert data["status"] == "PENDING"
    assert data["check_in"] == body["check_in"] and data["check_out"] == body["check_out"]
    assert len(data["reference"]) <= 12
    assert data["hold_expires_at"] and data["booking_date"]
    assert data["guests"] == [
        {
            "name": guest.name,
            "email": guest.email,
            "phone_number": str(guest.phone_number),
            "is_primary": True,
            "user": guest.pk,
            "invitation": "none",
        },
        {
            "name": "Achieng Otieno",
            "email": "achieng@example.com",
            "phone_number": "+254712345678",
            "is_primary": False,
            "user": None,
            "invitation": "invited",
        },
    ]


def test_hand_written_representation_matches_the_declared_fields(guest):
    """BookingOutputSerializer writes its dict by hand for speed; DRF's generic rendering of
    the declared fields (the schema) must give exactly the same, fresh or read back."""
    property = make_property(title="Lamu Dhow House", price_per_night=4200, max_guests=4)
    body = {
        **payload(property, nights=2),
        "guests": [
            {"name": "Wanjiru Kamau", "email": "wanjiru@example.com"},
            {"name": "Otieno Odhiambo", "phone_number": "0722000111"},
        ],
    }
    created = client_for(guest).post(BOOKINGS, body, format="json").json()
    confirmed = make_booking(guest=guest, status=Booking.Status.CONFIRMED)
    Booking.objects.filter(pk=confirmed.pk).update(hold_expires_at=None)

    # Guests' contact details depend on who asks (docs/api.md), so both renderings get the viewer.
    context = {"request": SimpleNamespace(user=guest)}
    for booking_id, answer in ((created["id"], created), (confirmed.pk, None)):
        booking = booking_get_for_user(user=guest, booking_id=booking_id)
        generic = json.loads(
            json.dumps(serializers.Serializer.to_representation(BookingOutputSerializer(context=context), booking))
        )
        generic_detail = json.loads(
            json.dumps(serializers.Serializer.to_representation(BookingDetailOutputSerializer(context=context), booking))
        )
        detail = client_for(guest).get(f"{BOOKINGS}{booking_id}/").json()
        # The detail is the booking object plus its check-in details (null until CONFIRMED).
        assert detail == generic_detail == {**generic, "check_in_details": detail["check_in_details"]}
        if answer is not None:
            assert answer == generic
    assert generic["hold_expires_at"] is None and generic["status"] == "CONFIRMED"


def test_price_sent_by_the_client_is_ignored(guest):
    property = make_property(price_per_night=5000)
    response = client_for(guest).post(BOOKINGS, {**payload(property, nights=2), "total_price": 1}, format="json")
    assert response.status_code == 201
    assert response.json()["total_price"] == 10000


def test_unauthenticated_calls_get_401(api_client):
    property = make_property()
    assert api_client.post(BOOKINGS, payload(property), format="json").status_code == 401
    assert api_client.get(BOOKINGS).status_code == 401


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"check_in": "2020-01-01", "check_out": "2020-01-03"}, "check_in"),
        ({"nights": 0}, "check_out"),
        ({"nights": -3}, "check_out"),
        ({"nights": 1}, "check_out"),  # min_nights is 2
        ({"check_in": "2027-02-30"}, "check_in"),
        ({"check_in": "next tuesday"}, "check_in"),
        ({"check_out": ""}, "check_out"),
        ({"check_in": None}, "check_in"),
        ({"property": 987654}, "property"),
        ({"property": "abc"}, "property"),
        ({"property": 10**30}, "property"),
        ({"guests": [{"name": "A"}, {"name": "B"}, {"name": "C"}]}, "guests"),  # party of 4 > 3
        ({"guests": [{"email": "x@example.com"}]}, "guests"),
        ({"guests": [{"name": ""}]}, "guests"),
        ({"guests": [{"name": "A", "email": "not-an-email"}]}, "guests"),
        ({"guests": [{"name": "A", "phone_number": "+14155552671"}]}, "guests"),
        ({"guests": "everyone"}, "guests"),
        ({"guests": [{"name": "x"}] * 60}, "guests"),
    ],
)
def test_bad_input_is_a_400_field_error(guest, overrides, field):
    property = make_property(max_guests=3, min_nights=2)
    nights = overrides.pop("nights", 3)
    body = payload(property, nights=nights)
    body.update(overrides)
    response = client_for(guest).post(BOOKINGS, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Booking.objects.exists()


def test_missing_fields_and_non_json_bodies_are_400(guest):
    client = client_for(guest)
    response = client.post(BOOKINGS, {}, format="json")
    assert response.status_code == 400
    assert {"property", "check_in", "check_out"} <= set(response.json())
    response = client.post(BOOKINGS, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.parametrize("state", [{"publish": False}, {"availability_status": "unavailable"}])
def test_unpublished_or_unavailable_property_is_400_on_property(guest, state):
    property = make_property(**state)
    response = client_for(guest).post(BOOKINGS, payload(property), format="json")
    assert response.status_code == 400
    assert "property" in response.json()


def test_overlapping_dates_are_409_dates_unavailable(guest):
    property = make_property()
    make_booking(property=property, check_in=future_date(20), nights=3)
    response = client_for(guest).post(BOOKINGS, payload(property, starts_in=22, nights=2), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "dates_unavailable"
    assert response.json()["detail"]


def test_blocked_dates_are_409_dates_unavailable(guest):
    from listings.models import BlockedPeriod

    property = make_property()
    BlockedPeriod.objects.create(property=property, start=future_date(21), end=future_date(22))
    response = client_for(guest).post(BOOKINGS, payload(property, starts_in=20, nights=3), format="json")
    assert (response.status_code, response.json()["code"]) == (409, "dates_unavailable")


def test_low_credit_score_is_409_credit_score_too_low():
    property = make_property(min_credit_score=70)
    response = client_for(UserFactory(credit_score=50)).post(BOOKINGS, payload(property), format="json")
    assert (response.status_code, response.json()["code"]) == (409, "credit_score_too_low")


def test_idempotency_key_replays_the_first_response(guest):
    property = make_property()
    client = client_for(guest)
    first = client.post(BOOKINGS, payload(property), format="json", HTTP_IDEMPOTENCY_KEY="key-123")
    second = client.post(BOOKINGS, payload(property), format="json", HTTP_IDEMPOTENCY_KEY="key-123")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Booking.objects.count() == 1
    # Another key is another booking attempt (refused: the nights are now taken).
    third = client.post(BOOKINGS, payload(property), format="json", HTTP_IDEMPOTENCY_KEY="key-456")
    assert third.status_code == 409


def test_idempotency_key_is_per_user(guest):
    property = make_property()
    client_for(guest).post(BOOKINGS, payload(property), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    other = client_for(UserFactory()).post(
        BOOKINGS, payload(property, starts_in=40), format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )
    assert other.status_code == 201
    assert Booking.objects.count() == 2


def test_list_shows_bookings_as_primary_or_linked_co_guest_only(guest, django_capture_on_commit_callbacks):
    co_guest = UserFactory(email="cousin@example.com")
    property = make_property(max_guests=4)
    with django_capture_on_commit_callbacks(execute=True):
        mine = (
            client_for(guest)
            .post(
                BOOKINGS,
                {**payload(property), "guests": [{"name": "Cousin", "email": "Cousin@Example.com"}]},
                format="json",
            )
            .json()
        )
    make_booking(property=property, check_in=future_date(50))  # someone else's
    # The co-guest is linked by accepting the emailed invitation, not by their address matching.
    assert client_for(co_guest).get(BOOKINGS).json()["count"] == 0
    [invitation] = [message for message in mail.outbox if message.to == ["cousin@example.com"]]
    token = re.search(r"/invitations/([A-Za-z0-9_-]+)/", invitation.body).group(1)
    accepted = client_for(co_guest).post("/api/invitations/accept/", {"token": token}, format="json")
    assert accepted.status_code == 200, accepted.content

    listed = client_for(co_guest).get(BOOKINGS).json()
    assert listed["count"] == 1
    assert [b["reference"] for b in listed["results"]] == [mine["reference"]]
    assert listed["results"][0]["guests"][1]["user"] == co_guest.pk
    assert client_for(co_guest).get(f"{BOOKINGS}{mine['id']}/").status_code == 200
    assert client_for(guest).get(BOOKINGS).json()["count"] == 1


def test_another_users_booking_is_404(guest):
    other = make_booking()
    client = client_for(guest)
    for method, url in (("get", f"{BOOKINGS}{other.pk}/"), ("post", f"{BOOKINGS}{other.pk}/cancel/")):
        response = getattr(client, method)(url)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert client.get(f"{BOOKINGS}99999999999999999999/").status_code == 404
    other.refresh_from_db()
    assert other.status == "PENDING"


def test_detail_returns_one_booking(guest):
    booking = make_booking(guest=guest)
    data = client_for(guest).get(f"{BOOKINGS}{booking.pk}/").json()
    assert set(data) == BOOKING_FIELDS | {"check_in_details"}
    assert data["reference"] == booking.reference and data["check_in_details"] is None


def test_cancel_an_unpaid_booking(guest):
    booking = make_booking(guest=guest)
    response = client_for(guest).post(f"{BOOKINGS}{booking.pk}/cancel/", {"reason": "Plans changed"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "CANCELED"
    booking.refresh_from_db()
    assert booking.cancel_reason == "Plans changed"


def test_cancel_with_money_held_refunds_per_policy(guest):
    """Money held no longer blocks the guest's cancel (issue 13): the answer lists the refund
    (tests/reservations/test_apis_cancellation.py covers the policies)."""
    booking = make_booking(guest=guest)
    Payment.objects.create(
        booking=booking,
        amount=1000,
        received_amount=1000,
        status="SUCCESS",
        phone_number="254712345678",
        mpesa_receipt_number="SAB1234567",
    )
    recompute_booking_money(booking.pk)  # what the payments app reports after the success
    response = client_for(guest).post(f"{BOOKINGS}{booking.pk}/cancel/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "CANCELED"
    assert [(r["payment"], r["amount"]) for r in response.json()["refunds"]] == [(booking.payments.get().pk, 1000)]


def test_a_co_guest_cannot_cancel(guest):
    booking = make_booking()
    BookingGuest.objects.create(booking=booking, name=guest.name, email=guest.email, user=guest)
    response = client_for(guest).post(f"{BOOKINGS}{booking.pk}/cancel/")
    assert (response.status_code, response.json()["code"]) == (403, "not_primary_guest")


def test_booking_list_uses_a_constant_number_of_queries(guest, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(guest)
    property = make_property(max_guests=5)
    make_booking(property=property, guest=guest, check_in=future_date(10))
    with CaptureQueriesContext(connection) as few:
        assert client.get(BOOKINGS).json()["count"] == 1
    # Read now: the next request's request_started signal clears the connection's query log.
    few_queries = len(few.captured_queries)
    for n in range(8):
        booking = make_booking(property=property, guest=guest, check_in=future_date(20 + 5 * n))
        BookingGuest.objects.create(booking=booking, name="Friend", user=UserFactory())
    with django_assert_max_num_queries(few_queries):
        assert client.get(BOOKINGS).json()["count"] == 9


def test_list_is_paginated(guest):
    property = make_property()
    for n in range(3):
        make_booking(property=property, guest=guest, check_in=future_date(10 + 5 * n))
    data = client_for(guest).get(BOOKINGS, {"page_size": 2}).json()
    assert set(data) == {"count", "next", "previous", "results"}
    assert (data["count"], len(data["results"])) == (3, 2)
    assert data["next"]
    assert client_for(guest).get(BOOKINGS, {"page": 99}).status_code == 404


def test_hold_expiry_shows_in_the_api(guest):
    booking = make_booking(guest=guest, hold_expires_at=timezone.now() - dt.timedelta(minutes=1))
    from reservations.services import booking_expire_holds

    booking_expire_holds()
    assert client_for(guest).get(f"{BOOKINGS}{booking.pk}/").json()["status"] == "CANCELED"


def test_schema_documents_the_booking_endpoints(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"post", "get"} <= set(paths["/api/bookings/"])
    assert "get" in paths["/api/bookings/{booking_id}/"]
    assert "post" in paths["/api/bookings/{booking_id}/cancel/"]
    params = [p["name"] for p in paths["/api/bookings/"]["post"].get("parameters", [])]
    assert "Idempotency-Key" in params
