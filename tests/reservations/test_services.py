import datetime as dt
import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.exceptions import ApplicationError
from core.models import AuditEntry
from listings.models import BlockedPeriod
from mpesa.models import Payment
from reservations.models import REFERENCE_ALPHABET, Booking
from reservations.services import (
    booking_cancel,
    booking_create,
    booking_expire_holds,
    booking_guest_add,
    booking_late_payment_received,
    booking_reactivate,
    booking_reference_new,
    bookings_follow_up_created,
)
from mpesa.selectors import booking_money_of
from tests.factories import UserFactory, future_date, make_booking, make_property, recompute_booking_money

pytestmark = pytest.mark.django_db


def _create(user, property, *, starts_in=20, nights=3, guests=None):
    check_in = future_date(starts_in)
    return booking_create(
        user=user,
        property_id=property.pk,
        check_in=check_in,
        check_out=check_in + dt.timedelta(days=nights),
        guests=guests or [],
    )


def _payment(booking, *, status="SUCCESS", kind="PAYMENT", amount=1000, received=None, **fields):
    return Payment.objects.create(
        booking=booking,
        kind=kind,
        status=status,
        amount=amount,
        received_amount=received if received is not None else (amount if status == "SUCCESS" else None),
        phone_number="254712345678",
        **fields,
    )


def _audit_actions(booking):
    return list(
        AuditEntry.objects.filter(object_id=str(booking.pk), action__startswith="booking.")
        .order_by("id")
        .values_list("action", flat=True)
    )


# --- booking_create -----------------------------------------------------------------


def test_create_prices_the_stay_on_the_server_and_holds_the_dates(settings, django_capture_on_commit_callbacks):
    settings.BOOKING_HOLD_MINUTES = 15
    guest = UserFactory()
    property = make_property(price_per_night=4500)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        booking = _create(guest, property, nights=3)
    assert booking.status == Booking.Status.PENDING
    assert (booking.nights, booking.total_price, booking.balance_due, booking.amount_paid) == (3, 13500, 13500, 0)
    assert booking.price_per_night == 4500
    assert booking.party_size == 1
    assert before + dt.timedelta(minutes=15) <= booking.hold_expires_at <= timezone.now() + dt.timedelta(minutes=15)
    primary = booking.guests.get()
    assert (primary.is_primary, primary.user, primary.email) == (True, guest, guest.email)
    # The "created" audit entry and the owner's email come from the worker's follow-up.
    assert _audit_actions(booking) == [] and mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        assert bookings_follow_up_created() == 1
    assert _audit_actions(booking) == ["booking.created"]
    # booking_created goes to the owner, and the guest gets their own (the hold, the link to pay).
    assert [m.to for m in mail.outbox] == [[property.owner.email], [guest.email]]


def test_references_are_short_unique_and_unambiguous():
    references = {booking_reference_new() for _ in range(2000)}
    assert len(references) == 2000
    for reference in references:
        assert len(reference) <= 12
        assert re.fullmatch(f"NX[{REFERENCE_ALPHABET}]+", reference)
        assert not set(reference[2:]) & set("01OIL")


def test_reference_collision_is_retried(monkeypatch):
    property = make_property()
    first = _create(UserFactory(), property, starts_in=10)
    generated = iter([first.reference, "NXAAAA2222"])
    monkeypatch.setattr("reservations.services.booking_reference_new", lambda: next(generated))
    second = _create(UserFactory(), property, starts_in=40)
    assert second.reference == "NXAAAA2222"


def test_co_guests_are_stored_normalised_and_never_linked_by_a_matching_email_or_phone():
    """Anyone can type anyone's address: only an accepted invitation links (tests/reservations/
    test_security_invitations.py)."""
    UserFactory(email="wanjiku@example.com")
    UserFactory(phone_number="+254722111222")
    booking = _create(
        UserFactory(),
        make_property(max_guests=5),
        guests=[
            {"name": "Wanjiku", "email": "WanJiku@Example.COM"},
            {"name": "Otieno", "phone_number": "0722 111 222"},
            {"name": "Stranger", "email": "nobody@example.com", "phone_number": "0733000111"},
        ],
    )
    rows = {g.name: g for g in booking.guests.all()}
    assert all(row.user is None for row in rows.values() if not row.is_primary)
    assert rows["Wanjiku"].email == "wanjiku@example.com" and rows["Wanjiku"].invitation == "invited"
    # Invited by SMS to the number typed; the account with that number is still not linked.
    assert rows["Otieno"].phone_number == "+254722111222" and rows["Otieno"].invitation == "invited"
    assert rows["Stranger"].invitation == "invited"
    assert booking.party_size == 4


def test_only_the_booker_is_linked_when_co_guests_repeat_the_booker_or_a_friend():
    booker = UserFactory(email="booker@example.com")
    friend = UserFactory(email="friend@example.com")
    booking = _create(
        booker,
        make_property(max_guests=4),
        guests=[
            {"name": "Me again", "email": "booker@example.com"},
            {"name": "Friend", "email": "friend@example.com"},
            {"name": "Friend twice", "email": "FRIEND@example.com"},
        ],
    )
    linked = list(booking.guests.exclude(user=None).values_list("user_id", flat=True))
    assert linked == [booker.pk]
    assert friend.pk not in linked


@pytest.mark.parametrize(
    "change, field",
    [
        ({"starts_in": -1}, "check_in"),
        ({"nights": 0}, "check_out"),
        ({"nights": -2}, "check_out"),
        ({"nights": 1}, "check_out"),  # under min_nights=2
        ({"nights": 400}, "check_out"),
        ({"guests": [{"name": "A"}, {"name": "B"}]}, "guests"),  # party of 3 > max_guests=2
        ({"guests": [{"name": "  "}]}, "guests"),
        ({"guests": [{"name": "A", "phone_number": "12345"}]}, "guests"),
    ],
)
def test_bad_input_is_a_field_error(change, field):
    property = make_property(max_guests=2, min_nights=2)
    check_in = future_date(change.get("starts_in", 10))
    with pytest.raises(ValidationError) as raised:
        booking_create(
            user=UserFactory(),
            property_id=property.pk,
            check_in=check_in,
            check_out=check_in + dt.timedelta(days=change.get("nights", 3)),
            guests=change.get("guests", []),
        )
    assert field in raised.value.message_dict
    assert not Booking.objects.exists()


def test_unknown_unpublished_and_unavailable_properties_are_refused_as_field_errors():
    unpublished = make_property(publish=False)
    unavailable = make_property(availability_status="unavailable")
    for property_id in (999_999, 2**70, unpublished.pk, unavailable.pk):
        with pytest.raises(ValidationError) as raised:
            booking_create(
                user=UserFactory(),
                property_id=property_id,
                check_in=future_date(5),
                check_out=future_date(7),
                guests=[],
            )
        assert "property" in raised.value.message_dict
    assert not Booking.objects.exists()


def test_overlapping_stay_is_refused_and_adjacent_stays_are_allowed():
    property = make_property()
    _create(UserFactory(), property, starts_in=10, nights=3)  # nights 10, 11, 12
    with pytest.raises(ApplicationError) as raised:
        _create(UserFactory(), property, starts_in=12, nights=2)
    assert (raised.value.code, raised.value.status) == ("dates_unavailable", 409)
    before = _create(UserFactory(), property, starts_in=8, nights=2)  # checks out on day 10
    after = _create(UserFactory(), property, starts_in=13, nights=2)  # checks in on day 13
    assert before.check_out == future_date(10)
    assert after.check_in == future_date(13)


def test_a_canceled_booking_frees_its_nights():
    property = make_property()
    make_booking(property=property, check_in=future_date(10), nights=3, status="CANCELED")
    assert _create(UserFactory(), property, starts_in=10, nights=3).status == "PENDING"


def test_overlap_refused_by_the_database_even_without_the_python_check(monkeypatch):
    """With the pre-check disabled, PostgreSQL's exclusion constraint (SQLite: the same
    check-and-insert under the IMMEDIATE lock is the guard, so the pre-check is the guard
    there) still refuses, as a 409 and not a 500."""
    from django.db import connection

    property = make_property()
    _create(UserFactory(), property, starts_in=10, nights=3)
    if connection.vendor == "postgresql":
        import dataclasses

        from reservations import services

        real = services.property_booking_terms
        monkeypatch.setattr(
            services,
            "property_booking_terms",
            lambda **kw: dataclasses.replace(real(**kw), nights_taken=False),
        )
    with pytest.raises(ApplicationError) as raised:
        _create(UserFactory(), property, starts_in=11, nights=1)
    assert raised.value.code == "dates_unavailable"
    assert Booking.objects.filter(property=property).count() == 1


def test_blocked_dates_refuse_bookings():
    property = make_property()
    BlockedPeriod.objects.create(property=property, start=future_date(10), end=future_date(12), reason="Painting")
    with pytest.raises(ApplicationError) as raised:
        _create(UserFactory(), property, starts_in=11, nights=3)
    assert raised.value.code == "dates_unavailable"
    assert _create(UserFactory(), property, starts_in=12, nights=2).check_in == future_date(12)


def test_minimum_credit_score_refuses_guests_below_it():
    property = make_property(min_credit_score=60)
    low = UserFactory(credit_score=59)
    with pytest.raises(ApplicationError) as raised:
        _create(low, property)
    assert (raised.value.code, raised.value.status) == ("credit_score_too_low", 409)
    assert _create(UserFactory(credit_score=60), property).status == "PENDING"


# --- booking_cancel -------------------------------------------------------------------------


def test_cancel_an_unpaid_booking(django_capture_on_commit_callbacks):
    booking = make_booking()
    with django_capture_on_commit_callbacks(execute=True):
        result = booking_cancel(booking_id=booking.pk, actor=booking.primary_guest, reason="Plans changed")
    assert result.status == "CANCELED"
    assert result.canceled_at is not None
    assert result.cancel_reason == "Plans changed"
    assert _audit_actions(booking) == ["booking.canceled"]
    assert [m.to for m in mail.outbox] == [[booking.primary_guest.email]]


def test_cancel_twice_is_refused_the_second_time():
    booking = make_booking()
    booking_cancel(booking_id=booking.pk, actor=booking.primary_guest)
    with pytest.raises(ApplicationError) as raised:
        booking_cancel(booking_id=booking.pk, actor=booking.primary_guest)
    assert (raised.value.code, raised.value.status) == ("booking_not_cancellable", 409)
    assert _audit_actions(booking) == ["booking.canceled"]


@pytest.mark.parametrize("status", ["PENDING", "QUEUED"])
def test_cancel_refused_while_a_payment_is_in_flight(status):
    booking = make_booking()
    _payment(booking, status=status)
    recompute_booking_money(booking.pk)  # the payments app reports money on its way
    with pytest.raises(ApplicationError) as raised:
        booking_cancel(booking_id=booking.pk, actor=booking.primary_guest)
    assert (raised.value.code, raised.value.status) == ("payment_in_flight", 409)
    booking.refresh_from_db()
    assert booking.status == "PENDING"


def test_cancel_with_money_held_is_allowed_and_creates_the_refund():
    booking = make_booking()
    _payment(booking, status="SUCCESS")
    recompute_booking_money(booking.pk)
    canceled = booking_cancel(booking_id=booking.pk, actor=booking.primary_guest)
    assert canceled.status == "CANCELED" and canceled.cancel_kind == "guest"
    # 30 days before check-in under the default (moderate) policy: everything goes back.
    assert [r["amount"] for r in canceled.refunds_created] == [canceled.amount_paid]


def test_cancel_allowed_after_failed_payments_and_full_refunds():
    booking = make_booking()
    _payment(booking, status="FAILED")
    paid = _payment(booking, status="SUCCESS", amount=2000)
    _payment(booking, kind="REFUND", status="SUCCESS", amount=2000, refund_of=paid)
    assert booking_cancel(booking_id=booking.pk, actor=booking.primary_guest).status == "CANCELED"


# --- booking_expire_holds ----------------------------------------------------------------------


def test_expired_unpaid_holds_are_canceled_and_cost_credit(django_capture_on_commit_callbacks):
    guest = UserFactory(credit_score=50)
    expired = make_booking(guest=guest, hold_expires_at=timezone.now() - dt.timedelta(seconds=1))
    fresh = make_booking(check_in=future_date(60), hold_expires_at=timezone.now() + dt.timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert booking_expire_holds() == 1
    expired.refresh_from_db()
    fresh.refresh_from_db()
    assert expired.status == "CANCELED"
    assert expired.cancel_reason == "Hold expired before payment"
    assert fresh.status == "PENDING"
    guest.refresh_from_db()
    assert guest.credit_score == 50 - 3
    assert _audit_actions(expired) == ["booking.hold_expired"]
    assert [m.to for m in mail.outbox] == [[guest.email]]
    assert booking_expire_holds() == 0  # running again changes nothing


@pytest.mark.parametrize("status", ["QUEUED", "PENDING"])
def test_hold_is_kept_while_a_payment_is_in_flight(status):
    booking = make_booking(hold_expires_at=timezone.now() - dt.timedelta(minutes=1))
    _payment(booking, status=status)
    recompute_booking_money(booking.pk)  # the payments app reports the money on its way
    assert booking_expire_holds() == 0
    booking.refresh_from_db()
    assert booking.status == "PENDING"


def test_hold_is_kept_once_money_is_held():
    booking = make_booking(hold_expires_at=timezone.now() - dt.timedelta(minutes=1))
    _payment(booking, status="SUCCESS", amount=500)
    recompute_booking_money(booking.pk)
    assert booking_expire_holds() == 0
    assert Booking.objects.get(pk=booking.pk).status == "PROCESSING"


def test_only_pending_bookings_expire():
    for status in ("PROCESSING", "CONFIRMED", "CANCELED"):
        make_booking(
            status=status,
            check_in=future_date(10 + 10 * len(status)),
            hold_expires_at=timezone.now() - dt.timedelta(hours=1),
        )
    assert booking_expire_holds() == 0


def test_expire_task_is_scheduled_every_minute():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="booking_expire_holds")
    assert schedule.func == "reservations.tasks.booking_expire_holds"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)


def test_expire_task_entry_point_expires_holds():
    from reservations.tasks import booking_expire_holds as task

    make_booking(hold_expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert task() == 1


# --- booking_recompute_totals / booking_reactivate ------------------------------------------


def test_partial_payment_makes_processing_and_full_payment_confirms(django_capture_on_commit_callbacks):
    guest = UserFactory(credit_score=50)
    booking = make_booking(guest=guest, nights=2)  # 2 x 5000
    _payment(booking, amount=3000)
    recompute_booking_money(booking.pk)
    locked = Booking.objects.get(pk=booking.pk)
    assert (locked.status, locked.amount_paid, locked.balance_due) == ("PROCESSING", 3000, 7000)

    _payment(booking, amount=7000)
    with django_capture_on_commit_callbacks(execute=True):
        recompute_booking_money(booking.pk)
    locked.refresh_from_db()
    assert (locked.status, locked.amount_paid, locked.balance_due) == ("CONFIRMED", 10000, 0)
    guest.refresh_from_db()
    assert guest.credit_score == 55
    assert len(mail.outbox) == 1 and "confirm" in mail.outbox[0].subject.lower()

    recompute_booking_money(booking.pk)  # nothing changed: no second credit, no new audit entry
    guest.refresh_from_db()
    assert guest.credit_score == 55
    assert _audit_actions(booking).count("booking.totals_recomputed") == 2


def test_recompute_uses_received_amounts_and_subtracts_refunds():
    booking = make_booking(nights=2)
    paid = _payment(booking, amount=6000, received=6000)
    _payment(booking, amount=999, status="FAILED")
    _payment(booking, kind="REFUND", amount=1000, refund_of=paid)
    recompute_booking_money(booking.pk)
    booking.refresh_from_db()
    assert (booking.amount_paid, booking.balance_due, booking.status) == (5000, 5000, "PROCESSING")


def test_money_on_a_canceled_booking_keeps_it_canceled_and_shows_what_it_holds():
    booking = make_booking(status="CANCELED")
    _payment(booking, amount=10000)
    recompute_booking_money(booking.pk)
    booking.refresh_from_db()
    # Still cancelled; the money it holds is on it until it is refunded.
    assert (booking.status, booking.amount_paid) == ("CANCELED", 10000)


def test_a_late_payment_restores_a_canceled_booking_whose_dates_are_free():
    booking = make_booking(status="CANCELED", nights=2, cancel_kind="payment_failed")
    _payment(booking, amount=10000)
    with transaction.atomic():
        locked = Booking.objects.select_for_update().get(pk=booking.pk)
        money = booking_money_of(booking_id=booking.pk)
        assert booking_late_payment_received(booking=locked, money=money) is True
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.balance_due) == ("CONFIRMED", 10000, 0)
    assert booking.canceled_at is None
    assert "booking.reactivated" in _audit_actions(booking)


def test_reactivate_refuses_when_the_dates_were_taken_meanwhile():
    property = make_property()
    canceled = make_booking(
        property=property, status="CANCELED", check_in=future_date(10), nights=3, cancel_kind="payment_failed"
    )
    make_booking(property=property, check_in=future_date(11), nights=1)
    with transaction.atomic():
        locked = Booking.objects.select_for_update().get(pk=canceled.pk)
        assert booking_reactivate(booking=locked) is False
    canceled.refresh_from_db()
    assert canceled.status == "CANCELED"


def test_reactivate_refuses_when_the_dates_were_blocked_meanwhile():
    booking = make_booking(status="CANCELED", check_in=future_date(10), nights=3, cancel_kind="payment_failed")
    BlockedPeriod.objects.create(property=booking.property, start=future_date(12), end=future_date(14))
    with transaction.atomic():
        assert booking_reactivate(booking=Booking.objects.select_for_update().get(pk=booking.pk)) is False


def test_reactivate_loses_to_the_exclusion_constraint_without_the_python_check(monkeypatch):
    """PostgreSQL's constraint has the final say inside reactivate's savepoint: no 500, just False."""
    from django.db import connection

    property = make_property()
    canceled = make_booking(
        property=property, status="CANCELED", check_in=future_date(10), nights=3, cancel_kind="payment_failed"
    )
    make_booking(property=property, check_in=future_date(11), nights=1)
    if connection.vendor == "postgresql":
        from reservations import services

        real = services.active_bookings_overlapping
        monkeypatch.setattr(services, "active_bookings_overlapping", lambda **kw: real(**kw).none())
    with transaction.atomic():
        locked = Booking.objects.select_for_update().get(pk=canceled.pk)
        assert booking_reactivate(booking=locked) is False
        assert locked.status == "CANCELED"
        assert Booking.objects.filter(pk=canceled.pk, status="CANCELED").exists()  # transaction still usable


# --- co-guests ------------------------------------------------------------------------------------


def test_primary_guest_adds_a_co_guest_up_to_capacity():
    friend = UserFactory(email="friend2@example.com")
    booking = _create(UserFactory(), make_property(max_guests=2))
    row = booking_guest_add(
        booking_id=booking.pk, actor=booking.primary_guest, name="Friend", email="FRIEND2@example.com"
    )
    assert row.user is None and row.invitation == "invited"  # linked only once friend accepts
    booking.refresh_from_db()
    assert booking.party_size == 2
    with pytest.raises(ValidationError):
        booking_guest_add(booking_id=booking.pk, actor=booking.primary_guest, name="One too many")
    with pytest.raises(ApplicationError) as raised:
        booking_guest_add(booking_id=booking.pk, actor=friend, name="Not mine to add")
    assert raised.value.code == "not_primary_guest"


def test_an_account_whose_email_differs_only_in_case_is_not_linked_either():
    """Emails stored with capitals (created outside the normal sign-up) do not link any more than exact ones."""
    odd = User.objects.create_user(email="MiXeD@Example.com", password="x-Strong-pass-1", name="Mixed")
    odd.email = "MiXeD@Example.com"
    odd.save(update_fields=["email"])
    booking = _create(UserFactory(), make_property(), guests=[{"name": "Mixed", "email": "mixed@example.com"}])
    assert booking.guests.get(name="Mixed").user is None
    assert not booking.guests.filter(user=odd).exists()
