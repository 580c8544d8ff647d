"""Issue 11 item 13: inventory cannot be held for free.

Booking creation is throttled per user (API and site share one counter), a stay is capped
by the listing's max_nights, the first payment must reach the listing's minimum deposit,
and a PROCESSING booking whose balance is not paid by its deadline is cancelled, its
payments flagged for refund and staff alerted.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import AuditEntry
from mpesa.models import Payment
from reservations.models import Booking
from tests.factories import UserFactory, future_date, make_booking, make_payment, make_property

pytestmark = pytest.mark.django_db

NAIROBI = ZoneInfo("Africa/Nairobi")
BOOKINGS = "/api/bookings/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _book(client, prop, *, check_in, nights):
    return client.post(
        BOOKINGS,
        {
            "property": prop.pk,
            "check_in": check_in.isoformat(),
            "check_out": (check_in + dt.timedelta(days=nights)).isoformat(),
        },
        format="json",
    )


@pytest.fixture
def booking_rate(monkeypatch):
    """The production default (30/hour): test settings raise it so other tests never hit it."""
    from reservations.apis import BookingUserThrottle

    cache.clear()
    monkeypatch.setattr(BookingUserThrottle, "rate", "30/hour", raising=False)
    yield
    cache.clear()


# --- Throttle ----------------------------------------------------------------------------------------


def test_thirty_first_booking_in_an_hour_is_429_with_detail_and_code(booking_rate, site_tree):
    guest = UserFactory()
    prop = make_property(price_per_night=1000)
    client = client_for(guest)
    for day in range(30):
        response = _book(client, prop, check_in=future_date(10 + day), nights=1)
        assert response.status_code == 201, response.content

    response = _book(client, prop, check_in=future_date(60), nights=1)

    assert response.status_code == 429
    body = response.json()
    assert set(body) >= {"detail", "code"} and body["code"] == "throttled"
    assert Booking.objects.count() == 30
    # Another user is not affected by this one's counter.
    assert _book(client_for(UserFactory()), prop, check_in=future_date(60), nights=1).status_code == 201


def test_the_site_booking_form_shares_the_api_counter_and_says_so_with_429(booking_rate, site_tree, client):
    from reservations.apis import BookingUserThrottle

    BookingUserThrottle.rate = "2/hour"
    guest = UserFactory()
    prop = make_property(price_per_night=1000)
    assert _book(client_for(guest), prop, check_in=future_date(10), nights=1).status_code == 201
    client.force_login(guest)

    def site_post(check_in):
        return client.post(
            reverse("reservations:booking_create"),
            {
                "property": prop.pk,
                "check_in": check_in.isoformat(),
                "check_out": (check_in + dt.timedelta(days=1)).isoformat(),
                "guests": 1,
                "guest-TOTAL_FORMS": 0,
                "guest-INITIAL_FORMS": 0,
                "guest-MIN_NUM_FORMS": 0,
                "guest-MAX_NUM_FORMS": 1000,
            },
        )

    assert site_post(future_date(20)).status_code == 302
    refused = site_post(future_date(30))
    assert refused.status_code == 429
    assert "Too many bookings" in refused.content.decode()
    assert Booking.objects.count() == 2


# --- Stay length ---------------------------------------------------------------------------------------


def test_a_31_night_stay_on_a_default_property_is_400_on_check_out(site_tree):
    prop = make_property(price_per_night=60_000)
    assert prop.max_nights == 30
    client = client_for(UserFactory())

    response = _book(client, prop, check_in=future_date(10), nights=31)

    assert response.status_code == 400 and "check_out" in response.json()
    assert "30 nights" in response.json()["check_out"][0]
    assert not Booking.objects.exists()
    assert _book(client, prop, check_in=future_date(10), nights=30).status_code == 201


def test_an_owner_set_max_nights_is_honoured_by_the_api_and_the_site(site_tree, client):
    prop = make_property(price_per_night=1000, max_nights=5)
    guest = UserFactory()
    assert _book(client_for(guest), prop, check_in=future_date(10), nights=6).status_code == 400
    assert _book(client_for(guest), prop, check_in=future_date(10), nights=5).status_code == 201
    client.force_login(guest)
    response = client.post(
        reverse("reservations:booking_create"),
        {
            "property": prop.pk,
            "check_in": future_date(40).isoformat(),
            "check_out": future_date(46).isoformat(),
            "guests": 1,
            "guest-TOTAL_FORMS": 0,
            "guest-INITIAL_FORMS": 0,
            "guest-MIN_NUM_FORMS": 0,
            "guest-MAX_NUM_FORMS": 1000,
        },
    )
    assert response.status_code == 400 and "at most 5 nights" in response.content.decode()
    assert Booking.objects.count() == 1
    detail = APIClient().get(f"/api/properties/{prop.pk}/")
    assert detail.status_code == 200 and detail.json()["max_nights"] == 5


@pytest.mark.parametrize("value, ok", [(0, False), (1, True), (365, True), (366, False)])
def test_max_nights_is_validated_between_1_and_365(site_tree, value, ok):
    prop = make_property()
    prop.max_nights = value
    if ok:
        prop.full_clean()
    else:
        with pytest.raises(ValidationError) as error:
            prop.full_clean()
        assert "max_nights" in error.value.message_dict


@pytest.mark.parametrize("value, ok", [(None, False), (19, False), (20, True), (100, True), (101, False)])
def test_min_deposit_percent_defaults_to_20_and_is_validated_between_20_and_100(site_tree, value, ok):
    prop = make_property()
    assert prop.min_deposit_percent == 20
    prop.min_deposit_percent = value
    if ok:
        prop.full_clean()
    else:
        with pytest.raises(ValidationError) as error:
            prop.full_clean()
        assert "min_deposit_percent" in error.value.message_dict


# --- Minimum first payment ------------------------------------------------------------------------------


def test_a_first_payment_under_the_default_deposit_is_400(site_tree):
    guest = UserFactory()
    booking = make_booking(guest=guest, property=make_property(price_per_night=5001), nights=2)  # total 10002
    client = client_for(guest)
    assert client.get(f"{BOOKINGS}{booking.pk}/").json()["min_first_payment"] == 2001  # ceil(10002 * 20 / 100)

    response = client.post(f"{BOOKINGS}{booking.pk}/payments/", {"phone_number": "0712345678", "amount": 1})

    assert response.status_code == 400
    assert response.json()["code"] == "below_min_deposit" and response.json()["min_amount"] == 2001
    assert not Payment.objects.exists()
    ok = client.post(f"{BOOKINGS}{booking.pk}/payments/", {"phone_number": "0712345678", "amount": 2001})
    assert ok.status_code == 202


def test_a_second_prompt_while_the_deposit_is_in_flight_cannot_undercut_it(site_tree):
    """Deposit from one phone left unanswered, KES 1 from another: if the first then fails,
    the booking would hold its dates on one shilling. Every payment must reach the deposit
    until the deposit is actually paid."""
    guest = UserFactory()
    booking = make_booking(guest=guest, property=make_property(price_per_night=5000), nights=2)
    make_payment(booking=booking, status="PENDING", amount=2000, phone_number="254700000001")
    client = client_for(guest)

    response = client.post(f"{BOOKINGS}{booking.pk}/payments/", {"phone_number": "0712345678", "amount": 1})

    assert (response.status_code, response.json()["code"]) == (400, "below_min_deposit")


# --- Balance deadline ----------------------------------------------------------------------------------------


def _processing(*, check_in, booked_hours_ago, paid=2000, nights=2):
    booking = make_booking(
        property=make_property(price_per_night=5000), check_in=check_in, nights=nights,
        status="PROCESSING", amount_paid=paid, hold_expires_at=None,
    )
    Booking.objects.filter(pk=booking.pk).update(booking_date=timezone.now() - dt.timedelta(hours=booked_hours_ago))
    payment = make_payment(booking=booking, status="SUCCESS", amount=paid)
    booking.refresh_from_db()
    return booking, payment


def test_balance_deadline_task_cancels_an_overdue_booking_and_refunds_by_policy(
    site_tree, django_capture_on_commit_callbacks
):
    from reservations.tasks import booking_enforce_balance_deadlines

    overdue, paid = _processing(check_in=future_date(1), booked_hours_ago=25)
    not_due, not_due_payment = _processing(check_in=future_date(30), booked_hours_ago=25)
    fresh, _ = _processing(check_in=future_date(1), booked_hours_ago=1)

    with django_capture_on_commit_callbacks(execute=True):
        assert booking_enforce_balance_deadlines() == 1

    overdue.refresh_from_db()
    assert overdue.status == "CANCELED" and overdue.cancel_kind == "balance_deadline"
    paid.refresh_from_db()
    # A day before check-in under the default (moderate) policy: half of the 2,000 goes back,
    # by B2C to the phone that paid (the send itself is tests/mpesa/test_transfers*.py).
    refund = paid.daraja_refunds.get()
    assert (refund.amount, refund.method, refund.phone_number) == (1000, "b2c", paid.phone_number)
    assert not paid.needs_refund
    assert AuditEntry.objects.filter(action="booking.balance_deadline_passed", object_id=str(overdue.pk)).exists()
    for booking in (not_due, fresh):
        booking.refresh_from_db()
        assert booking.status == "PROCESSING"
    not_due_payment.refresh_from_db()
    assert not not_due_payment.needs_refund
    # Running it again changes nothing.
    assert booking_enforce_balance_deadlines() == 0


def test_balance_deadline_waits_for_a_payment_in_flight(site_tree):
    from reservations.tasks import booking_enforce_balance_deadlines

    booking, _ = _processing(check_in=future_date(1), booked_hours_ago=30)
    make_payment(booking=booking, status="PENDING", amount=1000, phone_number="254700000009")
    assert booking_enforce_balance_deadlines() == 0
    booking.refresh_from_db()
    assert booking.status == "PROCESSING"


def test_the_balance_deadline_runs_on_a_schedule_created_by_a_migration():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="booking_enforce_balance_deadlines")
    assert schedule.func == "reservations.tasks.booking_enforce_balance_deadlines" and schedule.repeats == -1


def test_balance_due_by_is_48_hours_before_check_in_at_14_00_nairobi_for_a_far_stay(site_tree):
    guest = UserFactory()
    check_in = future_date(30)
    booking = make_booking(guest=guest, check_in=check_in)
    data = client_for(guest).get(f"{BOOKINGS}{booking.pk}/").json()
    expected = dt.datetime.combine(check_in - dt.timedelta(days=2), dt.time(14, 0), tzinfo=NAIROBI)
    assert data["balance_due_by"] == expected.isoformat()


def test_balance_due_by_is_24_hours_after_booking_for_a_stay_that_starts_sooner(site_tree):
    guest = UserFactory()
    booking = make_booking(guest=guest, check_in=future_date(2))
    data = client_for(guest).get(f"{BOOKINGS}{booking.pk}/").json()
    due = dt.datetime.fromisoformat(data["balance_due_by"])
    assert due == booking.booking_date + dt.timedelta(hours=24)
    assert due.utcoffset() == dt.timedelta(hours=3)  # written in Nairobi time
