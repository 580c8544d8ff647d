"""Settling payments: the callback ledger and the one applier.

Whatever tells us how a payment ended (Daraja's callback, an STK query answer, Daraja
refusing the push, the deadline, a staff action) becomes an Outcome and goes through
payment_settle, which locks the booking row then the payment row, re-checks, and is a
no-op on a repeat (a settled state never goes back). It then tells reservations what the
money now is; it never writes a Booking field.

Callbacks first land in the ledger (CallbackRecord) in their own short transaction,
before the 200 goes back (callback_store); applying one is a separate step
(callback_apply: a django-q2 task, the push-answer step, or the reconcile sweep) whose
result is written on the row. A success that matches no payment, and that no unanswered
push can adopt, stays UNMATCHED on the staff queue: never lost, never guessed.
"""

import dataclasses
import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import credit
from core import safe_json
from core.logging import money_fields
from core.notifications import collected, notify
from core.services import audit_batch, audit_record
from mpesa.callbacks import StkCallback
from mpesa.models import CallbackRecord, Payment
from mpesa.selectors import booking_money_of
from reservations.models import Booking
from reservations.services import (
    booking_is_revivable,
    booking_late_payment_received,
    booking_lock,
    booking_money_changed,
    booking_payment_failed,
)
from reservations.status import IN_FLIGHT

logger = logging.getLogger(__name__)

ADOPT_WINDOW = dt.timedelta(hours=24)
UNREACHABLE_REASON = "Could not reach M-Pesa to send the prompt (timed out). No money was taken."
NOT_SENT_REASON = "The payment request was not sent to M-Pesa in time (timed out). No money was taken."


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a payment ended, wherever we learnt it.

    source: "callback", "query", "push" (Daraja refused the push), "deadline" (nobody
    answered in time) or "staff". A failure from "push" or "deadline" is ours or M-Pesa's,
    not the guest's: it never cancels the booking nor costs the guest credit.
    """

    paid: bool
    source: str
    result_code: str | None = None
    result_desc: str = ""
    amount: int | None = None  # what M-Pesa says was paid; None: what the payment asked
    receipt: str | None = None  # none from the STK query
    phone: str = ""
    transaction_date: dt.datetime | None = None
    reason: str = ""  # failure_reason, when there is no ResultDesc to show
    raw: Any = None
    # A callback for a payment whose push got no answer (adoption): its ids are saved.
    checkout_request_id: str | None = None
    merchant_request_id: str = ""

    @property
    def by_the_payer(self) -> bool:
        return self.source in ("callback", "query")

    @classmethod
    def from_callback(cls, record: CallbackRecord, *, source: str = "callback") -> "Outcome":
        return cls(
            paid=record.is_success,
            source=source,
            result_code=record.result_code,
            result_desc=record.result_desc,
            amount=record.amount,
            receipt=record.receipt,
            phone=record.phone_number,
            transaction_date=record.transaction_date,
            raw=_stored_body(record),
            checkout_request_id=record.checkout_request_id,
            merchant_request_id=record.merchant_request_id,
        )


def _stored_body(record: CallbackRecord):
    """The callback's body as JSON, for the payment's raw_callback (the ledger keeps the text)."""
    try:
        return safe_json.loads(record.raw_body)
    except ValueError:  # attached by staff from a body that is not JSON any more: keep the link
        return {"callback_record": record.pk}


def payment_snapshot(payment: Payment) -> dict:
    return {
        "status": payment.status,
        "checkout_request_id": payment.checkout_request_id,
        "result_code": payment.result_code,
        "received_amount": payment.received_amount,
        "mpesa_receipt_number": payment.mpesa_receipt_number,
        "flagged": payment.flagged,
        "needs_refund": payment.needs_refund,
    }


class ReceiptAlreadyRecorded(Exception):
    """A success carried an M-Pesa receipt that another payment already holds (unique)."""


# --- The one applier ---------------------------------------------------------------------------


def payment_settle(
    *,
    payment_id: int,
    outcome: Outcome,
    actor=None,
    only_if_queued: bool = False,
    callback_record_id: int | None = None,
    record_state: str = CallbackRecord.State.APPLIED,
) -> Payment:
    """Apply `outcome` to the payment, once. Returns the payment.

    only_if_queued: Daraja's refusal of our push applies only while the push is unanswered.
    callback_record_id: the ledger row this outcome came from; it is marked `record_state`
    (or IGNORED when the payment was already settled) in the same transaction.
    """
    booking_id = Payment.objects.values_list("booking_id", flat=True).get(pk=payment_id)
    try:
        return _settle_locked(
            booking_id=booking_id,
            payment_id=payment_id,
            outcome=outcome,
            actor=actor,
            only_if_queued=only_if_queued,
            callback_record_id=callback_record_id,
            record_state=record_state,
        )
    except ReceiptAlreadyRecorded:
        with transaction.atomic():
            booking_lock(booking_id=booking_id)
            payment = Payment.objects.select_for_update().get(pk=payment_id)
            note = _flag_receipt_reuse(payment=payment, receipt=outcome.receipt, raw=outcome.raw, source=outcome.source)
            _mark_record(callback_record_id, CallbackRecord.State.IGNORED, note=note, payment=payment)
        return payment


def _settle_locked(*, booking_id, payment_id, outcome, actor, only_if_queued, callback_record_id, record_state):
    # One INSERT for the audit entries and one task for the emails, both in this transaction.
    with transaction.atomic(), audit_batch(), collected():
        booking = booking_lock(booking_id=booking_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        flag_reasons = []
        note = ""
        if callback_record_id is not None and not (
            CallbackRecord.objects.select_for_update()
            .filter(pk=callback_record_id, state__in=(CallbackRecord.State.NEW, CallbackRecord.State.UNMATCHED))
            .exists()
        ):
            # Settled meanwhile by another path, or resolved by staff (attached, marked for
            # refund): that decision stands, this outcome is not applied again.
            return payment
        if only_if_queued and payment.status != Payment.Status.QUEUED:
            note = "the push was answered meanwhile"
        elif outcome.checkout_request_id and payment.checkout_request_id != outcome.checkout_request_id:
            if payment.checkout_request_id is not None:
                note = f"payment {payment.pk} belongs to another CheckoutRequestID"
            else:
                payment.checkout_request_id = outcome.checkout_request_id
                payment.merchant_request_id = outcome.merchant_request_id
                payment.save(update_fields=["checkout_request_id", "merchant_request_id", "updated_at"])
                flag_reasons.append("matched by phone and amount: our STK push got no definite answer")
        if not note:
            if outcome.paid:
                changed = _apply_success(
                    booking=booking, payment=payment, outcome=outcome, flag_reasons=flag_reasons, actor=actor
                )
            else:
                changed = _apply_failure(booking=booking, payment=payment, outcome=outcome, actor=actor)
            note = "applied" if changed else f"already settled ({payment.status})"
            if not changed:
                record_state = CallbackRecord.State.IGNORED
        else:
            record_state = CallbackRecord.State.IGNORED
        _mark_record(callback_record_id, record_state, note=note, payment=payment)
    return payment


def _mark_record(record_id: int | None, state: str, *, note: str, payment: Payment | None) -> None:
    if record_id is None:
        return
    CallbackRecord.objects.filter(pk=record_id).update(
        state=state,
        applied_at=timezone.now(),
        payment=payment,
        outcome_note=note[:255],
    )


def _tell_reservations_failed(*, booking: Booking, payment: Payment, outcome: Outcome) -> None:
    money = booking_money_of(booking_id=booking.pk)
    if outcome.by_the_payer:
        booking_payment_failed(
            booking=booking,
            money=money,
            reason=payment.failure_reason or payment.result_desc,
            data={"payment": payment.pk, "result_code": payment.result_code},
        )
    else:
        # M-Pesa or we failed, not the guest: the booking keeps its hold until it expires.
        booking_money_changed(booking=booking, money=money)


def _apply_failure(*, booking: Booking, payment: Payment, outcome: Outcome, actor) -> bool:
    """A final non-zero ResultCode, a refused push, or the deadline. True when something changed."""
    source, raw = outcome.source, outcome.raw
    if payment.status == Payment.Status.SUCCESS:
        logger.warning(
            "failure after success ignored payment_id=%s checkout_request_id=%s result_code=%s",
            payment.pk,
            payment.checkout_request_id,
            outcome.result_code,
            extra=money_fields(payment=payment, booking=booking),
        )
        return False
    before = payment_snapshot(payment)
    if payment.status == Payment.Status.FAILED:
        if payment.result_code or not outcome.result_code:
            return False
        # Already failed on our deadline: keep the status, record what M-Pesa said.
        payment.result_code, payment.result_desc = outcome.result_code, outcome.result_desc[:255]
        fields = ["result_code", "result_desc", "updated_at"]
        if source == "callback" and payment.raw_callback is None:
            payment.raw_callback = raw
            fields.append("raw_callback")
        payment.save(update_fields=fields)
        audit_record(
            obj=payment,
            action="payment.result_recorded",
            summary=f"M-Pesa result {outcome.result_code} after timeout",
            before=before,
            after=payment_snapshot(payment),
            data={source: raw},
        )
        return True
    payment.status = Payment.Status.FAILED
    payment.next_query_at = None
    fields = ["status", "failure_reason", "next_query_at", "updated_at"]
    if outcome.result_code is not None:
        payment.result_code, payment.result_desc = outcome.result_code, outcome.result_desc[:255]
        fields += ["result_code", "result_desc"]
    elif outcome.result_desc:
        payment.result_desc = outcome.result_desc[:255]
        fields.append("result_desc")
    payment.failure_reason = (
        outcome.reason or outcome.result_desc or f"M-Pesa result {outcome.result_code}"
    )[:255]
    if source == "callback":
        payment.raw_callback = raw
        fields.append("raw_callback")
    elif source == "query":
        payment.last_query_result = raw
        fields.append("last_query_result")
    payment.save(update_fields=fields)
    payer_side = outcome.by_the_payer and outcome.result_code in credit.PAYER_SIDE_RESULT_CODES
    if payer_side:
        credit.credit_score_adjust(
            user_id=payment.initiated_by_id or booking.primary_guest_id, delta=credit.PAYMENT_FAILED_BY_PAYER
        )
    action = {
        "push": "payment.rejected",
        "deadline": "payment.timed_out",
        "staff": "payment.failed_by_staff",
    }.get(source, "payment.failed")
    audit_record(
        obj=payment,
        action=action,
        actor=actor,
        summary=payment.failure_reason
        if outcome.result_code is None
        else f"M-Pesa result {outcome.result_code}: {outcome.result_desc}",
        before=before,
        after=payment_snapshot(payment),
        data={source: raw, "credit_delta": credit.PAYMENT_FAILED_BY_PAYER if payer_side else 0},
    )
    _tell_reservations_failed(booking=booking, payment=payment, outcome=outcome)
    logger.info(
        "payment %s payment_id=%s checkout_request_id=%s result_code=%s",
        action,
        payment.pk,
        payment.checkout_request_id or "-",
        outcome.result_code,
        extra=money_fields(payment=payment, booking=booking),
    )
    return True


def _apply_success(
    *, booking: Booking, payment: Payment, outcome: Outcome, flag_reasons: list[str], actor=None
) -> bool:
    """ResultCode 0. True when money was credited or details recorded."""
    source, raw, receipt, phone = outcome.source, outcome.raw, outcome.receipt, outcome.phone
    amount = outcome.amount if outcome.amount is not None else payment.amount
    before = payment_snapshot(payment)
    if payment.status == Payment.Status.SUCCESS:
        if receipt is None or payment.mpesa_receipt_number == receipt:
            logger.info(
                "repeat success ignored payment_id=%s checkout_request_id=%s",
                payment.pk,
                payment.checkout_request_id,
                extra=money_fields(payment=payment, booking=booking),
            )
            return False
        if payment.mpesa_receipt_number:
            _flag(
                payment,
                f"A second success with another receipt ({receipt}) was reported; not credited.",
                before=before,
                data={source: raw},
            )
            return True

    late = payment.status == Payment.Status.FAILED
    if amount != payment.amount:
        # Recorded as reported, but credited at most what was asked (reservations.status
        # booking_money); while this flag is open the booking is not confirmed on it.
        credited = min(amount, payment.amount)
        follow_up = (
            f"KES {amount - payment.amount:,} surplus to refund" if amount > payment.amount else "check with the payer"
        )
        flag_reasons.append(
            f"KES {amount:,} paid but KES {payment.amount:,} was asked: KES {credited:,} credited, {follow_up}"
        )
    if phone and phone != payment.phone_number:
        flag_reasons.append(f"paid from {phone}, the prompt went to {payment.phone_number}")
    payment.status = Payment.Status.SUCCESS
    payment.result_code, payment.result_desc = "0", outcome.result_desc[:255]
    payment.received_amount = amount
    payment.next_query_at = None
    fields = ["status", "result_code", "result_desc", "received_amount", "next_query_at", "updated_at"]
    if receipt:
        payment.mpesa_receipt_number = receipt
        payment.received_phone = phone
        payment.transaction_date = outcome.transaction_date
        fields += ["mpesa_receipt_number", "received_phone", "transaction_date"]
    if source == "callback":
        payment.raw_callback = raw
        fields.append("raw_callback")
    elif source == "query":
        payment.last_query_result = raw
        fields.append("last_query_result")
    if flag_reasons:
        payment.flagged = True
        payment.flag_reason = "; ".join(flag_reasons)[:255]
        fields += ["flagged", "flag_reason"]
    try:
        payment.save(update_fields=fields)
    except IntegrityError as error:
        # The unique receipt: it is already recorded on another payment. No savepoint on the
        # common path: the caller rolls back and flags the payment in a new transaction.
        raise ReceiptAlreadyRecorded(receipt) from error

    restored = None
    money = booking_money_of(booking_id=booking.pk)
    if booking.status == Booking.Status.CANCELED:
        revivable = booking_is_revivable(booking)
        restored = booking_late_payment_received(booking=booking, money=money)
        if not restored:
            # The money goes back by itself (a Reversal, mpesa.refunds_out); the flag tells
            # staff it happened. Without a receipt it cannot be sent automatically, so the
            # payment is also marked needs_refund for staff (refund_for_late_payment).
            from mpesa.refunds_out import refund_for_late_payment

            refund = refund_for_late_payment(payment=payment, actor=actor)
            payment.refresh_from_db(fields=["needs_refund", "flag_reason"])
            payment.flagged = True
            why = booking.get_cancel_kind_display() or "final"
            follow_up = f"refund {refund.pk} queued" if refund is not None else "refund it"
            reason = (
                f"Paid after the booking was cancelled and its dates were taken: {follow_up}."
                if revivable
                else f"Paid after the booking was cancelled ({why}): {follow_up}."
            )
            payment.flag_reason = "; ".join([reason, *flag_reasons])[:255]
            payment.save(update_fields=["flagged", "flag_reason", "updated_at"])
    else:
        booking_money_changed(booking=booking, money=money)
    audit_record(
        obj=payment,
        action="payment.succeeded",
        actor=actor,
        summary=f"KES {amount:,} paid"
        + (f", receipt {receipt}" if receipt else " (confirmed by query)")
        + (" after it had failed" if late else ""),
        before=before,
        after=payment_snapshot(payment),
        data={source: raw, "late": late, "booking_restored": restored, "flags": flag_reasons},
    )
    notify("payment_received", booking_id=booking.pk, payment_id=payment.pk)
    logger.info(
        "payment succeeded payment_id=%s checkout_request_id=%s receipt=%s amount=%s flagged=%s",
        payment.pk,
        payment.checkout_request_id,
        receipt or "-",
        amount,
        payment.flagged,
        extra=money_fields(payment=payment, booking=booking, receipt=receipt),
    )
    return True


def _flag(payment: Payment, reason: str, *, before: dict, data: dict) -> None:
    """Flag a payment for staff without crediting anything, with an audit entry."""
    payment.flagged = True
    payment.flag_reason = reason[:255]
    payment.save(update_fields=["flagged", "flag_reason", "updated_at"])
    audit_record(
        obj=payment, action="payment.flagged", summary=payment.flag_reason, before=before,
        after=payment_snapshot(payment), data=data,
    )


def _flag_receipt_reuse(*, payment: Payment, receipt: str, raw, source: str) -> str:
    holder = (
        Payment.objects.filter(mpesa_receipt_number=receipt).exclude(pk=payment.pk).values_list("pk", flat=True).first()
    )
    _flag(
        payment,
        f"Receipt {receipt} is already recorded on payment {holder}; not credited twice.",
        before=payment_snapshot(payment),
        data={source: raw},
    )
    logger.warning(
        "receipt reuse refused payment_id=%s receipt=%s holder=%s",
        payment.pk,
        receipt,
        holder,
        extra=money_fields(payment=payment, receipt=receipt),
    )
    return payment.flag_reason


# --- The callback ledger -----------------------------------------------------------------------------


def callback_dedupe_key(parsed: StkCallback) -> str:
    """What makes a repeat a repeat: the same push, the same result, the same receipt."""
    return f"STK:{parsed.checkout_request_id}:{parsed.result_code}:{parsed.receipt_number or ''}"


def callback_store(*, raw_body: str, parsed: StkCallback) -> tuple[int, bool]:
    """Store a well-formed callback as it came, in its own transaction, before anything else.
    Returns (record id, created); a repeat only counts another delivery."""
    try:
        with transaction.atomic():
            record = CallbackRecord.objects.create(
                kind=CallbackRecord.Kind.STK,
                dedupe_key=callback_dedupe_key(parsed),
                raw_body=raw_body,
                checkout_request_id=parsed.checkout_request_id,
                merchant_request_id=parsed.merchant_request_id,
                result_code=parsed.result_code,
                result_desc=parsed.result_desc,
                receipt=parsed.receipt_number,
                amount=parsed.amount,
                phone_number=parsed.phone_number,
                transaction_date=parsed.transaction_date,
            )
        return record.pk, True
    except IntegrityError:
        key = callback_dedupe_key(parsed)
        CallbackRecord.objects.filter(dedupe_key=key).update(
            deliveries=F("deliveries") + 1, last_received_at=timezone.now()
        )
        record_id = CallbackRecord.objects.values_list("pk", flat=True).get(dedupe_key=key)
        return record_id, False


def _push_on_its_way(record: CallbackRecord) -> bool:
    """A push was sent and its answer (with the CheckoutRequestID) is not saved yet: a
    callback we cannot match may be its, so it waits for that answer instead of being
    called unmatched. A success names its phone, so only a push to that phone holds it."""
    window = timezone.now() - dt.timedelta(seconds=settings.MPESA_HTTP_TIMEOUT + 5)
    waiting = Payment.objects.filter(
        kind=Payment.Kind.PAYMENT, status=Payment.Status.QUEUED, sent_at__gte=window, checkout_request_id__isnull=True
    )
    if record.is_success and record.phone_number:
        waiting = waiting.filter(phone_number=record.phone_number)
    return waiting.exists()


def _adoptable(record: CallbackRecord) -> int | None:
    """The one payment a success with an unknown CheckoutRequestID can belong to: our push
    got no definite answer (no CheckoutRequestID), same phone, same amount, recent. None
    unless exactly one."""
    if not record.is_success or not record.phone_number:
        return None
    unanswered = Q(status__in=IN_FLIGHT) | Q(status=Payment.Status.FAILED, failure_reason=UNREACHABLE_REASON)
    candidates = list(
        Payment.objects.filter(
            unanswered,
            kind=Payment.Kind.PAYMENT,
            checkout_request_id__isnull=True,
            sent_at__isnull=False,
            phone_number=record.phone_number,
            amount=record.amount,
            created_at__gte=timezone.now() - ADOPT_WINDOW,
        ).values_list("pk", flat=True)[:2]
    )
    return candidates[0] if len(candidates) == 1 else None


def callback_apply(*, record_id: int) -> CallbackRecord:
    """Apply one ledger row: to the payment with its CheckoutRequestID, or by adoption to the
    one unanswered push with its phone and amount; else a success becomes UNMATCHED (staff
    queue) and a failure IGNORED. A row that may belong to a push still on its way stays
    NEW (applied when that push's answer is saved, or by the reconcile sweep). Safe to run
    twice and concurrently."""
    record = CallbackRecord.objects.get(pk=record_id)
    if record.kind != CallbackRecord.Kind.STK:
        # A B2C result names a phone and an amount too: never adopted as a payment.
        from mpesa.transfers import transfer_apply_result

        return transfer_apply_result(record_id=record_id)
    if record.state not in (CallbackRecord.State.NEW, CallbackRecord.State.UNMATCHED):
        return record
    payment_id = (
        Payment.objects.filter(checkout_request_id=record.checkout_request_id).values_list("pk", flat=True).first()
    )
    if payment_id is None and record.state == CallbackRecord.State.NEW and _push_on_its_way(record):
        return record
    if payment_id is None:
        payment_id = _adoptable(record)
    if payment_id is not None:
        payment_settle(payment_id=payment_id, outcome=Outcome.from_callback(record), callback_record_id=record.pk)
        record.refresh_from_db()
        return record
    if record.state == CallbackRecord.State.UNMATCHED:
        return record
    state = CallbackRecord.State.UNMATCHED if record.is_success else CallbackRecord.State.IGNORED
    note = (
        "No payment has this CheckoutRequestID and no unanswered push has this phone and amount."
        if record.is_success
        else "No payment has this CheckoutRequestID: nothing to fail."
    )
    with transaction.atomic():
        updated = CallbackRecord.objects.filter(pk=record.pk, state=CallbackRecord.State.NEW).update(
            state=state, applied_at=timezone.now(), outcome_note=note
        )
        if updated and state == CallbackRecord.State.UNMATCHED:
            audit_record(
                obj=record,
                action="callback.unmatched",
                summary=f"Unmatched M-Pesa payment: KES {record.amount:,} receipt {record.receipt}"
                f" from {record.phone_number or 'an unknown phone'}",
                data={"checkout_request_id": record.checkout_request_id},
            )
    if updated and state == CallbackRecord.State.UNMATCHED:
        logger.warning(
            "unmatched mpesa payment record_id=%s checkout_request_id=%s receipt=%s amount=%s",
            record.pk,
            record.checkout_request_id,
            record.receipt,
            record.amount,
            extra=money_fields(checkout_request_id=record.checkout_request_id, record_id=record.pk, receipt=record.receipt),
        )
    record.refresh_from_db()
    return record


def callback_apply_waiting(*, payment: Payment) -> int:
    """Apply the callbacks that arrived before this payment's push answer was saved (NEW), or
    that were called unmatched meanwhile: those with its CheckoutRequestID, or, when the push
    got no definite answer, successes from its phone for its amount (adoption). Returns how
    many were looked at."""
    open_states = (CallbackRecord.State.NEW, CallbackRecord.State.UNMATCHED)
    if payment.checkout_request_id:
        waiting = CallbackRecord.objects.filter(checkout_request_id=payment.checkout_request_id, state__in=open_states)
    else:
        waiting = CallbackRecord.objects.filter(
            kind=CallbackRecord.Kind.STK,
            state=CallbackRecord.State.NEW,
            result_code="0",
            phone_number=payment.phone_number,
            amount=payment.amount,
            received_at__gte=timezone.now() - ADOPT_WINDOW,
        )
    waiting = list(waiting.order_by("received_at", "pk").values_list("pk", flat=True))
    for record_id in waiting:
        callback_apply(record_id=record_id)
    return len(waiting)
