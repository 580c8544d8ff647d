"""Starting a payment: the one service the API and the site call, and the STK push it sends.

    payment_start (web request)  ->  on commit: task payment_send_stk_push (worker)
        -> Daraja answers: accepted (CheckoutRequestID saved, PENDING),
           a definite refusal (FAILED), or nothing definite (PENDING without a
           CheckoutRequestID: the prompt may be on the phone; settle.py adopts its callback)

Inputs are validated once, at the edge (the API serializer, the site form): this service
takes a Daraja MSISDN (2547XXXXXXXX / 2541XXXXXXXX) and a whole number of shillings.
"""

import datetime as dt
import logging
import re

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from core.exceptions import ApplicationError
from core.logging import money_fields
from core.services import audit_record
from listings.models import PropertyPage
from mpesa import client as daraja
from mpesa.models import Payment
from mpesa.selectors import booking_money_of
from mpesa.settle import Outcome, callback_apply_waiting, payment_settle, payment_snapshot
from reservations.models import Booking
from reservations.selectors import booking_list_for_user
from reservations.services import booking_lock, booking_money_changed, booking_prepare_for_payment
from reservations.status import IN_FLIGHT, booking_min_next_payment

logger = logging.getLogger(__name__)

TRANSACTION_DESC = "Nexus booking"
_MSISDN = re.compile(r"^254[17]\d{8}$")


def callback_url() -> str:
    token = settings.MPESA_CALLBACK_TOKEN
    if not token:
        return ""
    return settings.MPESA_CALLBACK_BASE_URL.rstrip("/") + reverse("mpesa:callback", args=[token])


def payment_start(*, booking_id: int, user, msisdn: str, amount: int) -> Payment:
    """A guest of the booking asks to pay `amount` from `msisdn`; the STK push is sent by a
    task once this commits. 404 not a guest; 400 under the deposit; 409 booking_not_payable,
    amount_exceeds_balance, phone_busy, dates_unavailable.

    A booking cancelled because its payment failed comes back to PENDING with a new hold
    first (reservations.services.booking_prepare_for_payment), in this transaction: if the
    payment is then refused, it stays cancelled. Any other cancellation is final.
    """
    # The edges validated these; a caller that did not is a bug, not bad input.
    assert _MSISDN.match(msisdn), "payment_start takes a Daraja MSISDN (2547XXXXXXXX)"
    assert isinstance(amount, int) and not isinstance(amount, bool) and 1 <= amount <= daraja.MAX_AMOUNT
    if not booking_list_for_user(user=user).filter(pk=booking_id).exists():
        raise ApplicationError("No booking with this id.", "not_found", 404)

    with transaction.atomic():
        booking = booking_lock(booking_id=booking_id)
        booking_prepare_for_payment(booking=booking, actor=user)
        payable = max(booking.balance_due - booking.amount_in_flight, 0)
        if amount > payable:
            pending_note = f" (KES {booking.amount_in_flight:,} is already on its way)" if booking.amount_in_flight else ""
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
        booking_money_changed(booking=booking, money=booking_money_of(booking_id=booking.pk))
        audit_record(
            obj=payment,
            action="payment.created",
            actor=user,
            summary=f"KES {amount:,} for {booking.reference} from {msisdn}",
            after=payment_snapshot(payment),
            data={"booking": booking.pk, "amount": amount, "phone_number": msisdn},
        )
        payment_id = payment.pk
        transaction.on_commit(lambda: _enqueue_stk_push(payment_id))
    logger.info(
        "payment created payment_id=%s booking=%s amount=%s",
        payment.pk,
        booking.reference,
        amount,
        extra=money_fields(payment=payment, booking=booking),
    )
    return payment


def _enqueue_stk_push(payment_id: int) -> None:
    async_task("mpesa.tasks.payment_send_stk_push", payment_id, task_name=f"stk-push-{payment_id}")


def payment_send_stk_push(*, payment_id: int) -> Payment | None:
    """Send the STK push of a QUEUED payment, once. Safe to run twice: the first run claims it
    (sent_at) before calling Daraja, and a claimed payment is never pushed again."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
        if payment is None or payment.status != Payment.Status.QUEUED or payment.sent_at is not None:
            logger.info(
                "stk push skipped payment_id=%s: not waiting to be sent", payment_id, extra=money_fields(payment_id=payment_id)
            )
            return payment
        booking = Booking.objects.only("reference", "status").get(pk=payment.booking_id)
        payment.sent_at = timezone.now()
        payment.save(update_fields=["sent_at", "updated_at"])
    url = callback_url()
    if booking.status not in (Booking.Status.PENDING, Booking.Status.PROCESSING):
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
    """Save Daraja's answer to the push. A refusal fails the payment through the one applier
    (settle.payment_settle); an acceptance saves the CheckoutRequestID and then applies any
    callback that arrived before it (it waited in the ledger, nobody slept for it)."""
    if isinstance(result, daraja.StkPushRejected):
        refusal = Outcome(paid=False, source="push", reason=result.reason, result_desc=result.error_message, raw=result.raw)
        return payment_settle(payment_id=payment_id, outcome=refusal, only_if_queued=True)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        before = payment_snapshot(payment)
        if isinstance(result, daraja.StkPushAccepted):
            if payment.checkout_request_id and payment.checkout_request_id != result.checkout_request_id:
                logger.error(
                    "stk push answer conflicts payment_id=%s has=%s answer=%s",
                    payment.pk,
                    payment.checkout_request_id,
                    result.checkout_request_id,
                    extra=money_fields(payment=payment),
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
        else:
            # No definite answer: the prompt may or may not be on the phone. It stays in
            # flight without a CheckoutRequestID until a callback is adopted by phone and
            # amount, its deadline passes, or staff act.
            payment.status = Payment.Status.PENDING
            payment.save(update_fields=["status", "updated_at"])
            action, summary = "payment.send_unanswered", f"No definite answer to the STK push: {result.reason}"
        audit_record(
            obj=payment,
            action=action,
            summary=summary,
            before=before,
            after=payment_snapshot(payment),
            data={"provider": getattr(result, "raw", None)},
        )
    logger.info(
        "stk push %s payment_id=%s checkout_request_id=%s",
        action,
        payment.pk,
        payment.checkout_request_id or "-",
        extra=money_fields(payment=payment),
    )
    if callback_apply_waiting(payment=payment):
        payment.refresh_from_db()
    return payment
