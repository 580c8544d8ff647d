"""Every write to payments: create, send the STK push, apply callbacks, reconcile.

A shilling is never lost or counted twice:
- every state change runs in one transaction that locks the booking row, then the
  payment row (always in that order), re-checks the state and returns quietly when the
  work is already done, so a repeated or concurrent callback changes nothing;
- the booking's amount_paid/balance_due/status are derived from the payment rows by
  reservations.services.booking_recompute_totals, never incremented;
- unique checkout_request_id and mpesa_receipt_number make double-crediting impossible;
- a success that arrives late (payment timed out, booking cancelled) still wins: the
  booking is restored, or the payment is flagged for a refund. Never dropped.

Status: QUEUED (created; sent_at set while the push is on its way) -> PENDING (prompt
sent, or the push got no answer) -> SUCCESS | FAILED.
"""

import datetime as dt
import logging
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone

from accounts import credit
from core.exceptions import ApplicationError
from core.notifications import collected, notify
from core.phones import to_msisdn
from core.services import audit_batch, audit_record
from mpesa import client as daraja
from mpesa.models import Payment
from reservations.models import Booking

logger = logging.getLogger(__name__)

IN_FLIGHT = (Payment.Status.QUEUED, Payment.Status.PENDING)
PAYABLE = (Booking.Status.PENDING, Booking.Status.PROCESSING)
TRANSACTION_DESC = "Nexus booking"
QUERY_BACKOFF_CAP_SECONDS = 120
RECONCILE_BATCH = 50
# The reconcile task must end well inside django-q2's 60 s task timeout.
RECONCILE_TIME_BUDGET_SECONDS = 40
# A callback can beat our own save of the push answer; wait this long for it.
OWN_PUSH_WAIT_SECONDS = 3.0
ADOPT_WINDOW = dt.timedelta(hours=24)
UNREACHABLE_REASON = "Could not reach M-Pesa to send the prompt (timed out). No money was taken."
NOT_SENT_REASON = "The payment request was not sent to M-Pesa in time (timed out). No money was taken."


def _snapshot(payment: Payment) -> dict:
    return {
        "status": payment.status,
        "checkout_request_id": payment.checkout_request_id,
        "result_code": payment.result_code,
        "received_amount": payment.received_amount,
        "mpesa_receipt_number": payment.mpesa_receipt_number,
        "flagged": payment.flagged,
        "needs_refund": payment.needs_refund,
    }


def _deadline_seconds() -> int:
    return settings.MPESA_PAYMENT_DEADLINE_SECONDS


def _deadline_text() -> str:
    seconds = _deadline_seconds()
    return f"{seconds // 60} minutes" if seconds >= 120 else f"{seconds} seconds"


def callback_url() -> str:
    token = settings.MPESA_CALLBACK_TOKEN
    if not token:
        return ""
    return settings.MPESA_CALLBACK_BASE_URL.rstrip("/") + reverse("mpesa:callback", args=[token])


def _in_flight_total(booking: Booking) -> int:
    return (
        Payment.objects.filter(booking=booking, kind=Payment.Kind.PAYMENT, status__in=IN_FLIGHT).aggregate(
            total=Sum("amount")
        )["total"]
        or 0
    )


# --- Create ------------------------------------------------------------------------------------------


def payment_create(*, booking_id: int, user, phone_number: str, amount: int) -> Payment:
    """A guest of the booking asks to pay `amount` from `phone_number`; the STK push is sent
    by a task once this commits. 400 bad phone/amount or under the deposit; 404 not a guest;
    409 booking_not_payable, amount_exceeds_balance, phone_busy, dates_unavailable.

    A booking cancelled because its payment failed comes back to PENDING with a new hold
    first (reservations.services.booking_revive_for_payment), in this transaction: if the
    payment is then refused, it stays cancelled. Any other cancellation is final.
    """
    from listings.models import PropertyPage
    from reservations.selectors import booking_list_for_user
    from reservations.services import booking_is_revivable, booking_revive_for_payment
    from reservations.status import booking_min_next_payment

    try:
        msisdn = to_msisdn(phone_number)
    except ValidationError as error:
        raise ValidationError({"phone_number": error.messages})
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise ValidationError({"amount": ["Enter a whole number of shillings, at least 1."]})
    if amount > daraja.MAX_AMOUNT:
        raise ValidationError({"amount": [f"M-Pesa takes at most KES {daraja.MAX_AMOUNT:,} in one payment."]})
    if not booking_list_for_user(user=user).filter(pk=booking_id).exists():
        raise ApplicationError("No booking with this id.", "not_found", 404)

    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking_id)
        if booking_is_revivable(booking):
            booking_revive_for_payment(booking=booking, actor=user)
        if booking.status not in PAYABLE or booking.balance_due <= 0:
            raise ApplicationError(
                "This booking cannot take payments: it is cancelled or already paid in full.",
                "booking_not_payable",
                409,
            )
        in_flight = _in_flight_total(booking)
        payable = max(booking.balance_due - in_flight, 0)
        if amount > payable:
            pending_note = f" (KES {in_flight:,} is already on its way)" if in_flight else ""
            raise ApplicationError(
                f"KES {amount:,} is more than what is left to pay: KES {payable:,}{pending_note}.",
                "amount_exceeds_balance",
                409,
                extra={"max_amount": payable},
            )
        percent = (
            PropertyPage.objects.filter(pk=booking.property_id).values_list("min_deposit_percent", flat=True).first()
        )
        # Until the deposit is actually held, every payment must bring the booking up to it,
        # even with another one in flight: that one could fail and leave a token amount
        # holding the dates.
        minimum = booking_min_next_payment(
            total_price=booking.total_price,
            amount_paid=booking.amount_paid,
            balance_due=booking.balance_due,
            min_deposit_percent=percent,
        )
        if amount < minimum:
            raise ApplicationError(
                f"The first payment must be at least KES {minimum:,} ({percent}% deposit), or the whole balance.",
                "below_min_deposit",
                400,
                extra={"min_amount": minimum},
            )
        # Two requests for one booking are serialised by the booking lock above. For one phone
        # across two bookings, Daraja itself refuses a second prompt ("Unable to lock
        # subscriber"), which fails that payment with its reason and takes no money.
        if Payment.objects.filter(phone_number=msisdn, kind=Payment.Kind.PAYMENT, status__in=IN_FLIGHT).exists():
            raise ApplicationError(
                "An M-Pesa prompt is already waiting on this phone. Answer it (or wait a minute) and try again.",
                "phone_busy",
                409,
            )
        payment = Payment.objects.create(
            booking=booking, kind=Payment.Kind.PAYMENT, amount=amount, phone_number=msisdn, initiated_by=user
        )
        audit_record(
            obj=payment,
            action="payment.created",
            actor=user,
            summary=f"KES {amount:,} for {booking.reference} from {msisdn}",
            after=_snapshot(payment),
            data={"booking": booking.pk, "amount": amount, "phone_number": msisdn},
        )
        payment_id = payment.pk
        transaction.on_commit(lambda: _enqueue_stk_push(payment_id))
    logger.info("payment created payment_id=%s booking=%s amount=%s", payment.pk, booking.reference, amount)
    return payment


def _enqueue_stk_push(payment_id: int) -> None:
    from django_q.tasks import async_task

    async_task("mpesa.tasks.payment_send_stk_push", payment_id, task_name=f"stk-push-{payment_id}")


# --- Send the STK push -------------------------------------------------------------------------------------


def payment_send_stk_push(*, payment_id: int) -> Payment | None:
    """Send the STK push of a QUEUED payment, once. Safe to run twice: the first run claims it
    (sent_at) before calling Daraja, and a claimed payment is never pushed again."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
        if payment is None or payment.status != Payment.Status.QUEUED or payment.sent_at is not None:
            logger.info("stk push skipped payment_id=%s: not waiting to be sent", payment_id)
            return payment
        booking = Booking.objects.only("reference", "status").get(pk=payment.booking_id)
        payment.sent_at = timezone.now()
        payment.save(update_fields=["sent_at", "updated_at"])
    url = callback_url()
    if booking.status not in PAYABLE:
        result = daraja.StkPushRejected(None, "booking_not_payable", "the booking can no longer take payments")
    elif not url:
        result = daraja.StkPushRejected(None, "not_configured", "MPESA_CALLBACK_TOKEN is not set")
    else:
        try:
            result = daraja.DarajaClient().stk_push(
                phone_number=payment.phone_number,
                amount=payment.amount,
                account_reference=booking.reference,
                description=TRANSACTION_DESC,
                callback_url=url,
            )
        except daraja.DarajaRequestInvalid as error:
            result = daraja.StkPushRejected(None, "invalid_request", str(error))
    return _payment_record_push(payment_id=payment_id, result=result)


def _payment_record_push(*, payment_id: int, result) -> Payment:
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        before = _snapshot(payment)
        if isinstance(result, daraja.StkPushAccepted):
            if payment.checkout_request_id and payment.checkout_request_id != result.checkout_request_id:
                logger.error(
                    "stk push answer conflicts payment_id=%s has=%s answer=%s",
                    payment.pk,
                    payment.checkout_request_id,
                    result.checkout_request_id,
                )
                return payment
            payment.checkout_request_id = result.checkout_request_id
            payment.merchant_request_id = result.merchant_request_id
            fields = ["checkout_request_id", "merchant_request_id", "updated_at"]
            if payment.status == Payment.Status.QUEUED:
                payment.status = Payment.Status.PENDING
                payment.next_query_at = payment.sent_at + dt.timedelta(seconds=settings.MPESA_QUERY_FIRST_AFTER_SECONDS)
                fields += ["status", "next_query_at"]
            payment.save(update_fields=fields)
            action, summary = "payment.sent", f"STK prompt sent to {payment.phone_number}"
        elif payment.status != Payment.Status.QUEUED:
            return payment
        elif isinstance(result, daraja.StkPushRejected):
            payment.status = Payment.Status.FAILED
            payment.failure_reason = result.reason
            payment.result_desc = result.error_message[:255]
            payment.save(update_fields=["status", "failure_reason", "result_desc", "updated_at"])
            action, summary = "payment.rejected", result.reason
        else:
            # No answer: the prompt may or may not be on the phone. Without a
            # CheckoutRequestID it cannot be queried; the deadline settles it.
            payment.status = Payment.Status.PENDING
            payment.save(update_fields=["status", "updated_at"])
            action, summary = "payment.send_unanswered", f"No answer to the STK push: {result.reason}"
        audit_record(
            obj=payment,
            action=action,
            summary=summary,
            before=before,
            after=_snapshot(payment),
            data={"provider": getattr(result, "raw", None)},
        )
    logger.info(
        "stk push %s payment_id=%s checkout_request_id=%s", action, payment.pk, payment.checkout_request_id or "-"
    )
    return payment


# --- Apply an outcome (callback or query) ------------------------------------------------------------------


def _lock(payment_id: int, booking_id: int) -> tuple[Booking, Payment]:
    """Booking row first, then the payment row: the one lock order every service uses."""
    booking = Booking.objects.select_for_update().get(pk=booking_id)
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    return booking, payment


def _cancel_if_nothing_held(*, booking: Booking, payment: Payment) -> None:
    """A failed payment cancels a PENDING booking only when nothing is paid and nothing else is in flight."""
    if booking.status != Booking.Status.PENDING or booking.amount_paid > 0:
        return
    others = Payment.objects.filter(booking=booking).exclude(pk=payment.pk)
    if others.filter(kind=Payment.Kind.PAYMENT, status__in=IN_FLIGHT).exists():
        return
    if others.filter(status=Payment.Status.SUCCESS).exists() or payment.status == Payment.Status.SUCCESS:
        return
    from reservations.services import booking_mark_canceled

    before = {"status": booking.status, "amount_paid": booking.amount_paid, "balance_due": booking.balance_due}
    # The one revivable kind: the same guests may pay again while the dates are free.
    booking_mark_canceled(
        booking=booking,
        kind=Booking.CancelKind.PAYMENT_FAILED,
        reason=f"Payment failed: {payment.failure_reason or payment.result_desc}",
    )
    audit_record(
        obj=booking,
        action="booking.canceled",
        summary=f"{booking.reference} cancelled: its payment failed and nothing was paid",
        before=before,
        after={"status": booking.status, "amount_paid": booking.amount_paid, "balance_due": booking.balance_due},
        data={"payment": payment.pk, "result_code": payment.result_code},
    )
    notify("booking_canceled", booking_id=booking.pk)


def _apply_failure(*, booking: Booking, payment: Payment, result_code: str, result_desc: str, raw, source: str) -> bool:
    """A final non-zero ResultCode. Returns True when something changed."""
    if payment.status == Payment.Status.SUCCESS:
        logger.warning(
            "failure after success ignored payment_id=%s checkout_request_id=%s result_code=%s",
            payment.pk,
            payment.checkout_request_id,
            result_code,
        )
        return False
    before = _snapshot(payment)
    if payment.status == Payment.Status.FAILED:
        if payment.result_code:
            return False
        # Already failed on our deadline: keep the status, record what M-Pesa said.
        payment.result_code, payment.result_desc = result_code, result_desc[:255]
        fields = ["result_code", "result_desc", "updated_at"]
        if source == "callback" and payment.raw_callback is None:
            payment.raw_callback = raw
            fields.append("raw_callback")
        payment.save(update_fields=fields)
        audit_record(
            obj=payment,
            action="payment.result_recorded",
            summary=f"M-Pesa result {result_code} after timeout",
            before=before,
            after=_snapshot(payment),
            data={source: raw},
        )
        return True
    payment.status = Payment.Status.FAILED
    payment.result_code, payment.result_desc = result_code, result_desc[:255]
    payment.failure_reason = (result_desc or f"M-Pesa result {result_code}")[:255]
    payment.next_query_at = None
    fields = ["status", "result_code", "result_desc", "failure_reason", "next_query_at", "updated_at"]
    if source == "callback":
        payment.raw_callback = raw
        fields.append("raw_callback")
    else:
        payment.last_query_result = raw
        fields.append("last_query_result")
    payment.save(update_fields=fields)
    payer_side = result_code in credit.PAYER_SIDE_RESULT_CODES
    if payer_side:
        credit.credit_score_adjust(
            user_id=payment.initiated_by_id or booking.primary_guest_id, delta=credit.PAYMENT_FAILED_BY_PAYER
        )
    audit_record(
        obj=payment,
        action="payment.failed",
        summary=f"M-Pesa result {result_code}: {result_desc}",
        before=before,
        after=_snapshot(payment),
        data={source: raw, "credit_delta": credit.PAYMENT_FAILED_BY_PAYER if payer_side else 0},
    )
    _cancel_if_nothing_held(booking=booking, payment=payment)
    logger.info(
        "payment failed payment_id=%s checkout_request_id=%s result_code=%s",
        payment.pk,
        payment.checkout_request_id,
        result_code,
    )
    return True


def _apply_success(
    *,
    booking: Booking,
    payment: Payment,
    amount: int,
    phone: str,
    receipt: str | None,
    transaction_date: dt.datetime | None,
    result_desc: str,
    raw,
    source: str,
    flag_reasons: list[str] | None = None,
) -> bool:
    """ResultCode 0. `receipt` is None when the STK query (which has none) confirmed it.
    Returns True when money was credited or details recorded."""
    flag_reasons = list(flag_reasons or [])
    before = _snapshot(payment)
    if payment.status == Payment.Status.SUCCESS:
        if receipt is None or payment.mpesa_receipt_number == receipt:
            logger.info(
                "repeat success ignored payment_id=%s checkout_request_id=%s", payment.pk, payment.checkout_request_id
            )
            return False
        if payment.mpesa_receipt_number:
            payment.flagged = True
            payment.flag_reason = f"A second success with another receipt ({receipt}) was reported; not credited."[:255]
            payment.save(update_fields=["flagged", "flag_reason", "updated_at"])
            audit_record(
                obj=payment,
                action="payment.flagged",
                summary=payment.flag_reason,
                before=before,
                after=_snapshot(payment),
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
    payment.result_code, payment.result_desc = "0", result_desc[:255]
    payment.received_amount = amount
    payment.next_query_at = None
    fields = ["status", "result_code", "result_desc", "received_amount", "next_query_at", "updated_at"]
    if receipt:
        payment.mpesa_receipt_number = receipt
        payment.received_phone = phone
        payment.transaction_date = transaction_date
        fields += ["mpesa_receipt_number", "received_phone", "transaction_date"]
    if source == "callback":
        payment.raw_callback = raw
        fields.append("raw_callback")
    else:
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
    if booking.status == Booking.Status.CANCELED:
        from reservations.services import booking_is_revivable, booking_reactivate

        revivable = booking_is_revivable(booking)
        restored = booking_reactivate(booking=booking)
        if not restored:
            payment.needs_refund = True
            payment.flagged = True
            why = booking.get_cancel_kind_display() or "final"
            reason = (
                "Paid after the booking was cancelled and its dates were taken: refund it."
                if revivable
                else f"Paid after the booking was cancelled ({why}): refund it."
            )
            payment.flag_reason = "; ".join([reason, *flag_reasons])[:255]
            payment.save(update_fields=["needs_refund", "flagged", "flag_reason", "updated_at"])
    else:
        from reservations.services import booking_recompute_totals

        booking_recompute_totals(booking=booking)
    audit_record(
        obj=payment,
        action="payment.succeeded",
        summary=f"KES {amount:,} paid"
        + (f", receipt {receipt}" if receipt else " (confirmed by query)")
        + (" after it had failed" if late else ""),
        before=before,
        after=_snapshot(payment),
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
    )
    return True


class ReceiptAlreadyRecorded(Exception):
    """A success carried an M-Pesa receipt that another payment already holds (unique)."""


def _flag_receipt_reuse(*, payment: Payment, receipt: str, raw, source: str) -> bool:
    before = _snapshot(payment)
    holder = (
        Payment.objects.filter(mpesa_receipt_number=receipt).exclude(pk=payment.pk).values_list("pk", flat=True).first()
    )
    payment.flagged = True
    payment.flag_reason = f"Receipt {receipt} is already recorded on payment {holder}; not credited twice."[:255]
    payment.save(update_fields=["flagged", "flag_reason", "updated_at"])
    audit_record(
        obj=payment,
        action="payment.flagged",
        summary=payment.flag_reason,
        before=before,
        after=_snapshot(payment),
        data={source: raw},
    )
    logger.warning("receipt reuse refused payment_id=%s receipt=%s holder=%s", payment.pk, receipt, holder)
    return True


# --- Callbacks -----------------------------------------------------------------------------------------------


def _already_applied(payment: Payment, parsed: daraja.StkCallback) -> bool:
    if parsed.paid:
        return payment.status == Payment.Status.SUCCESS and payment.mpesa_receipt_number == parsed.receipt_number
    return payment.status == Payment.Status.FAILED and payment.result_code == parsed.result_code


def _find(checkout_request_id: str) -> tuple[int, int] | None:
    return Payment.objects.filter(checkout_request_id=checkout_request_id).values_list("pk", "booking_id").first()


def _wait_for_own_push(checkout_request_id: str) -> tuple[int, int] | None:
    """Daraja can call back before we have saved the answer to our own push: while a push
    is on its way (QUEUED, sent_at set), wait briefly for its CheckoutRequestID to appear."""
    deadline = time.monotonic() + OWN_PUSH_WAIT_SECONDS
    window = timezone.now() - dt.timedelta(seconds=settings.MPESA_HTTP_TIMEOUT + 5)
    sending = Payment.objects.filter(
        kind=Payment.Kind.PAYMENT, status=Payment.Status.QUEUED, sent_at__gte=window, checkout_request_id__isnull=True
    )
    while sending.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
        found = _find(checkout_request_id)
        if found:
            return found
    return _find(checkout_request_id)


def _adoptable(parsed: daraja.StkCallback) -> tuple[int, int] | None:
    """The one payment a success with an unknown CheckoutRequestID can belong to: our push
    got no answer (no CheckoutRequestID), same phone, same amount, recent. None if not exactly one."""
    if not parsed.paid or not parsed.phone_number:
        return None
    unanswered = Q(status__in=IN_FLIGHT) | Q(status=Payment.Status.FAILED, failure_reason=UNREACHABLE_REASON)
    candidates = list(
        Payment.objects.filter(
            unanswered,
            kind=Payment.Kind.PAYMENT,
            checkout_request_id__isnull=True,
            sent_at__isnull=False,
            phone_number=parsed.phone_number,
            amount=parsed.amount,
            created_at__gte=timezone.now() - ADOPT_WINDOW,
        ).values_list("pk", "booking_id")[:2]
    )
    return candidates[0] if len(candidates) == 1 else None


def payment_apply_callback(*, body: dict) -> Payment | None:
    """Apply Daraja's STK callback. Raises client.CallbackInvalid for a malformed body.

    Returns the payment, or None for a CheckoutRequestID we never issued (logged, no change).
    Repeats change nothing.
    """
    parsed = daraja.parse_stk_callback(body)
    known = Payment.objects.filter(checkout_request_id=parsed.checkout_request_id).only(
        "pk", "booking_id", "status", "mpesa_receipt_number", "result_code"
    ).first()
    if known is not None and _already_applied(known, parsed):
        # A repeat (Daraja delivers some callbacks twice): settled states never go back, so
        # this unlocked read is enough to answer it without taking any lock.
        logger.info("repeat callback ignored payment_id=%s checkout_request_id=%s", known.pk, parsed.checkout_request_id)
        return known
    found = (known.pk, known.booking_id) if known else _wait_for_own_push(parsed.checkout_request_id)
    adopted = False
    if found is None:
        found = _adoptable(parsed)
        adopted = found is not None
    if found is None:
        logger.warning(
            "callback for unknown checkout_request_id=%s result_code=%s amount=%s",
            parsed.checkout_request_id,
            parsed.result_code,
            parsed.amount,
        )
        return None
    payment_id, booking_id = found
    try:
        return _apply_callback_locked(
            parsed=parsed, body=body, payment_id=payment_id, booking_id=booking_id, adopted=adopted
        )
    except ReceiptAlreadyRecorded:
        with transaction.atomic():
            _, payment = _lock(payment_id, booking_id)
            _flag_receipt_reuse(payment=payment, receipt=parsed.receipt_number, raw=body, source="callback")
        return payment


def _apply_callback_locked(*, parsed, body: dict, payment_id: int, booking_id: int, adopted: bool) -> Payment:
    # One INSERT for the audit entries and one task for the emails, both in this transaction.
    with transaction.atomic(), audit_batch(), collected():
        booking, payment = _lock(payment_id, booking_id)
        flag_reasons = []
        if adopted:
            if payment.checkout_request_id is not None:
                return payment
            payment.checkout_request_id = parsed.checkout_request_id
            payment.merchant_request_id = parsed.merchant_request_id
            payment.save(update_fields=["checkout_request_id", "merchant_request_id", "updated_at"])
            flag_reasons.append("matched by phone and amount: our STK push got no answer")
        if parsed.paid:
            _apply_success(
                booking=booking,
                payment=payment,
                amount=parsed.amount,
                phone=parsed.phone_number,
                receipt=parsed.receipt_number,
                transaction_date=parsed.transaction_date,
                result_desc=parsed.result_desc,
                raw=body,
                source="callback",
                flag_reasons=flag_reasons,
            )
        else:
            _apply_failure(
                booking=booking,
                payment=payment,
                result_code=parsed.result_code,
                result_desc=parsed.result_desc,
                raw=body,
                source="callback",
            )
    return payment


# --- Reconciliation -------------------------------------------------------------------------------------------


def _past_deadline(payment: Payment, now: dt.datetime) -> bool:
    started = payment.sent_at or payment.created_at
    return now >= started + dt.timedelta(seconds=_deadline_seconds())


def _fail_timed_out(*, payment: Payment, reason: str, action: str, data: dict | None = None) -> None:
    before = _snapshot(payment)
    payment.status = Payment.Status.FAILED
    payment.failure_reason = reason[:255]
    payment.next_query_at = None
    payment.save(update_fields=["status", "failure_reason", "next_query_at", "updated_at"])
    audit_record(obj=payment, action=action, summary=reason, before=before, after=_snapshot(payment), data=data or {})
    logger.info(
        "payment %s payment_id=%s checkout_request_id=%s", action, payment.pk, payment.checkout_request_id or "-"
    )


def payment_query_and_settle(*, payment_id: int) -> Payment:
    """Ask Daraja how a PENDING payment ended and settle it from a final answer.

    "Still pending" and indeterminate answers only schedule the next query (backoff);
    past MPESA_PAYMENT_DEADLINE_SECONDS the payment fails as timed out. The booking is
    left as it was by a timeout: M-Pesa may have failed us, not the guest.
    """
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != Payment.Status.PENDING or not payment.checkout_request_id:
        return payment
    result = daraja.DarajaClient().stk_query(payment.checkout_request_id)
    with transaction.atomic(), audit_batch(), collected():
        booking, payment = _lock(payment.pk, payment.booking_id)
        if payment.status != Payment.Status.PENDING:
            return payment
        payment.query_attempts += 1
        payment.last_query_result = result.raw
        payment.save(update_fields=["query_attempts", "last_query_result", "updated_at"])
        if isinstance(result, daraja.StkQueryFinal) and result.paid:
            _apply_success(
                booking=booking,
                payment=payment,
                amount=payment.amount,
                phone="",
                receipt=None,
                transaction_date=None,
                result_desc=result.result_desc,
                raw=result.raw,
                source="query",
            )
        elif isinstance(result, daraja.StkQueryFinal):
            _apply_failure(
                booking=booking,
                payment=payment,
                result_code=result.result_code,
                result_desc=result.result_desc,
                raw=result.raw,
                source="query",
            )
        else:
            now = timezone.now()
            if _past_deadline(payment, now):
                _fail_timed_out(
                    payment=payment,
                    reason=f"M-Pesa did not confirm the payment within {_deadline_text()} (timed out).",
                    action="payment.timed_out",
                    data={"last_answer": result.raw, "query_attempts": payment.query_attempts},
                )
            else:
                delay = min(
                    settings.MPESA_QUERY_FIRST_AFTER_SECONDS * 2 ** (payment.query_attempts - 1),
                    QUERY_BACKOFF_CAP_SECONDS,
                )
                payment.next_query_at = now + dt.timedelta(seconds=delay)
                payment.save(update_fields=["next_query_at", "updated_at"])
                logger.info(
                    "payment still pending payment_id=%s checkout_request_id=%s attempt=%s answer=%s",
                    payment.pk,
                    payment.checkout_request_id,
                    payment.query_attempts,
                    getattr(result, "reason", ""),
                )
    return payment


def payment_fail_unsent(*, payment_id: int) -> Payment:
    """A payment whose push never got an answer (no CheckoutRequestID, so nothing to query)
    fails after the deadline; a late success callback is still matched by phone and amount."""
    now = timezone.now()
    booking_id = Payment.objects.values_list("booking_id", flat=True).get(pk=payment_id)
    with transaction.atomic():
        _, payment = _lock(payment_id, booking_id)
        if payment.status not in IN_FLIGHT or payment.checkout_request_id or not _past_deadline(payment, now):
            return payment
        sent = payment.sent_at is not None
        _fail_timed_out(
            payment=payment,
            reason=UNREACHABLE_REASON if sent else NOT_SENT_REASON,
            action="payment.unreachable" if sent else "payment.not_sent",
        )
    return payment


def payment_reconcile_pending() -> int:
    """Run every minute (django-q2 schedule): settle what callbacks did not. Returns how many were handled."""
    now = timezone.now()
    started = time.monotonic()
    deadline_cutoff = now - dt.timedelta(seconds=_deadline_seconds())
    first_cutoff = now - dt.timedelta(seconds=settings.MPESA_QUERY_FIRST_AFTER_SECONDS)
    payments = Payment.objects.filter(kind=Payment.Kind.PAYMENT)
    unsent = payments.filter(status__in=IN_FLIGHT, checkout_request_id__isnull=True).filter(
        Q(sent_at__lte=deadline_cutoff) | Q(sent_at__isnull=True, created_at__lte=deadline_cutoff)
    )
    due = (
        payments.filter(status=Payment.Status.PENDING, checkout_request_id__isnull=False)
        .filter(
            Q(next_query_at__lte=now)
            | Q(next_query_at__isnull=True, sent_at__lte=first_cutoff)
            | Q(sent_at__lte=deadline_cutoff)
        )
        .order_by("next_query_at", "pk")
    )
    handled = 0
    for service, ids in (
        (payment_fail_unsent, list(unsent.values_list("pk", flat=True)[:RECONCILE_BATCH])),
        (payment_query_and_settle, list(due.values_list("pk", flat=True)[:RECONCILE_BATCH])),
    ):
        for payment_id in ids:
            if time.monotonic() - started > RECONCILE_TIME_BUDGET_SECONDS:
                logger.warning("reconcile stopped at its time budget handled=%d", handled)
                return handled
            try:
                service(payment_id=payment_id)
            except Exception:
                logger.exception("reconcile failed payment_id=%s", payment_id)
                continue
            handled += 1
    if handled:
        logger.info("reconcile handled=%d", handled)
    return handled
