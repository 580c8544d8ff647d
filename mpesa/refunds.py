"""Staff review of payments: recorded refunds, flags, and asking Daraja again.

Refunds sent through Daraja (cancellations, late payments) are mpesa.refunds_out's; a refund
recorded here is money staff sent back by other means, and may never exceed what neither
way has given back yet.

Every function here is a staff action from the Wagtail admin (mpesa/admin_views.py);
each one re-checks the payment's state under row locks (booking row before
payment row, like every money path) and writes an audit entry.
"""

import logging
import uuid

from django.db import transaction
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_q.tasks import async_task

from accounts.models import User
from core.exceptions import ApplicationError
from core.services import audit_record
from mpesa.models import Payment, Refund
from mpesa.reconcile import payment_query_and_settle
from mpesa.selectors import booking_money_of
from reservations.services import booking_lock, booking_money_changed

logger = logging.getLogger(__name__)

RECHECK_TASK = "mpesa.refunds.payment_recheck_run"


def _lock_booking_and_payment(payment_id: int):
    """Booking row first, then the payment row: the one lock order of every money path."""
    booking_id = Payment.objects.filter(pk=payment_id).values_list("booking_id", flat=True).first()
    if booking_id is None:
        raise ApplicationError("Payment not found.", "not_found", status=404)
    booking = booking_lock(booking_id=booking_id)
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    return booking, payment


def payment_refundable_amount(*, payment: Payment) -> int:
    """What is left to refund of a successful payment: received minus refunds already recorded
    by staff and minus Daraja refunds sent or on their way (mpesa.refunds_out), so money is
    never given back twice, once by hand and once through Daraja."""
    if payment.kind != Payment.Kind.PAYMENT or payment.status != Payment.Status.SUCCESS:
        return 0
    received = payment.received_amount if payment.received_amount is not None else payment.amount
    refunded = getattr(payment, "refunded_total", None)
    if refunded is None:
        refunded = (
            payment.refunds.filter(kind=Payment.Kind.REFUND, status=Payment.Status.SUCCESS).aggregate(
                total=Sum("amount")
            )["total"]
            or 0
        )
    through_daraja = getattr(payment, "daraja_refunded_total", None)
    if through_daraja is None:
        through_daraja = (
            Refund.objects.filter(payment=payment).exclude(status=Refund.Status.FAILED).aggregate(total=Sum("amount"))[
                "total"
            ]
            or 0
        )
    return max(received - refunded - through_daraja, 0)


def payment_annotate_refunded(queryset):
    """Adds refunded_total (successful refunds of each payment), so listings skip a query per row."""
    refunded = (
        Payment.objects.filter(refund_of=OuterRef("pk"), kind=Payment.Kind.REFUND, status=Payment.Status.SUCCESS)
        .order_by()
        .values("refund_of")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    through_daraja = (
        Refund.objects.filter(payment=OuterRef("pk"))
        .exclude(status=Refund.Status.FAILED)
        .order_by()
        .values("payment")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return queryset.annotate(
        refunded_total=Coalesce(Subquery(refunded), 0), daraja_refunded_total=Coalesce(Subquery(through_daraja), 0)
    )


def payment_record_refund(*, payment_id: int, actor, amount: int, mpesa_reference: str, note: str) -> Payment:
    """Record money sent back to the customer (done by staff in the M-Pesa portal) as a REFUND row.

    The refund is its own Payment row (kind=REFUND, status=SUCCESS, refund_of=the
    original), so the booking's amount_paid, derived from the rows, drops by it.
    One M-Pesa reference is recorded once: a double submit is refused, not doubled.
    """
    mpesa_reference = (mpesa_reference or "").strip().upper()
    note = (note or "").strip()
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
        raise ApplicationError(
            "The refund amount must be a whole number of shillings, at least 1.", "invalid_amount", 400
        )
    if not mpesa_reference:
        raise ApplicationError("The M-Pesa reference of the refund is required.", "reference_required", 400)
    if not note:
        raise ApplicationError("A note explaining the refund is required.", "note_required", 400)

    with transaction.atomic():
        booking, original = _lock_booking_and_payment(payment_id)
        if original.kind != Payment.Kind.PAYMENT or original.status != Payment.Status.SUCCESS:
            raise ApplicationError("Only a successful payment can be refunded.", "not_refundable")
        if Payment.objects.filter(kind=Payment.Kind.REFUND, refund_reference=mpesa_reference).exists():
            raise ApplicationError(
                f"A refund with M-Pesa reference {mpesa_reference} is already recorded.", "duplicate_refund_reference"
            )
        refundable = payment_refundable_amount(payment=original)
        if amount > refundable:
            raise ApplicationError(
                f"At most KES {refundable} of this payment can still be refunded.",
                "refund_exceeds_payment",
                extra={"refundable": refundable},
            )
        before_paid = booking.amount_paid
        refund = Payment.objects.create(
            booking=booking,
            kind=Payment.Kind.REFUND,
            status=Payment.Status.SUCCESS,
            amount=amount,
            phone_number=original.phone_number,
            initiated_by=actor if getattr(actor, "pk", None) else None,
            refund_of=original,
            refund_reference=mpesa_reference,
            note=note,
            transaction_date=timezone.now(),
        )
        if original.needs_refund and refundable - amount == 0:
            original.needs_refund = False
            original.save(update_fields=["needs_refund", "updated_at"])
        booking_money_changed(booking=booking, money=booking_money_of(booking_id=booking.pk), actor=actor)
        data = {"refund_id": refund.pk, "amount": amount, "mpesa_reference": mpesa_reference, "note": note}
        audit_record(
            obj=original,
            action="payment.refund_recorded",
            actor=actor,
            summary=f"Refund of KES {amount} recorded (M-Pesa {mpesa_reference})",
            before={"refundable": refundable},
            after={"refundable": refundable - amount, "needs_refund": original.needs_refund},
            data=data,
        )
        audit_record(
            obj=booking,
            action="booking.refund_recorded",
            actor=actor,
            summary=f"Refund of KES {amount} recorded (M-Pesa {mpesa_reference})",
            before={"amount_paid": before_paid},
            after={"amount_paid": booking.amount_paid, "balance_due": booking.balance_due, "status": booking.status},
            data={**data, "payment_id": original.pk},
        )
    logger.info("refund recorded payment_id=%s refund_id=%s amount=%s", original.pk, refund.pk, amount)
    return refund


def payment_resolve_flag(*, payment_id: int, actor, note: str) -> Payment:
    """Close a flag raised on a payment (late success, amount mismatch, refund due...) with a note."""
    note = (note or "").strip()
    if not note:
        raise ApplicationError("A note saying how the flag was resolved is required.", "note_required", 400)
    with transaction.atomic():
        booking, payment = _lock_booking_and_payment(payment_id)
        if not payment.flagged:
            raise ApplicationError("This payment is not flagged.", "not_flagged")
        payment.flagged = False
        payment.flag_resolved_at = timezone.now()
        payment.flag_resolved_by = actor if getattr(actor, "pk", None) else None
        payment.flag_resolution_note = note
        payment.save(
            update_fields=["flagged", "flag_resolved_at", "flag_resolved_by", "flag_resolution_note", "updated_at"]
        )
        audit_record(
            obj=payment,
            action="payment.flag_resolved",
            actor=actor,
            summary=f"Flag resolved: {note}",
            before={"flagged": True, "flag_reason": payment.flag_reason},
            after={"flagged": False},
            data={"note": note, "needs_refund": payment.needs_refund},
        )
        # A disputed amount held the booking back from CONFIRMED until now.
        booking_money_changed(booking=booking, money=booking_money_of(booking_id=booking.pk), actor=actor)
    return payment


def payment_can_be_rechecked(*, payment: Payment) -> bool:
    """The STK Push Query settles only a pending push Daraja accepted; anything else is final or unsent."""
    return (
        payment.kind == Payment.Kind.PAYMENT
        and payment.status == Payment.Status.PENDING
        and bool(payment.checkout_request_id)
    )


def payment_request_recheck(*, payment_id: int, actor) -> str:
    """Ask Daraja (STK Push Query) about this payment now, through django-q2 after commit.

    Returns the django-q task name, so the admin view can wait briefly for its result.
    """
    with transaction.atomic():
        _booking, payment = _lock_booking_and_payment(payment_id)
        if not payment_can_be_rechecked(payment=payment):
            raise ApplicationError(
                "Only a pending STK push that reached Daraja (it has a CheckoutRequestID) can be re-checked.",
                "not_queryable",
            )
        task_name = f"recheck-payment-{payment.pk}-{uuid.uuid4().hex[:12]}"
        audit_record(
            obj=payment,
            action="payment.recheck_requested",
            actor=actor,
            summary="Re-check with M-Pesa requested",
            before={"status": payment.status},
            data={"task": task_name, "checkout_request_id": payment.checkout_request_id},
        )
        actor_id = actor.pk if getattr(actor, "pk", None) else None
        transaction.on_commit(lambda: _enqueue_recheck(payment.pk, actor_id, task_name))
    return task_name


def _enqueue_recheck(payment_id: int, actor_id: int | None, task_name: str) -> None:
    async_task(RECHECK_TASK, payment_id, actor_id, task_name=task_name)


def payment_recheck_run(payment_id: int, actor_id: int | None = None) -> dict:
    """django-q2 task: run the STK query and settle the payment from the answer; returns the outcome."""
    before = Payment.objects.filter(pk=payment_id).values_list("status", flat=True).first()
    payment = payment_query_and_settle(payment_id=payment_id)
    payment.refresh_from_db()
    outcome = {
        "payment_id": payment.pk,
        "status_before": before,
        "status": payment.status,
        "result_code": payment.result_code,
        "result_desc": payment.result_desc,
        "mpesa_receipt_number": payment.mpesa_receipt_number,
        "last_query_result": payment.last_query_result,
    }
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    with transaction.atomic():
        audit_record(
            obj=payment,
            action="payment.rechecked",
            actor=actor,
            summary=f"Re-check with M-Pesa: {before} -> {payment.status}",
            before={"status": before},
            after={"status": payment.status},
            data={k: v for k, v in outcome.items() if k not in {"payment_id", "status_before"}},
        )
    logger.info("payment rechecked payment_id=%s %s->%s", payment.pk, before, payment.status)
    return outcome
