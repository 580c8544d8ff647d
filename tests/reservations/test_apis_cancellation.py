"""GET /api/bookings/{id}/cancellation/ and POST /api/bookings/{id}/cancel/ with money held
(docs/api.md "Bookings", docs/money-out.md): what cancelling now refunds under each policy,
and the refunds the cancel creates. Refund sending itself is tests/mpesa/test_refunds_out.py's."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from mpesa.models import Refund
from reservations.deadlines import check_in_at
from reservations.models import Booking, BookingGuest
from tests.factories import UserFactory, future_date, make_booking, make_payment, make_property, recompute_booking_money

pytestmark = pytest.mark.django_db

PAID = 7001  # odd: a half is rounded up, in the guest's favour (3,501)


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def paid_booking(*, policy: str, guest=None, check_in=None, amount: int = PAID, nights: int = 2) -> Booking:
    """A PROCESSING/CONFIRMED booking holding `amount` from one M-Pesa payment with its receipt."""
    place = make_property(cancellation_policy=policy, price_per_night=5000)
    booking = make_booking(property=place, guest=guest, check_in=check_in or future_date(40), nights=nights)
    make_payment(booking=booking, amount=amount, phone_number="254712345678")
    recompute_booking_money(booking.pk)
    booking.refresh_from_db()
    return booking


def at_before_check_in(monkeypatch, booking: Booking, before: dt.timedelta) -> dt.datetime:
    """Freeze "now" (for the request and the services) at `before` check-in of `booking`."""
    moment = check_in_at(booking.check_in) - before
    monkeypatch.setattr(timezone, "now", lambda: moment)
    return moment


def cancellation(user, booking):
    return client_for(user).get(f"/api/bookings/{booking.pk}/cancellation/")


def cancel(user, booking, **body):
    return client_for(user).post(f"/api/bookings/{booking.pk}/cancel/", body, format="json")


# --- What cancelling now would refund --------------------------------------------------------------

POLICY_TIMES = [
    # policy, time before check-in, percent refunded
    ("flexible", dt.timedelta(days=2), 100),
    ("flexible", dt.timedelta(hours=24), 100),  # at the exact limit: still the better refund
    ("flexible", dt.timedelta(hours=12), 0),
    ("moderate", dt.timedelta(days=6), 100),
    ("moderate", dt.timedelta(days=3), 50),
    ("strict", dt.timedelta(days=8), 50),
    ("strict", dt.timedelta(days=3), 0),
]


@pytest.mark.parametrize("policy,before,percent", POLICY_TIMES)
def test_each_policy_and_time_gives_its_refund(monkeypatch, policy, before, percent):
    booking = paid_booking(policy=policy)
    at_before_check_in(monkeypatch, booking, before)

    response = cancellation(booking.primary_guest, booking)

    assert response.status_code == 200, response.content
    body = response.json()
    refund = -(-PAID * percent // 100)
    assert body["policy"] == policy
    assert (body["amount_paid"], body["refund_percent"], body["refund_amount"], body["kept_amount"]) == (
        PAID, percent, refund, PAID - refund
    )
    assert f"KES {PAID:,}" in body["explanation"]
    assert policy.capitalize() in body["explanation"]


def test_the_answer_says_when_the_refund_drops(monkeypatch):
    booking = paid_booking(policy="moderate")
    at_before_check_in(monkeypatch, booking, dt.timedelta(days=10))
    body = cancellation(booking.primary_guest, booking).json()
    drops = dt.datetime.fromisoformat(body["refund_drops_at"])
    assert drops == check_in_at(booking.check_in) - dt.timedelta(days=5)
    assert drops.utcoffset() == dt.timedelta(hours=3)  # Africa/Nairobi
    assert "the refund would be 50 %" in body["explanation"]
    # Past the last limit it will not drop again.
    at_before_check_in(monkeypatch, booking, dt.timedelta(days=2))
    assert cancellation(booking.primary_guest, booking).json()["refund_drops_at"] is None


def test_an_unpaid_booking_refunds_nothing_and_says_so():
    booking = make_booking(property=make_property(cancellation_policy="strict"))
    body = cancellation(booking.primary_guest, booking).json()
    assert (body["amount_paid"], body["refund_amount"], body["kept_amount"]) == (0, 0, 0)
    assert "Nothing has been paid" in body["explanation"]


def test_a_co_guest_may_ask_and_anyone_else_gets_404():
    booking = paid_booking(policy="moderate")
    co_guest = UserFactory()
    BookingGuest.objects.create(booking=booking, name=co_guest.name, email=co_guest.email, user=co_guest)

    assert cancellation(co_guest, booking).status_code == 200
    stranger = cancellation(UserFactory(), booking)
    assert (stranger.status_code, stranger.json()["code"]) == (404, "not_found")
    assert cancellation(None, booking).status_code == 401


def test_a_cancelled_booking_or_a_passed_check_in_is_not_cancellable(monkeypatch):
    cancelled = make_booking(status="CANCELED")
    response = cancellation(cancelled.primary_guest, cancelled)
    assert (response.status_code, response.json()["code"]) == (409, "booking_not_cancellable")

    started = paid_booking(policy="flexible")
    at_before_check_in(monkeypatch, started, -dt.timedelta(hours=1))
    for response in (cancellation(started.primary_guest, started), cancel(started.primary_guest, started)):
        assert (response.status_code, response.json()["code"]) == (409, "booking_not_cancellable")
    started.refresh_from_db()
    assert started.status != "CANCELED"


def test_a_payment_in_flight_must_land_first():
    booking = paid_booking(policy="moderate")
    make_payment(booking=booking, status="PENDING", amount=1000)
    for response in (cancellation(booking.primary_guest, booking), cancel(booking.primary_guest, booking)):
        assert (response.status_code, response.json()["code"]) == (409, "payment_in_flight")
    assert not Refund.objects.exists()


# --- Cancelling with money held ----------------------------------------------------------------------


def test_early_cancel_reverses_the_whole_payment(monkeypatch):
    booking = paid_booking(policy="moderate")
    at_before_check_in(monkeypatch, booking, dt.timedelta(days=10))

    response = cancel(booking.primary_guest, booking, reason="Plans changed")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "CANCELED"
    assert body["cancellation_policy"] == "moderate"
    refund = Refund.objects.get(booking=booking)
    assert body["refunds"] == [
        {"id": refund.pk, "payment": refund.payment_id, "amount": PAID, "method": "reversal", "status": "QUEUED"}
    ]
    assert (refund.phone_number, refund.requested_by) == ("254712345678", booking.primary_guest)


def test_late_cancel_sends_back_the_policys_part_by_b2c(monkeypatch):
    booking = paid_booking(policy="moderate")
    at_before_check_in(monkeypatch, booking, dt.timedelta(days=3))
    terms = cancellation(booking.primary_guest, booking).json()

    body = cancel(booking.primary_guest, booking).json()

    assert [(r["amount"], r["method"], r["status"]) for r in body["refunds"]] == [(3501, "b2c", "QUEUED")]
    assert body["refunds"][0]["amount"] == terms["refund_amount"]
    listed = client_for(booking.primary_guest).get(f"/api/bookings/{booking.pk}/refunds/").json()
    assert [(r["amount"], r["method"]) for r in listed["results"]] == [(3501, "b2c")]


def test_a_strict_late_cancel_refunds_nothing(monkeypatch):
    booking = paid_booking(policy="strict")
    at_before_check_in(monkeypatch, booking, dt.timedelta(days=2))
    body = cancel(booking.primary_guest, booking).json()
    assert (body["status"], body["refunds"]) == ("CANCELED", [])
    assert not Refund.objects.exists()


def test_a_refund_above_the_threshold_waits_for_approval(settings, monkeypatch):
    settings.REFUND_APPROVAL_THRESHOLD = 5000
    booking = paid_booking(policy="flexible")
    at_before_check_in(monkeypatch, booking, dt.timedelta(days=3))
    body = cancel(booking.primary_guest, booking).json()
    assert [(r["amount"], r["status"]) for r in body["refunds"]] == [(PAID, "AWAITING_APPROVAL")]


def test_cancelling_twice_is_409_and_creates_nothing_more(monkeypatch):
    booking = paid_booking(policy="moderate")
    at_before_check_in(monkeypatch, booking, dt.timedelta(days=10))
    assert cancel(booking.primary_guest, booking).status_code == 200

    again = cancel(booking.primary_guest, booking)

    assert (again.status_code, again.json()["code"]) == (409, "booking_not_cancellable")
    assert Refund.objects.filter(booking=booking).count() == 1


def test_only_the_booker_cancels():
    booking = paid_booking(policy="moderate")
    co_guest = UserFactory()
    BookingGuest.objects.create(booking=booking, name=co_guest.name, email=co_guest.email, user=co_guest)
    assert (cancel(co_guest, booking).status_code, cancel(UserFactory(), booking).status_code) == (403, 404)
    assert cancel(None, booking).status_code == 401
    booking.refresh_from_db()
    assert booking.status != "CANCELED"


# --- The policy on the booking and the property objects ---------------------------------------------


def test_the_policy_is_on_the_booking_and_the_property(guest):
    place = make_property(cancellation_policy="strict")
    check_in = future_date(20)
    created = client_for(guest).post(
        "/api/bookings/",
        {"property": place.pk, "check_in": check_in.isoformat(), "check_out": (check_in + dt.timedelta(days=2)).isoformat()},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["cancellation_policy"] == "strict"
    assert client_for(guest).get(f"/api/bookings/{created.json()['id']}/").json()["cancellation_policy"] == "strict"

    detail = client_for().get(f"/api/properties/{place.pk}/").json()
    assert detail["cancellation_policy"] == "strict"
    assert detail["cancellation_policy_text"].startswith("Strict: 50 % refund until 7 days before check-in")


def test_the_schema_documents_the_cancellation_endpoints():
    paths = client_for().get("/api/schema/", {"format": "json"}).json()["paths"]
    terms = paths["/api/bookings/{booking_id}/cancellation/"]["get"]
    assert {"200", "404", "409"} <= set(terms["responses"])
    assert {"200", "403", "409"} <= set(paths["/api/bookings/{booking_id}/cancel/"]["post"]["responses"])
