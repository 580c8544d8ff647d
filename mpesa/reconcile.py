"""Reconciliation: what callbacks did not settle, the worker does (django-q2 schedule, every minute).

- a PENDING payment with a CheckoutRequestID is asked about with the STK query (backoff),
  and settled through the one applier from a final answer; an answer about another
  CheckoutRequestID is no answer (the client says Indeterminate);
- past MPESA_PAYMENT_DEADLINE_SECONDS with no final answer, it fails as timed out (a late
  success callback still wins: settle.py);
- a payment whose push got no definite answer (no CheckoutRequestID, nothing to query)
  fails after the deadline, and a later success is still adopted by phone and amount;
- ledger rows left NEW (the apply task was lost, or waited for a push) are applied.
"""

import datetime as dt
import logging
import time

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.logging import money_fields
from mpesa import client as daraja
from mpesa.models import CallbackRecord, Payment
from mpesa.settle import NOT_SENT_REASON, UNREACHABLE_REASON, Outcome, callback_apply, payment_settle
from reservations.status import IN_FLIGHT

logger = logging.getLogger(__name__)

QUERY_BACKOFF_CAP_SECONDS = 120
RECONCILE_BATCH = 50
# The reconcile task must end well inside django-q2's 60 s task timeout.
RECONCILE_TIME_BUDGET_SECONDS = 40
# A NEW ledger row older than this was not applied by its own task: the sweep applies it.
LEDGER_SWEEP_AFTER_SECONDS = 30


def _deadline_seconds() -> int:
    return settings.MPESA_PAYMENT_DEADLINE_SECONDS


def _deadline_text() -> str:
    seconds = _deadline_seconds()
    return f"{seconds // 60} minutes" if seconds >= 120 else f"{seconds} seconds"


def _past_deadline(payment: Payment, now: dt.datetime) -> bool:
    started = payment.sent_at or payment.created_at
    return now >= started + dt.timedelta(seconds=_deadline_seconds())


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
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status != Payment.Status.PENDING:
            return locked
        locked.query_attempts += 1
        locked.last_query_result = result.raw
        fields = ["query_attempts", "last_query_result", "updated_at"]
        now = timezone.now()
        final = isinstance(result, daraja.StkQueryFinal)
        if not final and not _past_deadline(locked, now):
            delay = min(
                settings.MPESA_QUERY_FIRST_AFTER_SECONDS * 2 ** (locked.query_attempts - 1),
                QUERY_BACKOFF_CAP_SECONDS,
            )
            locked.next_query_at = now + dt.timedelta(seconds=delay)
            fields.append("next_query_at")
            logger.info(
                "payment still pending payment_id=%s checkout_request_id=%s attempt=%s answer=%s",
                locked.pk,
                locked.checkout_request_id,
                locked.query_attempts,
                getattr(result, "reason", ""),
                extra=money_fields(payment=locked),
            )
        locked.save(update_fields=fields)
    if final:
        outcome = Outcome(
            paid=result.paid,
            source="query",
            result_code=result.result_code,
            result_desc=result.result_desc,
            raw=result.raw,
        )
    elif _past_deadline(locked, timezone.now()):
        outcome = Outcome(
            paid=False,
            source="deadline",
            reason=f"M-Pesa did not confirm the payment within {_deadline_text()} (timed out).",
            raw={"last_answer": result.raw, "query_attempts": locked.query_attempts},
        )
    else:
        return locked
    return payment_settle(payment_id=payment.pk, outcome=outcome)


def payment_fail_unsent(*, payment_id: int) -> Payment:
    """A payment whose push never got a definite answer (no CheckoutRequestID, so nothing to
    query) fails after the deadline; a late success callback is still adopted by phone and amount."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status not in IN_FLIGHT or payment.checkout_request_id or not _past_deadline(payment, timezone.now()):
        return payment
    sent = payment.sent_at is not None
    outcome = Outcome(paid=False, source="deadline", reason=UNREACHABLE_REASON if sent else NOT_SENT_REASON)
    return payment_settle(payment_id=payment.pk, outcome=outcome)


def callback_sweep() -> int:
    """Apply ledger rows still NEW a while after they arrived. Returns how many."""
    cutoff = timezone.now() - dt.timedelta(seconds=LEDGER_SWEEP_AFTER_SECONDS)
    ids = list(
        # STK rows only: results of money going out are mpesa.transfers' (transfers_reconcile).
        CallbackRecord.objects.filter(kind=CallbackRecord.Kind.STK, state=CallbackRecord.State.NEW, received_at__lte=cutoff)
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:RECONCILE_BATCH]
    )
    for record_id in ids:
        try:
            callback_apply(record_id=record_id)
        except Exception:
            logger.exception("ledger sweep failed record_id=%s", record_id, extra=money_fields(record_id=record_id))
    return len(ids)


def payment_reconcile_pending() -> int:
    """Run every minute (django-q2 schedule): settle what callbacks did not. Returns how many were handled."""
    now = timezone.now()
    started = time.monotonic()
    handled = callback_sweep()
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
                logger.exception("reconcile failed payment_id=%s", payment_id, extra=money_fields(payment_id=payment_id))
                continue
            handled += 1
    if handled:
        logger.info("reconcile handled=%d", handled)
    return handled
