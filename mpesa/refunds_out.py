"""Refunds sent through Daraja: what a cancellation gives back, and staff's approve / retry.

A cancellation (reservations.signals.booking_canceled, under the booking's row lock) asks
reservations.cancellation how much goes back, then splits it across the booking's
successful payments (docs/money-out.md):

- a payment given back whole -> one Reversal of its M-Pesa receipt;
- part of a payment -> one B2C BusinessPayment to the phone that paid;
- a payment with no receipt (confirmed by the STK query only) or a B2C part under M-Pesa's
  minimum cannot be sent automatically: it is flagged needs_refund for staff, as before.

Each refund is a Refund row, QUEUED (sent by mpesa.transfers on commit) or, when the
cancellation gives back more than REFUND_APPROVAL_THRESHOLD, AWAITING_APPROVAL until a
second staff member approves it. Money counts as refunded only when Daraja says it left
(mpesa.selectors.booking_money_of counts SUCCESS rows).
"""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.exceptions import ApplicationError
from core.services import audit_record
from listings.models import PropertyPage
from mpesa.models import Payment, Refund
from mpesa.selectors import booking_money_of
from mpesa.transfers import new_originator_conversation_id, transfer_enqueue_on_commit, transfer_snapshot
from reservations.cancellation import cancellation_terms
from reservations.services import booking_lock

logger = logging.getLogger(__name__)

# Daraja refuses a B2C payment under this many shillings ("less than the minimum transaction amount").
B2C_MIN_AMOUNT = 10
# Cancellation kinds that refund by the listing's policy; owner and staff give back all.
POLICY_KINDS = ("guest", "balance_deadline")
FULL_KINDS = ("owner", "staff")
OPEN = (Refund.Status.QUEUED, Refund.Status.AWAITING_APPROVAL, Refund.Status.PENDING)
# A failed Reversal whose result says this cannot work as a Reversal; its retry is a B2C.
REVERSAL_IMPOSSIBLE_CODES = ("R000002", "R000001", "2032")


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def _refund_payload(refund: Refund) -> dict:
    return {
        "refund_id": refund.pk,
        "payment_id": refund.payment_id,
        "amount": refund.amount,
        "method": refund.method,
        "status": refund.status,
    }


def _payment_refundable(payment: Payment) -> int:
    """What of a successful payment the booking still holds: what it credits (at most what
    was asked) less refunds recorded by staff and Daraja refunds sent or on their way."""
    received = payment.received_amount if payment.received_amount is not None else payment.amount
    credited = min(payment.amount, received)
    recorded = (
        Payment.objects.filter(refund_of=payment, kind=Payment.Kind.REFUND, status=Payment.Status.SUCCESS)
        .aggregate(total=Sum("amount"))["total"]
        or 0
    )
    sent = (
        Refund.objects.filter(payment=payment)
        .exclude(status=Refund.Status.FAILED)
        .aggregate(total=Sum("amount"))["total"]
        or 0
    )
    return max(credited - recorded - sent, 0)


def _open_refunds_total(booking_id: int) -> int:
    return Refund.objects.filter(booking_id=booking_id, status__in=OPEN).aggregate(total=Sum("amount"))["total"] or 0


def _allocate(payments: list[tuple[Payment, int]], amount: int) -> list[tuple[Payment, int, bool]]:
    """Split `amount` over (payment, refundable) pairs: [(payment, part, whole)], as few rows
    as possible and preferring whole payments (a Reversal). A payment whose refundable equals
    what is left is taken whole first; then the largest first, the last one in part."""
    left = amount
    plan = []
    pool = [(p, r) for p, r in payments if r > 0]
    exact = next(((p, r) for p, r in pool if r == left), None)
    if exact:
        return [(exact[0], left, True)]
    for payment, refundable in sorted(pool, key=lambda item: (-item[1], item[0].pk)):
        if left <= 0:
            break
        part = min(refundable, left)
        plan.append((payment, part, part == refundable))
        left -= part
    return plan


def _is_whole_transaction(payment: Payment, part: int, whole: bool) -> bool:
    """A Reversal gives back the whole M-Pesa transaction: only when nothing of it was
    refunded before and it credited all it received."""
    received = payment.received_amount if payment.received_amount is not None else payment.amount
    return whole and part == received and bool(payment.mpesa_receipt_number)


def _flag_for_staff(*, payment: Payment, amount: int, why: str, actor, booking) -> dict:
    payment.needs_refund = True
    payment.flagged = True
    payment.flag_reason = f"Booking {booking.reference}: refund KES {amount} by hand ({why})"[:255]
    payment.flag_resolved_at = None
    payment.flag_resolved_by = None
    payment.flag_resolution_note = ""
    payment.save(
        update_fields=[
            "needs_refund", "flagged", "flag_reason", "flag_resolved_at", "flag_resolved_by",
            "flag_resolution_note", "updated_at",
        ]
    )
    audit_record(
        obj=payment,
        action="payment.refund_due",
        actor=actor,
        summary=f"Refund of KES {amount} due, to be sent by staff: {why}",
        after={"needs_refund": True, "flagged": True},
        data={"booking_id": booking.pk, "refundable": amount},
    )
    return {"refund_id": None, "payment_id": payment.pk, "amount": amount, "method": "manual", "status": "FLAGGED"}


def _phone_of(payment: Payment) -> str:
    phone = (payment.received_phone or "").lstrip("+")
    return phone if len(phone) == 12 and phone.isdigit() else payment.phone_number


def _needs_approval(total: int) -> bool:
    return total > settings.REFUND_APPROVAL_THRESHOLD


def refunds_create(*, booking, amount: int, actor, reason: str, only_payment: Payment | None = None) -> list[dict]:
    """Refund `amount` of the money `booking` holds (booking row locked by the caller), split
    over its successful payments (or taken from `only_payment`). Returns one dict per refund
    (or staff flag)."""
    payments = list(
        Payment.objects.select_for_update()
        .filter(booking=booking, kind=Payment.Kind.PAYMENT, status=Payment.Status.SUCCESS)
        .order_by("pk")
    )
    if only_payment is not None:
        payments = [p for p in payments if p.pk == only_payment.pk]
    plan = _allocate([(p, _payment_refundable(p)) for p in payments], amount)
    # The whole cancellation's refund decides: splitting it over payments never avoids approval.
    waits = _needs_approval(amount)
    created = []
    for payment, part, whole in plan:
        if not payment.mpesa_receipt_number:
            created.append(
                _flag_for_staff(payment=payment, amount=part, why="no M-Pesa receipt", actor=actor, booking=booking)
            )
            continue
        method = Refund.Method.REVERSAL if _is_whole_transaction(payment, part, whole) else Refund.Method.B2C
        if method == Refund.Method.B2C and part < B2C_MIN_AMOUNT:
            created.append(
                _flag_for_staff(
                    payment=payment, amount=part, why=f"under M-Pesa's B2C minimum of KES {B2C_MIN_AMOUNT}",
                    actor=actor, booking=booking,
                )
            )
            continue
        refund = Refund.objects.create(
            booking=booking,
            payment=payment,
            amount=part,
            method=method,
            status=Refund.Status.AWAITING_APPROVAL if waits else Refund.Status.QUEUED,
            phone_number=_phone_of(payment),
            reason=reason[:255],
            requested_by=_user(actor),
            originator_conversation_id=new_originator_conversation_id("refund"),
        )
        audit_record(
            obj=refund,
            action="refund.created",
            actor=actor,
            summary=f"Refund of KES {part:,} by {refund.get_method_display()} to {refund.phone_number}"
            + (" (awaiting approval)" if waits else ""),
            after=transfer_snapshot(refund),
            data={"booking_id": booking.pk, "payment_id": payment.pk, "reason": reason},
        )
        if refund.status == Refund.Status.QUEUED:
            transfer_enqueue_on_commit(refund)
        created.append(_refund_payload(refund))
    return created


def refund_amount_for_cancellation(*, booking, kind: str, held: int) -> int:
    """What a cancellation of `kind` gives back of `held` (reservations.cancellation)."""
    if kind in FULL_KINDS:
        return held
    if kind not in POLICY_KINDS:
        return 0  # payment_failed / hold_expired: nothing is held (a late success: refund_for_late_payment)
    policy = (
        PropertyPage.objects.filter(pk=booking.property_id).values_list("cancellation_policy", flat=True).first()
        or PropertyPage.CancellationPolicy.MODERATE
    )
    terms = cancellation_terms(
        policy=policy, check_in=booking.check_in, paid=held, at=booking.canceled_at or timezone.now(), kind=kind
    )
    return terms.refund_amount


def refunds_for_cancellation(*, booking, actor=None, kind: str = "", **kwargs) -> list[dict]:
    """Receiver of reservations.signals.booking_canceled (connected in MpesaConfig.ready), in the
    cancelling transaction under the booking's row lock: the refunds the cancellation owes
    (policy at cancel time for the guest and the balance deadline, all for owner and staff),
    created and queued. Returns [{"refund_id", "payment_id", "amount", "method", "status"}]."""
    kind = str(kind or "")
    held = max(booking_money_of(booking_id=booking.pk).held - _open_refunds_total(booking.pk), 0)
    if held <= 0:
        return []
    amount = refund_amount_for_cancellation(booking=booking, kind=kind, held=held)
    if amount <= 0:
        return []
    why = (booking.get_cancel_kind_display() or "cancelled").lower()
    refunds = refunds_create(booking=booking, amount=amount, actor=actor, reason=f"Booking {booking.reference}: {why}")
    logger.info(
        "refunds for cancellation booking=%s kind=%s amount=%s rows=%d", booking.reference, kind, amount, len(refunds)
    )
    return refunds


def _lock_refund(refund_id: int) -> tuple:
    booking_id = Refund.objects.filter(pk=refund_id).values_list("booking_id", flat=True).first()
    if booking_id is None:
        raise ApplicationError("Refund not found.", "not_found", 404)
    booking = booking_lock(booking_id=booking_id)
    return booking, Refund.objects.select_for_update().get(pk=refund_id)


def _require_staff(actor) -> None:
    if not getattr(actor, "is_staff", False):
        raise ApplicationError("Only Nexus staff can do this.", "forbidden", 403)


def refund_approve(*, refund_id: int, actor) -> Refund:
    """A second staff member approves a refund above the threshold: AWAITING_APPROVAL ->
    QUEUED, sent on commit. 403 not staff; 409 same_staff_member (the one who asked), or
    not_awaiting_approval."""
    _require_staff(actor)
    with transaction.atomic():
        _booking, refund = _lock_refund(refund_id)
        if refund.status != Refund.Status.AWAITING_APPROVAL:
            raise ApplicationError("This refund is not waiting for approval.", "not_awaiting_approval", 409)
        if refund.requested_by_id is not None and refund.requested_by_id == actor.pk:
            raise ApplicationError(
                "A refund must be approved by another staff member than the one who asked for it.",
                "same_staff_member",
                409,
            )
        before = transfer_snapshot(refund)
        refund.status = Refund.Status.QUEUED
        refund.approved_by = actor
        refund.approved_at = timezone.now()
        refund.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
        audit_record(
            obj=refund, action="refund.approved", actor=actor, summary=f"Refund of KES {refund.amount:,} approved",
            before=before, after=transfer_snapshot(refund),
        )
        transfer_enqueue_on_commit(refund)
    return refund


def _retry_method(refund: Refund) -> str:
    """Same method, unless the Reversal failed in a way a Reversal cannot get past (the
    receipt is already reversed or unknown): then a B2C of the same money."""
    if refund.method == Refund.Method.REVERSAL and (
        (refund.result_code or "") in REVERSAL_IMPOSSIBLE_CODES or "reversed" in (refund.result_desc or "").lower()
    ):
        return Refund.Method.B2C
    return refund.method


def refund_retry(*, refund_id: int, actor) -> Refund:
    """Send a FAILED refund's money again as a NEW Refund row (retry_of): same payment and
    amount; the approval rule again. 403 not staff; 409 not_retryable (not failed, or
    retried already)."""
    _require_staff(actor)
    with transaction.atomic():
        booking, failed = _lock_refund(refund_id)
        if failed.status != Refund.Status.FAILED or Refund.objects.filter(retry_of=failed).exists():
            raise ApplicationError("Only a failed refund not retried yet can be retried.", "not_retryable", 409)
        if _payment_refundable(failed.payment) < failed.amount:
            raise ApplicationError(
                "This money was given back another way meanwhile (recorded by staff): nothing to retry.",
                "not_retryable",
                409,
            )
        method = _retry_method(failed)
        waits = _needs_approval(failed.amount)
        retry = Refund.objects.create(
            booking=booking,
            payment=failed.payment,
            amount=failed.amount,
            method=method,
            status=Refund.Status.AWAITING_APPROVAL if waits else Refund.Status.QUEUED,
            phone_number=failed.phone_number,
            reason=failed.reason,
            requested_by=actor,
            retry_of=failed,
            originator_conversation_id=new_originator_conversation_id("refund"),
        )
        audit_record(
            obj=retry, action="refund.retried", actor=actor,
            summary=f"Retry of refund {failed.pk}: KES {retry.amount:,} by {retry.get_method_display()}",
            after=transfer_snapshot(retry), data={"retry_of": failed.pk, "failure": failed.failure_reason},
        )
        if retry.status == Refund.Status.QUEUED:
            transfer_enqueue_on_commit(retry)
    return retry


def refund_for_late_payment(*, payment: Payment, actor=None) -> Refund | None:
    """A success on a finally cancelled booking (booking and payment rows locked by the
    caller): its money goes back whole, by a Reversal. Without a receipt it is flagged for
    staff instead (None)."""
    booking = payment.booking
    refundable = _payment_refundable(payment)
    if refundable <= 0:
        return None
    refunds = refunds_create(
        booking=booking,
        amount=refundable,
        actor=actor,
        reason=f"Booking {booking.reference}: paid after it was cancelled",
        only_payment=payment,
    )
    ids = [item["refund_id"] for item in refunds if item["refund_id"]]
    return Refund.objects.filter(pk__in=ids).first() if ids else None


def refund_amount_due(*, booking) -> int:
    """What the booking's refunds still owe: refunds not settled yet, and failed ones nobody
    retried (a retry that is itself open or failed counts once, through itself)."""
    open_total = _open_refunds_total(booking.pk)
    failed_total = (
        Refund.objects.filter(booking=booking, status=Refund.Status.FAILED, retried_by__isnull=True).aggregate(
            total=Sum("amount")
        )["total"]
        or 0
    )
    return open_total + failed_total

