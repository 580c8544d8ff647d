"""mpesa/refunds.py: refunds as their own rows, flags, re-check requests."""

import pytest

from core.exceptions import ApplicationError
from core.models import AuditEntry
from mpesa.models import Payment
from mpesa.refunds import (
    payment_record_refund,
    payment_refundable_amount,
    payment_request_recheck,
    payment_resolve_flag,
)
from tests.factories import future_date, make_booking, make_payment

pytestmark = pytest.mark.django_db


def test_refund_rows_reduce_amount_paid_and_reopen_the_balance(world):
    booking, payment, staff = world["booking_a"], world["payment_a"], world["staff"]
    payment_record_refund(payment_id=payment.pk, actor=staff, amount=2500, mpesa_reference="ABC1", note="Discount")
    booking.refresh_from_db()
    assert (booking.amount_paid, booking.balance_due) == (7500, 2500)
    payment_record_refund(payment_id=payment.pk, actor=staff, amount=7500, mpesa_reference="ABC2", note="Rest")
    booking.refresh_from_db()
    assert booking.amount_paid == 0
    assert payment_refundable_amount(payment=payment) == 0
    assert list(Payment.objects.filter(kind="REFUND").order_by("pk").values_list("amount", "refund_of")) == [
        (2500, payment.pk),
        (7500, payment.pk),
    ]


def test_refund_is_audited_on_payment_and_booking(world):
    payment = world["payment_a"]
    payment_record_refund(payment_id=payment.pk, actor=world["staff"], amount=100, mpesa_reference="AUD1", note="n")
    on_payment = AuditEntry.objects.get(action="payment.refund_recorded")
    on_booking = AuditEntry.objects.get(action="booking.refund_recorded")
    assert on_payment.object_id == str(payment.pk) and on_payment.actor == world["staff"]
    assert on_booking.before == {"amount_paid": 10000} and on_booking.after["amount_paid"] == 9900


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"amount": 10001}, "refund_exceeds_payment"),
        ({"amount": 0}, "invalid_amount"),
        ({"mpesa_reference": " "}, "reference_required"),
        ({"note": ""}, "note_required"),
    ],
)
def test_refund_input_is_checked(world, kwargs, code):
    args = {
        "payment_id": world["payment_a"].pk,
        "actor": world["staff"],
        "amount": 100,
        "mpesa_reference": "R",
        "note": "n",
    }
    with pytest.raises(ApplicationError) as error:
        payment_record_refund(**{**args, **kwargs})
    assert error.value.code == code
    assert not Payment.objects.filter(kind="REFUND").exists()


def test_same_mpesa_reference_is_recorded_once(world):
    args = {"payment_id": world["payment_a"].pk, "actor": world["staff"], "amount": 100, "note": "n"}
    payment_record_refund(mpesa_reference="dup9", **args)
    with pytest.raises(ApplicationError) as error:
        payment_record_refund(mpesa_reference="DUP9", **args)
    assert error.value.code == "duplicate_refund_reference"
    assert Payment.objects.filter(kind="REFUND").count() == 1


def test_only_successful_payments_are_refundable(world):
    pending = make_payment(booking=world["booking_a"], status="PENDING", amount=50)
    with pytest.raises(ApplicationError) as error:
        payment_record_refund(payment_id=pending.pk, actor=world["staff"], amount=50, mpesa_reference="P", note="n")
    assert error.value.code == "not_refundable"


def test_resolve_flag_records_who_and_why(world):
    payment = world["payment_a"]
    Payment.objects.filter(pk=payment.pk).update(flagged=True, flag_reason="Amount mismatch")
    payment_resolve_flag(payment_id=payment.pk, actor=world["staff"], note="Checked the M-Pesa statement")
    payment.refresh_from_db()
    assert not payment.flagged and payment.flag_reason == "Amount mismatch"
    assert payment.flag_resolved_by == world["staff"] and payment.flag_resolved_at is not None
    with pytest.raises(ApplicationError) as error:
        payment_resolve_flag(payment_id=payment.pk, actor=world["staff"], note="again")
    assert error.value.code == "not_flagged"
    assert AuditEntry.objects.filter(action="payment.flag_resolved").count() == 1


def test_recheck_request_is_audited_and_enqueued_on_commit(world, django_capture_on_commit_callbacks):
    payment = make_payment(
        booking=make_booking(property=world["stay_a"], check_in=future_date(60)), status="PENDING", amount=300
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        task_name = payment_request_recheck(payment_id=payment.pk, actor=world["staff"])
    assert len(callbacks) == 1
    entry = AuditEntry.objects.get(action="payment.recheck_requested")
    assert entry.actor == world["staff"] and entry.data["task"] == task_name
    assert entry.data["checkout_request_id"] == payment.checkout_request_id


def test_missing_payment_is_a_404_error(world):
    with pytest.raises(ApplicationError) as error:
        payment_resolve_flag(payment_id=987654, actor=world["staff"], note="x")
    assert error.value.status == 404
