"""Refunds a cancellation owes (mpesa.refunds_out): the amount by policy and cancel time, how it
is split into Reversals and B2C payments, approval by a second staff member, retry, late
payments and what is still due. Service level: the sending itself is tests/mpesa/test_transfers.py."""

import datetime as dt

import pytest
from django.utils import timezone

from core.exceptions import ApplicationError
from core.models import AuditEntry
from mpesa.models import Payment, Refund
from mpesa.refunds_out import refund_amount_due, refund_approve, refund_retry, refunds_for_cancellation
from mpesa.selectors import booking_money_of
from reservations.deadlines import check_in_at
from reservations.models import Booking
from reservations.services import booking_cancel
from reservations.staff_services import booking_staff_cancel
from tests.factories import StaffFactory, make_booking, make_payment, make_property, recompute_booking_money

pytestmark = pytest.mark.django_db


def _paid_booking(*, policy="moderate", price=5000, nights=2, payments=(10000,), check_in=None, **fields) -> Booking:
    home = make_property(price_per_night=price, cancellation_policy=policy)
    booking = make_booking(property=home, nights=nights, status="PROCESSING", check_in=check_in, **fields)
    for amount in payments:
        make_payment(booking=booking, amount=amount)
    recompute_booking_money(booking.pk)
    booking.refresh_from_db()
    return booking


def _check_in_for(hours_before: float) -> tuple[dt.date, dt.datetime]:
    """A check-in date and the moment `hours_before` check-in (at CHECK_IN_TIME)."""
    day = timezone.localdate() + dt.timedelta(days=30)
    return day, check_in_at(day) - dt.timedelta(hours=hours_before)


# Every policy at both sides of its limit, on 10,000 paid (docs/money-out.md).
@pytest.mark.parametrize(
    "policy,hours_before,refund",
    [
        ("flexible", 24, 10000),  # the exact limit still gets the better refund
        ("flexible", 23.9, 0),
        ("moderate", 5 * 24, 10000),
        ("moderate", 5 * 24 - 0.1, 5000),
        ("moderate", 1, 5000),
        ("strict", 7 * 24, 5000),
        ("strict", 7 * 24 - 0.1, 0),
        ("strict", 30 * 24, 5000),
    ],
)
def test_guest_cancellation_refunds_by_policy_and_cancel_time(policy, hours_before, refund, monkeypatch):
    check_in, at = _check_in_for(hours_before)
    booking = _paid_booking(policy=policy, check_in=check_in)
    monkeypatch.setattr(timezone, "now", lambda: at)
    canceled = booking_cancel(booking_id=booking.pk, actor=booking.primary_guest)
    assert canceled.status == "CANCELED"
    assert sum(r["amount"] for r in canceled.refunds_created) == refund
    assert sum(Refund.objects.filter(booking=booking).values_list("amount", flat=True)) == refund


@pytest.mark.parametrize("kind", ["staff", "owner"])
def test_owner_and_staff_cancellations_refund_everything_whatever_the_policy(kind):
    check_in, _ = _check_in_for(1)
    booking = _paid_booking(policy="strict", check_in=check_in, payments=(4000, 6000))
    Booking.objects.filter(pk=booking.pk).update(status="CANCELED", cancel_kind=kind, canceled_at=timezone.now())
    booking.refresh_from_db()
    refunds = refunds_for_cancellation(booking=booking, kind=kind)
    # Both payments go back whole: one Reversal of each receipt.
    assert sorted((r["amount"], r["method"]) for r in refunds) == [(4000, "reversal"), (6000, "reversal")]


@pytest.mark.parametrize("kind", ["payment_failed", "hold_expired"])
def test_cancellations_with_nothing_held_refund_nothing(kind):
    booking = _paid_booking(payments=())
    assert refunds_for_cancellation(booking=booking, kind=kind) == []
    assert not Refund.objects.exists()


def test_part_of_a_payment_goes_back_by_b2c_and_a_whole_one_by_reversal():
    check_in, at = _check_in_for(24)  # moderate, under 5 days: half of 10,000
    booking = _paid_booking(check_in=check_in, payments=(2000, 3000, 5000))
    Booking.objects.filter(pk=booking.pk).update(status="CANCELED", cancel_kind="guest", canceled_at=at)
    booking.refresh_from_db()
    refunds = refunds_for_cancellation(booking=booking, kind="guest")
    # 5,000 is exactly one payment: reversed whole rather than split.
    assert [(r["amount"], r["method"]) for r in refunds] == [(5000, "reversal")]

    other = _paid_booking(check_in=check_in, payments=(4000, 6000))
    Booking.objects.filter(pk=other.pk).update(status="CANCELED", cancel_kind="guest", canceled_at=at)
    other.refresh_from_db()
    refunds = refunds_for_cancellation(booking=other, kind="guest")
    assert [(r["amount"], r["method"]) for r in refunds] == [(5000, "b2c")]
    refund = Refund.objects.get(pk=refunds[0]["refund_id"])
    assert refund.payment.amount == 6000 and refund.phone_number == "254712345678"
    assert refund.originator_conversation_id.startswith("NXR-")


def test_guest_cancel_with_money_held_is_allowed_and_refunds_are_open_until_sent():
    check_in, _ = _check_in_for(30 * 24)
    booking = _paid_booking(check_in=check_in)
    canceled = booking_cancel(booking_id=booking.pk, actor=booking.primary_guest)
    refund = Refund.objects.get(booking=booking)
    assert (refund.status, refund.method, refund.amount, refund.requested_by) == (
        "QUEUED", "reversal", 10000, booking.primary_guest,
    )
    # Not refunded until Daraja says so: the booking still holds it.
    canceled.refresh_from_db()
    assert canceled.amount_paid == 10000 and booking_money_of(booking_id=booking.pk).refunded == 0
    assert refund_amount_due(booking=booking) == 10000
    assert AuditEntry.objects.filter(action="refund.created", object_id=str(refund.pk)).exists()


def test_guest_cancel_refusals():
    check_in, _ = _check_in_for(30 * 24)
    booking = _paid_booking(check_in=check_in)
    make_payment(booking=booking, amount=1000, status="PENDING")
    with pytest.raises(ApplicationError) as raised:
        booking_cancel(booking_id=booking.pk, actor=booking.primary_guest)
    assert (raised.value.code, raised.value.status) == ("payment_in_flight", 409)

    started = make_booking(check_in=timezone.localdate(), status="PROCESSING", amount_paid=100)
    if timezone.now() >= check_in_at(started.check_in):
        with pytest.raises(ApplicationError) as raised:
            booking_cancel(booking_id=started.pk, actor=started.primary_guest)
        assert raised.value.code == "booking_not_cancellable"

    done = _paid_booking(check_in=check_in, payments=())
    booking_cancel(booking_id=done.pk, actor=done.primary_guest)
    with pytest.raises(ApplicationError) as raised:
        booking_cancel(booking_id=done.pk, actor=done.primary_guest)
    assert (raised.value.code, raised.value.status) == ("booking_not_cancellable", 409)


def test_cancel_after_check_in_time_is_refused(monkeypatch):
    check_in, at = _check_in_for(-1)
    booking = _paid_booking(check_in=check_in)
    monkeypatch.setattr(timezone, "now", lambda: at)
    with pytest.raises(ApplicationError) as raised:
        booking_cancel(booking_id=booking.pk, actor=booking.primary_guest)
    assert (raised.value.code, raised.value.status) == ("booking_not_cancellable", 409)
    assert not Refund.objects.exists()


def test_refund_above_threshold_waits_for_a_second_staff_member(settings):
    settings.REFUND_APPROVAL_THRESHOLD = 20000
    check_in, _ = _check_in_for(30 * 24)
    booking = _paid_booking(check_in=check_in, price=15000, payments=(30000,))
    asking, other = StaffFactory(), StaffFactory()
    booking_staff_cancel(booking_id=booking.pk, actor=asking, reason="Flooded")
    refund = Refund.objects.get(booking=booking)
    assert refund.status == "AWAITING_APPROVAL" and refund.requested_by == asking

    with pytest.raises(ApplicationError) as raised:
        refund_approve(refund_id=refund.pk, actor=asking)
    assert (raised.value.code, raised.value.status) == ("same_staff_member", 409)
    with pytest.raises(ApplicationError) as raised:
        refund_approve(refund_id=refund.pk, actor=booking.primary_guest)
    assert raised.value.status == 403

    approved = refund_approve(refund_id=refund.pk, actor=other)
    assert (approved.status, approved.approved_by) == ("QUEUED", other)
    with pytest.raises(ApplicationError) as raised:
        refund_approve(refund_id=refund.pk, actor=other)
    assert raised.value.code == "not_awaiting_approval"


def test_under_the_threshold_is_queued_at_once(settings):
    settings.REFUND_APPROVAL_THRESHOLD = 20000
    check_in, _ = _check_in_for(30 * 24)
    booking = _paid_booking(check_in=check_in, payments=(10000,))
    booking_staff_cancel(booking_id=booking.pk, actor=StaffFactory(), reason="Double listing")
    assert Refund.objects.get(booking=booking).status == "QUEUED"


def test_retry_of_a_failed_refund_is_a_new_row_with_the_same_money():
    check_in, _ = _check_in_for(30 * 24)
    booking = _paid_booking(check_in=check_in)
    staff = StaffFactory()
    booking_staff_cancel(booking_id=booking.pk, actor=staff, reason="Owner withdrew")
    failed = Refund.objects.get(booking=booking)
    with pytest.raises(ApplicationError) as raised:
        refund_retry(refund_id=failed.pk, actor=staff)
    assert raised.value.code == "not_retryable"  # still open
    Refund.objects.filter(pk=failed.pk).update(
        status="FAILED", result_code="R000002", result_desc="The OriginalTransactionID is invalid.",
        failure_reason="M-Pesa result R000002",
    )
    assert refund_amount_due(booking=booking) == 10000
    retry = refund_retry(refund_id=failed.pk, actor=staff)
    assert (retry.amount, retry.payment_id, retry.retry_of_id, retry.status) == (10000, failed.payment_id, failed.pk, "QUEUED")
    # The Reversal cannot work on that receipt: the same money goes by B2C.
    assert retry.method == "b2c" and retry.originator_conversation_id != failed.originator_conversation_id
    assert refund_amount_due(booking=booking) == 10000  # counted once, through the retry
    with pytest.raises(ApplicationError) as raised:
        refund_retry(refund_id=failed.pk, actor=staff)
    assert raised.value.code == "not_retryable"


def test_a_payment_without_receipt_is_flagged_for_staff():
    check_in, _ = _check_in_for(30 * 24)
    booking = _paid_booking(check_in=check_in, payments=())
    payment = make_payment(booking=booking, amount=10000, mpesa_receipt_number=None)
    recompute_booking_money(booking.pk)
    canceled = booking_staff_cancel(booking_id=booking.pk, actor=StaffFactory(), reason="Owner withdrew")
    payment.refresh_from_db()
    assert canceled.status == "CANCELED" and not Refund.objects.exists()
    assert payment.needs_refund and payment.flagged and "refund KES 10000" in payment.flag_reason


def test_recorded_refunds_and_daraja_refunds_never_count_twice():
    from mpesa.refunds import payment_record_refund

    check_in, _ = _check_in_for(30 * 24)
    booking = _paid_booking(check_in=check_in)
    booking_staff_cancel(booking_id=booking.pk, actor=StaffFactory(), reason="Owner withdrew")
    payment = Payment.objects.get(booking=booking, kind="PAYMENT")
    with pytest.raises(ApplicationError) as raised:
        payment_record_refund(payment_id=payment.pk, actor=StaffFactory(), amount=1, mpesa_reference="X1", note="n")
    assert raised.value.code == "refund_exceeds_payment"
