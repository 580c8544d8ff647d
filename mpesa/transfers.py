"""Money going out through Daraja: sending a transfer, applying its result, reconciling it.

Generic over the two kinds of OutgoingTransfer (docs/money-out.md): `kind` is "refund"
(mpesa.models.Refund, a Reversal or a B2C to the phone that paid) or "payout"
(mpesa.models.Payout, a B2C or B2B to the owner).

    created QUEUED (refunds_out / payouts)  ->  on commit: task transfer_send
        -> claimed: PENDING with sent_at, committed BEFORE the HTTP call (never sent twice)
        -> Daraja answers: accepted (ids saved, queried after MPESA_TRANSFER_QUERY_AFTER_SECONDS),
           a definite refusal (FAILED: nothing was sent), or nothing definite (stays PENDING,
           queried soon; never re-sent)
    result / timeout at /payments/result|timeout/<token>/ -> the ledger (CallbackRecord RESULT /
        TIMEOUT, mpesa.transfer_ledger) -> task transfer_result_apply -> transfer_apply_result,
        THE one applier: SUCCESS or FAILED once; a timeout only means "ask again"
    every minute: transfers_reconcile -> Transaction Status for PENDING rows with no result,
        whose result comes back through the same applier; QUEUED rows whose task was lost are
        enqueued again.

Lock order, as for payments: the booking row, then the transfer row.
"""

import datetime as dt
import logging
import time
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from core import safe_json
from core.notifications import collected, notify
from core.services import audit_batch, audit_record
from mpesa.client import Indeterminate
from mpesa.models import CallbackRecord, Payout, Refund
from mpesa.selectors import booking_money_of
from reservations.services import booking_lock, booking_money_changed

logger = logging.getLogger(__name__)

SEND_TASK = "mpesa.tasks.transfer_send"
KINDS = {"refund": Refund, "payout": Payout}
# No definite answer (or a queue timeout): ask Daraja this soon, not the full wait.
QUERY_SOON_SECONDS = 30
QUERY_BACKOFF_CAP_SECONDS = 30 * 60
# A QUEUED row whose send task never ran (lost with a worker) is enqueued again after this.
RESEND_QUEUED_AFTER_SECONDS = 60
# A ledger row left NEW this long (its apply task was lost, or it arrived before the answer
# that names it was saved) is applied by the sweep; a row nothing matches after
# UNMATCHED_AFTER_SECONDS is set aside (IGNORED) with a note for staff.
LEDGER_SWEEP_AFTER_SECONDS = 30
UNMATCHED_AFTER_SECONDS = 10 * 60
# Transaction Status said "no such transaction" this many times: the request never reached
# M-Pesa (a crash between claiming and sending): FAILED, so staff can retry it. A success
# that still comes later wins (see _apply_success).
GIVE_UP_AFTER_NOT_FOUND = 5
GIVE_UP_REASON = "M-Pesa has no record of this transfer after {n} status queries: it was not sent."
RECONCILE_BATCH = 50
RECONCILE_TIME_BUDGET_SECONDS = 40
FAILED_STATUSES = ("failed", "cancelled", "canceled", "declined", "expired", "rejected")


def transfer_kind(transfer) -> str:
    return "refund" if isinstance(transfer, Refund) else "payout"


def _model(kind: str):
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"Unknown transfer kind {kind!r}") from None


def new_originator_conversation_id(kind: str) -> str:
    """A fresh OriginatorConversationID: the idempotency key of one request to Daraja, set
    when the row is created (refund "NXR-…", payout "NXP-…")."""
    prefix = {"refund": "NXR", "payout": "NXP"}[kind]
    return f"{prefix}-{uuid.uuid4().hex}"


def transfer_snapshot(transfer) -> dict:
    return {
        "status": transfer.status,
        "amount": transfer.amount,
        "conversation_id": transfer.conversation_id,
        "mpesa_transaction_id": transfer.mpesa_transaction_id,
        "result_code": transfer.result_code,
        "failure_reason": transfer.failure_reason,
    }


def transfer_enqueue_on_commit(transfer) -> None:
    """Send a QUEUED transfer from the worker once the current transaction commits."""
    kind, pk = transfer_kind(transfer), transfer.pk
    transaction.on_commit(lambda: _enqueue_send(kind, pk))


def _enqueue_send(kind: str, pk: int) -> None:
    async_task(SEND_TASK, kind, pk, task_name=f"transfer-send-{kind}-{pk}")


# --- Sending ---------------------------------------------------------------------------------


def _remarks(transfer, kind: str, reference: str) -> str:
    if kind == "refund":
        return f"Refund for booking {reference}"
    return f"Nexus payout for booking {reference}"


def _call_daraja(transfer, kind: str, reference: str):
    """The one HTTP request of this row (typed answer; the client never raises for Daraja or
    the network)."""
    from mpesa import transfer_client as client

    remarks = _remarks(transfer, kind, reference)
    if kind == "refund":
        if transfer.method == Refund.Method.REVERSAL:
            return client.reversal(
                transaction_id=transfer.payment.mpesa_receipt_number, amount=transfer.amount, remarks=remarks,
                occasion=reference,
            )
        return client.b2c_payment(
            originator_conversation_id=transfer.originator_conversation_id,
            phone_number=transfer.phone_number,
            amount=transfer.amount,
            remarks=remarks,
            occasion=reference,
        )
    if transfer.method in (Payout.Method.PAYBILL, Payout.Method.TILL):
        return client.b2b_payment(
            originator_conversation_id=transfer.originator_conversation_id,
            business_number=transfer.business_number,
            account_reference=transfer.account_reference or reference,
            till=transfer.method == Payout.Method.TILL,
            amount=transfer.amount,
            remarks=remarks,
        )
    return client.b2c_payment(
        originator_conversation_id=transfer.originator_conversation_id,
        phone_number=transfer.phone_number,
        amount=transfer.amount,
        remarks=remarks,
        occasion=reference,
    )


def transfer_send(*, kind: str, transfer_id: int):
    """Send a QUEUED transfer to Daraja, once. Safe to run twice and concurrently: the first
    run moves the row to PENDING (sent_at) and commits before calling Daraja; any other run
    then finds it not QUEUED and does nothing. Returns the row (None when it does not exist)."""
    from mpesa import transfer_client as client

    model = _model(kind)
    with transaction.atomic():
        transfer = model.objects.select_for_update().filter(pk=transfer_id).first()
        if transfer is None or transfer.status != model.Status.QUEUED or transfer.sent_at is not None:
            logger.info("transfer send skipped kind=%s id=%s: not waiting to be sent", kind, transfer_id)
            return transfer
        before = transfer_snapshot(transfer)
        now = timezone.now()
        transfer.status = model.Status.PENDING
        transfer.sent_at = now
        # If this process dies during the call, reconciliation asks Daraja about it.
        transfer.next_query_at = now + dt.timedelta(seconds=settings.MPESA_TRANSFER_QUERY_AFTER_SECONDS)
        transfer.save(update_fields=["status", "sent_at", "next_query_at", "updated_at"])
        audit_record(
            obj=transfer, action=f"{kind}.sending", summary=f"Sending KES {transfer.amount:,} ({transfer.method})",
            before=before, after=transfer_snapshot(transfer),
        )
    reference = transfer.booking.reference
    try:
        answer = _call_daraja(transfer, kind, reference)
    except Exception as error:  # noqa: BLE001 - whether it left is unknown: never re-sent, queried instead
        logger.exception("transfer send raised kind=%s id=%s", kind, transfer_id)
        answer = Indeterminate(reason=f"error while sending: {error.__class__.__name__}: {error}"[:255])
    transfer = _record_answer(kind=kind, transfer_id=transfer_id, answer=answer, client=client)
    _apply_waiting(transfer)
    return transfer


def _record_answer(*, kind: str, transfer_id: int, answer, client):
    model = _model(kind)
    booking_id = model.objects.values_list("booking_id", flat=True).get(pk=transfer_id)
    with transaction.atomic(), audit_batch(), collected():
        booking = booking_lock(booking_id=booking_id)
        transfer = model.objects.select_for_update().get(pk=transfer_id)
        before = transfer_snapshot(transfer)
        now = timezone.now()
        if isinstance(answer, client.TransferAccepted):
            transfer.conversation_id = answer.conversation_id or transfer.conversation_id
            theirs = answer.originator_conversation_id
            if theirs and theirs != transfer.originator_conversation_id:
                transfer.daraja_originator_conversation_id = theirs
            transfer.raw_response = answer.raw
            fields = ["conversation_id", "daraja_originator_conversation_id", "raw_response", "updated_at"]
            if transfer.status == model.Status.PENDING:
                transfer.next_query_at = transfer.sent_at + dt.timedelta(
                    seconds=settings.MPESA_TRANSFER_QUERY_AFTER_SECONDS
                )
                fields.append("next_query_at")
            transfer.save(update_fields=fields)
            audit_record(
                obj=transfer, action=f"{kind}.sent", summary=f"Accepted by M-Pesa ({answer.conversation_id})",
                before=before, after=transfer_snapshot(transfer), data={"answer": answer.raw},
            )
        elif isinstance(answer, client.TransferRejected) and answer.stage != "request":
            # Nothing reached Daraja's transfer API (no access token, or our own setup is
            # missing a piece): the transfer itself was not refused, so it goes back to
            # QUEUED unsent and the reconcile schedule tries again each minute.
            if transfer.status == model.Status.PENDING:
                transfer.status, transfer.sent_at, transfer.next_query_at = model.Status.QUEUED, None, None
            transfer.failure_reason = f"Not sent yet, will try again: {answer.error_message} ({answer.error_code})"[:255]
            transfer.raw_response = answer.raw if answer.raw is not None else {"error_code": answer.error_code}
            transfer.save(update_fields=["status", "sent_at", "next_query_at", "failure_reason", "raw_response", "updated_at"])
            audit_record(
                obj=transfer, action=f"{kind}.send_postponed", summary=transfer.failure_reason,
                before=before, after=transfer_snapshot(transfer),
            )
            logger.warning("transfer not sent kind=%s id=%s: %s", kind, transfer_id, transfer.failure_reason)
        elif isinstance(answer, client.TransferRejected):
            transfer.raw_response = answer.raw if answer.raw is not None else {"error_code": answer.error_code}
            transfer.save(update_fields=["raw_response", "updated_at"])
            if transfer.status == model.Status.PENDING:
                reason = f"M-Pesa refused the request: {answer.error_message} ({answer.error_code})"
                _settle_failure(
                    kind=kind, booking=booking, transfer=transfer, reason=reason, result_code=None,
                    result_desc=str(answer.error_message or "")[:255], raw=None, source="send",
                )
        else:
            transfer.raw_response = {
                "indeterminate": getattr(answer, "reason", ""), "raw": getattr(answer, "raw", None)
            }
            fields = ["raw_response", "updated_at"]
            if transfer.status == model.Status.PENDING:
                transfer.next_query_at = now + dt.timedelta(seconds=QUERY_SOON_SECONDS)
                fields.append("next_query_at")
            transfer.save(update_fields=fields)
            audit_record(
                obj=transfer, action=f"{kind}.send_unanswered",
                summary=f"No definite answer from M-Pesa: {getattr(answer, 'reason', '')}",
                before=before, after=transfer_snapshot(transfer),
            )
    logger.info(
        "transfer answer kind=%s id=%s answer=%s status=%s", kind, transfer_id, type(answer).__name__, transfer.status
    )
    return transfer


def _apply_waiting(transfer) -> int:
    """Apply results that arrived before the answer naming them was saved (they wait NEW)."""
    ids = {i for i in (transfer.conversation_id, transfer.daraja_originator_conversation_id,
                       transfer.query_conversation_id, transfer.query_originator_conversation_id,
                       transfer.originator_conversation_id) if i}
    if not ids:
        return 0
    waiting = list(
        CallbackRecord.objects.filter(
            Q(conversation_id__in=ids) | Q(originator_conversation_id__in=ids),
            kind__in=(CallbackRecord.Kind.RESULT, CallbackRecord.Kind.TIMEOUT),
            state=CallbackRecord.State.NEW,
        )
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)
    )
    for record_id in waiting:
        transfer_apply_result(record_id=record_id)
    return len(waiting)


# --- The one applier ----------------------------------------------------------------------------


def _parsed(record: CallbackRecord):
    from mpesa.results import ResultInvalid, parse_result

    try:
        return parse_result(safe_json.loads(record.raw_body))
    except (ValueError, ResultInvalid):
        return None


def _match(record: CallbackRecord, parsed) -> tuple[str, int, bool] | None:
    """(kind, transfer id, is a Transaction Status result) of the transfer this row answers."""
    conversation, originator = record.conversation_id, record.originator_conversation_id
    if parsed is not None:
        conversation = conversation or parsed.conversation_id
        originator = originator or parsed.originator_conversation_id
    for kind, model in KINDS.items():
        query = Q()
        if originator:
            query |= Q(query_originator_conversation_id=originator)
        if conversation:
            query |= Q(query_conversation_id=conversation)
        if query:
            pk = model.objects.filter(query).values_list("pk", flat=True).first()
            if pk is not None:
                return kind, pk, True
        direct = Q()
        if originator:
            direct |= Q(originator_conversation_id=originator) | Q(daraja_originator_conversation_id=originator)
        if conversation:
            direct |= Q(conversation_id=conversation)
        if direct:
            pk = model.objects.filter(direct).values_list("pk", flat=True).first()
            if pk is not None:
                return kind, pk, bool(parsed is not None and parsed.is_status_query_result)
        if parsed is not None and parsed.is_status_query_result:
            named = parsed.original_ids
            if named:
                pk = (
                    model.objects.filter(
                        Q(originator_conversation_id__in=named)
                        | Q(conversation_id__in=named)
                        | Q(daraja_originator_conversation_id__in=named)
                        | Q(mpesa_transaction_id__in=named)
                    )
                    .values_list("pk", flat=True)
                    .first()
                )
                if pk is not None:
                    return kind, pk, True
    return None


def _awaiting_an_answer() -> bool:
    """A request was sent and Daraja's answer (with the ids a result names) is not saved yet."""
    window = timezone.now() - dt.timedelta(seconds=settings.MPESA_HTTP_TIMEOUT + 5)
    return any(
        model.objects.filter(status=model.Status.PENDING, sent_at__gte=window, conversation_id="").exists()
        for model in KINDS.values()
    ) or any(
        model.objects.filter(status=model.Status.PENDING, query_attempts__gt=0, updated_at__gte=window).exists()
        for model in KINDS.values()
    )


def transfer_apply_result(*, record_id: int) -> CallbackRecord:
    """Apply one RESULT or TIMEOUT ledger row to the refund or payout it answers, once.

    Matched by the ids Daraja names: our OriginatorConversationID (B2C/B2B), the ids of
    Daraja's answer (ConversationID; the OriginatorConversationID Daraja made up for a
    Reversal), or those of the last Transaction Status query. Under the booking's lock, then
    the transfer's: a result settles a PENDING transfer SUCCESS or FAILED; a second result,
    or one for a settled transfer, changes nothing (IGNORED). A TIMEOUT leaves it PENDING and
    asks Transaction Status soon. A Transaction Status result settles the transfer it names:
    "Completed" is a success; a failed status fails it; "no such transaction" is counted and,
    after GIVE_UP_AFTER_NOT_FOUND, fails it. Safe to run twice and concurrently.
    """
    record = CallbackRecord.objects.get(pk=record_id)
    if record.state != CallbackRecord.State.NEW or record.kind == CallbackRecord.Kind.STK:
        return record
    parsed = _parsed(record) if record.kind == CallbackRecord.Kind.RESULT else None
    match = _match(record, parsed)
    if match is None:
        age = (timezone.now() - record.received_at).total_seconds()
        if age < UNMATCHED_AFTER_SECONDS and _awaiting_an_answer():
            return record  # applied when that answer is saved (_apply_waiting) or by the sweep
        if age < LEDGER_SWEEP_AFTER_SECONDS:
            return record
        with transaction.atomic():
            updated = CallbackRecord.objects.filter(pk=record.pk, state=CallbackRecord.State.NEW).update(
                state=CallbackRecord.State.IGNORED,
                applied_at=timezone.now(),
                outcome_note="No refund or payout has these conversation ids.",
            )
            if updated:
                audit_record(
                    obj=record, action="transfer_result.unmatched",
                    summary=f"{record.get_kind_display()} for unknown conversation {record.conversation_id}"
                    f" / {record.originator_conversation_id}: result {record.result_code}",
                )
        if updated:
            logger.warning(
                "transfer result matches nothing record_id=%s conversation_id=%s result_code=%s",
                record.pk, record.conversation_id, record.result_code,
            )
        record.refresh_from_db()
        return record
    kind, transfer_id, via_query = match
    model = _model(kind)
    booking_id = model.objects.values_list("booking_id", flat=True).get(pk=transfer_id)
    settled = None
    with transaction.atomic(), audit_batch(), collected():
        booking = booking_lock(booking_id=booking_id)
        transfer = model.objects.select_for_update().get(pk=transfer_id)
        if not CallbackRecord.objects.select_for_update().filter(pk=record.pk, state=CallbackRecord.State.NEW).exists():
            return CallbackRecord.objects.get(pk=record.pk)  # applied meanwhile by another run
        state, note = CallbackRecord.State.APPLIED, ""
        raw = safe_json.loads(record.raw_body) if parsed is not None else {"callback_record": record.pk}
        if record.kind == CallbackRecord.Kind.TIMEOUT:
            if transfer.status == model.Status.PENDING:
                transfer.next_query_at = timezone.now() + dt.timedelta(seconds=QUERY_SOON_SECONDS)
                transfer.save(update_fields=["next_query_at", "updated_at"])
                audit_record(
                    obj=transfer, action=f"{kind}.timeout",
                    summary="M-Pesa's queue timed out: outcome unknown, asking Transaction Status",
                    data={"callback_record": record.pk, "query": via_query},
                )
                note = "timeout: outcome unknown, status query scheduled"
            else:
                state, note = CallbackRecord.State.IGNORED, f"timeout after it was settled ({transfer.status})"
        elif parsed is None:
            state, note = CallbackRecord.State.IGNORED, "the stored body is not a readable result"
        elif via_query:
            state, note, settled = _apply_status_result(kind, booking, transfer, parsed, raw)
        elif parsed.succeeded:
            settled = _apply_success(kind, booking, transfer, parsed, raw, source="result")
            note = "applied: success" if settled else f"already settled ({transfer.status})"
        else:
            settled = _settle_failure(
                kind=kind, booking=booking, transfer=transfer,
                reason=f"M-Pesa result {parsed.result_code}: {parsed.result_desc}",
                result_code=parsed.result_code, result_desc=parsed.result_desc, raw=raw, source="result",
            )
            note = "applied: failed" if settled else f"already settled ({transfer.status})"
        if note.startswith("already settled"):
            state = CallbackRecord.State.IGNORED
        CallbackRecord.objects.filter(pk=record.pk).update(
            state=state, applied_at=timezone.now(), outcome_note=note[:255],
            **{kind: transfer},
        )
    if settled and kind == "payout":
        _tell_payouts(transfer)
    record.refresh_from_db()
    return record


def _apply_status_result(kind, booking, transfer, parsed, raw):
    """A Transaction Status result about `transfer`. Returns (record state, note, settled)."""
    model = type(transfer)
    status = parsed.transaction_status.lower()
    if parsed.succeeded and status == "completed":
        settled = _apply_success(kind, booking, transfer, parsed, raw, source="status")
        note = "status: completed" if settled else f"already settled ({transfer.status})"
        return CallbackRecord.State.APPLIED, note, settled
    if transfer.status != model.Status.PENDING:
        return CallbackRecord.State.IGNORED, f"already settled ({transfer.status})", False
    if status in FAILED_STATUSES:
        # The query names the transfer and says no money moved (with or without a failure code).
        settled = _settle_failure(
            kind=kind, booking=booking, transfer=transfer,
            reason=f"M-Pesa says the transfer {parsed.transaction_status.lower()}"
            + ("" if parsed.succeeded else f": {parsed.result_desc} ({parsed.result_code})"),
            result_code=parsed.result_code, result_desc=parsed.result_desc, raw=raw, source="status",
        )
        return CallbackRecord.State.APPLIED, f"status: {status}", settled
    now = timezone.now()
    if not parsed.succeeded and transfer.query_attempts >= GIVE_UP_AFTER_NOT_FOUND:
        settled = _settle_failure(
            kind=kind, booking=booking, transfer=transfer,
            reason=GIVE_UP_REASON.format(n=transfer.query_attempts),
            result_code=None, result_desc=parsed.result_desc, raw=raw, source="status",
        )
        return CallbackRecord.State.APPLIED, "status: not found, given up", settled
    # Still in progress, or not found yet: the next query is already scheduled (transfer_query).
    transfer.raw_result = raw
    transfer.save(update_fields=["raw_result", "updated_at"])
    audit_record(
        obj=transfer, action=f"{kind}.status_answered",
        summary=f"Transaction Status: {parsed.transaction_status or parsed.result_desc or parsed.result_code}",
        data={"result": raw},
    )
    next_at = transfer.next_query_at.isoformat() if transfer.next_query_at else now.isoformat()
    return CallbackRecord.State.APPLIED, f"status: no outcome yet, next query {next_at}", False


def _apply_success(kind, booking, transfer, parsed, raw, *, source: str) -> bool:
    model = type(transfer)
    if transfer.status == model.Status.SUCCESS:
        return False
    late = transfer.status == model.Status.FAILED
    if late and transfer.result_code is not None:
        # M-Pesa itself said it failed: a contradicting success is for staff, not for us to guess.
        audit_record(
            obj=transfer, action=f"{kind}.success_after_failure",
            summary=f"M-Pesa reported success after result {transfer.result_code}; check with M-Pesa",
            data={"result": raw},
        )
        logger.error("transfer success after failure kind=%s id=%s", kind, transfer.pk)
        return False
    if transfer.status not in (model.Status.PENDING, model.Status.FAILED):
        return False
    before = transfer_snapshot(transfer)
    if late:
        _supersede_unsent_retry(kind, transfer)
    receipt = parsed.receipt or parsed.transaction_id or None
    if receipt and model.objects.filter(mpesa_transaction_id=receipt).exclude(pk=transfer.pk).exists():
        receipt = None  # recorded on another row: unique, and never counted twice
    amount = parsed.amount
    transfer.status = model.Status.SUCCESS
    transfer.result_code, transfer.result_desc = "0", parsed.result_desc[:255]
    transfer.failure_reason = ""
    if receipt:
        transfer.mpesa_transaction_id = receipt
    transfer.completed_at = parsed.completed_at or timezone.now()
    transfer.raw_result = raw
    transfer.next_query_at = None
    transfer.save()
    audit_record(
        obj=transfer, action=f"{kind}.succeeded",
        summary=f"KES {transfer.amount:,} sent, M-Pesa {receipt or '-'}" + (" (after it was given up)" if late else ""),
        before=before, after=transfer_snapshot(transfer),
        data={source: raw, "reported_amount": amount, "late": late},
    )
    if amount is not None and amount != transfer.amount:
        logger.error(
            "transfer amount differs kind=%s id=%s sent=%s reported=%s", kind, transfer.pk, transfer.amount, amount
        )
    if late and getattr(transfer, "retry_of_id", None) is None and model.objects.filter(retry_of=transfer).exists():
        audit_record(
            obj=transfer, action=f"{kind}.sent_twice",
            summary="A transfer given up (and retried) was completed after all: money went out twice",
        )
        logger.error("transfer completed after it was retried kind=%s id=%s", kind, transfer.pk)
    if kind == "refund":
        booking_money_changed(booking=booking, money=booking_money_of(booking_id=booking.pk))
        notify("refund_sent", booking_id=booking.pk, payment_id=transfer.pk)
    logger.info("transfer succeeded kind=%s id=%s amount=%s receipt=%s", kind, transfer.pk, transfer.amount, receipt)
    return True


UNSENT_STATUSES = ("SCHEDULED", "HELD", "QUEUED", "AWAITING_APPROVAL")


def _supersede_unsent_retry(kind: str, transfer) -> None:
    """A transfer given up was completed after all: its retry, if not sent yet, must not go
    out too. Only a row still unsent moves (the send step claims QUEUED rows the same way),
    so a retry already on its way is left alone and reported as money sent twice."""
    model = type(transfer)
    retry = model.objects.filter(retry_of=transfer).first()
    if retry is None:
        return
    stopped = model.objects.filter(pk=retry.pk, status__in=UNSENT_STATUSES).update(
        status=model.Status.FAILED,
        failure_reason=f"Not sent: the {kind} it retried went through after all.",
        next_query_at=None,
        updated_at=timezone.now(),
    )
    if stopped:
        audit_record(
            obj=retry, action=f"{kind}.superseded",
            summary=f"Not sent: {kind} {transfer.pk}, which this one retried, was completed after all",
        )


def _settle_failure(*, kind, booking, transfer, reason, result_code, result_desc, raw, source) -> bool:
    model = type(transfer)
    if transfer.status != model.Status.PENDING:
        return False
    before = transfer_snapshot(transfer)
    transfer.status = model.Status.FAILED
    transfer.result_code = result_code
    transfer.result_desc = (result_desc or "")[:255]
    transfer.failure_reason = reason[:255]
    if raw is not None:
        transfer.raw_result = raw
    transfer.next_query_at = None
    transfer.completed_at = timezone.now()
    transfer.save()
    audit_record(
        obj=transfer, action=f"{kind}.failed", summary=transfer.failure_reason,
        before=before, after=transfer_snapshot(transfer), data={source: raw},
    )
    logger.warning("transfer failed kind=%s id=%s reason=%s", kind, transfer.pk, transfer.failure_reason)
    return True


def _tell_payouts(payout) -> None:
    """The payouts app notifies the owner (mpesa.payouts, written alongside)."""
    try:
        from mpesa.payouts import payout_settled
    except ImportError:
        logger.warning("mpesa.payouts.payout_settled is missing: owner not told of payout %s", payout.pk)
        return
    payout.refresh_from_db()
    payout_settled(payout=payout, succeeded=payout.status == Payout.Status.SUCCESS)


# --- Reconciliation -------------------------------------------------------------------------------


def transfer_query(*, kind: str, transfer_id: int):
    """Ask Transaction Status about a PENDING transfer; its result comes to ResultURL and is
    applied by transfer_apply_result. Counts the attempt and schedules the next (backoff)."""
    from mpesa import transfer_client as client

    model = _model(kind)
    transfer = model.objects.select_related("booking").get(pk=transfer_id)
    if transfer.status != model.Status.PENDING:
        return transfer
    is_reversal = kind == "refund" and transfer.method == Refund.Method.REVERSAL
    if is_reversal and not (transfer.conversation_id or transfer.mpesa_transaction_id):
        answer = None  # a Reversal whose answer never came: no id to ask about, only time tells
    else:
        try:
            answer = client.transaction_status(
                transaction_id=transfer.mpesa_transaction_id or "",
                original_conversation_id=transfer.conversation_id,
                originator_conversation_id="" if is_reversal else transfer.originator_conversation_id,
                remarks=f"Status of {kind} {transfer.pk}",
            )
        except Exception as error:  # noqa: BLE001 - a query is only a question: ask again later
            logger.exception("transaction status raised kind=%s id=%s", kind, transfer_id)
            answer = Indeterminate(reason=str(error)[:255])
    with transaction.atomic(), audit_batch(), collected():
        booking = booking_lock(booking_id=transfer.booking_id)
        locked = model.objects.select_for_update().get(pk=transfer_id)
        if locked.status != model.Status.PENDING:
            return locked
        locked.query_attempts += 1
        delay = min(
            max(settings.MPESA_TRANSFER_QUERY_AFTER_SECONDS, QUERY_SOON_SECONDS) * 2 ** (locked.query_attempts - 1),
            QUERY_BACKOFF_CAP_SECONDS,
        )
        locked.next_query_at = timezone.now() + dt.timedelta(seconds=delay)
        fields = ["query_attempts", "next_query_at", "updated_at"]
        if answer is not None and isinstance(answer, client.TransferAccepted):
            locked.query_conversation_id = answer.conversation_id
            locked.query_originator_conversation_id = answer.originator_conversation_id
            fields += ["query_conversation_id", "query_originator_conversation_id"]
        elif answer is None and locked.query_attempts >= GIVE_UP_AFTER_NOT_FOUND:
            locked.save(update_fields=fields)
            _settle_failure(
                kind=kind, booking=booking, transfer=locked,
                reason="M-Pesa never answered this reversal request; check the receipt before retrying.",
                result_code=None, result_desc="", raw=None, source="reconcile",
            )
            return locked
        locked.save(update_fields=fields)
        audit_record(
            obj=locked, action=f"{kind}.status_queried",
            summary=f"Transaction Status asked (attempt {locked.query_attempts}): {type(answer).__name__}",
            data={"answer": getattr(answer, "raw", None)},
        )
    _apply_waiting(locked)
    locked.refresh_from_db()
    return locked


def result_sweep() -> int:
    """Apply RESULT / TIMEOUT ledger rows still NEW a while after they arrived."""
    cutoff = timezone.now() - dt.timedelta(seconds=LEDGER_SWEEP_AFTER_SECONDS)
    ids = list(
        CallbackRecord.objects.filter(
            kind__in=(CallbackRecord.Kind.RESULT, CallbackRecord.Kind.TIMEOUT),
            state=CallbackRecord.State.NEW,
            received_at__lte=cutoff,
        )
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:RECONCILE_BATCH]
    )
    for record_id in ids:
        try:
            transfer_apply_result(record_id=record_id)
        except Exception:
            logger.exception("result sweep failed record_id=%s", record_id)
    return len(ids)


def transfers_reconcile() -> int:
    """Every minute (django-q2 schedule): results left NEW are applied, PENDING transfers
    with no result by their next_query_at are asked about (Transaction Status), and QUEUED
    ones never sent are enqueued again. Nothing is ever sent twice: sending is
    transfer_send's claim. Returns how many rows were handled."""
    started = time.monotonic()
    now = timezone.now()
    handled = result_sweep()
    for kind, model in KINDS.items():
        due = list(
            model.objects.filter(status=model.Status.PENDING, next_query_at__lte=now)
            .order_by("next_query_at", "pk")
            .values_list("pk", flat=True)[:RECONCILE_BATCH]
        )
        for transfer_id in due:
            if time.monotonic() - started > RECONCILE_TIME_BUDGET_SECONDS:
                logger.warning("transfers reconcile stopped at its time budget handled=%d", handled)
                return handled
            try:
                transfer_query(kind=kind, transfer_id=transfer_id)
            except Exception:
                logger.exception("transfer query failed kind=%s id=%s", kind, transfer_id)
                continue
            handled += 1
        stale = list(
            model.objects.filter(
                status=model.Status.QUEUED,
                sent_at__isnull=True,
                updated_at__lte=now - dt.timedelta(seconds=RESEND_QUEUED_AFTER_SECONDS),
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:RECONCILE_BATCH]
        )
        for transfer_id in stale:
            _enqueue_send(kind, transfer_id)
            handled += 1
    if handled:
        logger.info("transfers reconcile handled=%d", handled)
    return handled
