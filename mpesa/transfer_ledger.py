"""The callback ledger's side for money going out: Daraja's results and queue timeouts.

Every well-formed body posted to ResultURL or QueueTimeOutURL is stored as it came, in its
own transaction, before the answer goes back (a CallbackRecord of kind RESULT or TIMEOUT),
whether or not it names a refund or payout we know. Applying it is a separate step, the
django-q2 task mpesa.tasks.transfer_result_apply, so nothing here waits on a lock held by
the money it settles. A repeat (same request ids, result code and transaction id) only
counts another delivery (docs/money-out.md).
"""

import hashlib
import logging
import re

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from core.logging import money_fields
from mpesa.models import CallbackRecord
from mpesa.results import ResultInvalid, TransferResult

logger = logging.getLogger(__name__)

APPLY_TASK = "mpesa.tasks.transfer_result_apply"
DEDUPE_KEY_MAX = 160  # CallbackRecord.dedupe_key
_LEADING_MSISDN = re.compile(r"^\s*(\d{9,15})\b")


def result_dedupe_key(kind: str, parsed: TransferResult) -> str:
    """What makes a repeat a repeat. Long ids (Daraja's reach 100 characters) are hashed so
    the key fits its column; short ones stay readable for whoever looks at the row."""
    key = f"{kind}:{parsed.conversation_id}:{parsed.originator_conversation_id}:{parsed.result_code}:{parsed.transaction_id}"
    if len(key) <= DEDUPE_KEY_MAX:
        return key
    return f"{kind}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def _receiver_msisdn(parsed: TransferResult) -> str:
    """B2C results name the receiver as "254712345678 - Achieng Otieno": the number only."""
    value = parsed.params.get("ReceiverPartyPublicName")
    match = _LEADING_MSISDN.match(value) if isinstance(value, str) else None
    return match.group(1)[:16] if match else ""


def result_store(*, raw_body: str, parsed: TransferResult, kind: str) -> tuple[int, bool]:
    """Store one result (kind RESULT) or queue timeout (kind TIMEOUT) as it came. Returns
    (record id, created); a repeat only counts another delivery."""
    if kind not in (CallbackRecord.Kind.RESULT, CallbackRecord.Kind.TIMEOUT):
        raise ValueError(f"not a result kind: {kind}")
    key = result_dedupe_key(kind, parsed)
    try:
        amount = parsed.amount
    except ResultInvalid:
        amount = None  # a failure's stray amount is kept in the raw body, not in the column
    try:
        with transaction.atomic():
            record = CallbackRecord.objects.create(
                kind=kind,
                dedupe_key=key,
                raw_body=raw_body,
                checkout_request_id="",
                conversation_id=parsed.conversation_id,
                originator_conversation_id=parsed.originator_conversation_id,
                result_code=parsed.result_code,
                result_desc=parsed.result_desc,
                receipt=(parsed.receipt or None) if parsed.succeeded else (parsed.transaction_id or None),
                amount=amount,
                phone_number=_receiver_msisdn(parsed),
                transaction_date=parsed.completed_at,
            )
        return record.pk, True
    except IntegrityError:
        CallbackRecord.objects.filter(dedupe_key=key).update(
            deliveries=F("deliveries") + 1, last_received_at=timezone.now()
        )
        return CallbackRecord.objects.values_list("pk", flat=True).get(dedupe_key=key), False


def result_apply_enqueue(record_id: int) -> None:
    """Queue the apply step; stored is what counts, so a queue failure is only logged (the
    transfers' reconcile schedule applies NEW rows the queue lost)."""
    try:
        async_task(APPLY_TASK, record_id, task_name=f"result-apply-{record_id}")
    except Exception:
        logger.exception(
            "result stored but its apply task failed record_id=%s", record_id, extra=money_fields(record_id=record_id)
        )
