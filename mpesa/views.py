"""Daraja's posts to us (docs/api.md, docs/daraja.md, docs/money-out.md): the STK callback at
POST /payments/callback/<token>/, and the results of money going out at
/payments/result/<token>/ and /payments/timeout/<token>/.

Daraja signs nothing, so the defences are a long random token in the path (compared
in constant time), strict validation, matching on a CheckoutRequestID we issued, and
taking amount and receipt from the callback with anything unexpected flagged.

The request only stores and acknowledges: a well-formed body is written to the callback
ledger in its own transaction, then the apply step is queued (django-q2) and the 200
goes back. Nothing here waits for anything.
"""

import hmac
import logging

from django.conf import settings
from django.http import HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_q.tasks import async_task

from core import safe_json
from core.logging import money_fields
from core.throttling import client_ip
from mpesa.callbacks import CallbackInvalid, parse_stk_callback
from mpesa.models import CallbackRecord
from mpesa.results import parse_result
from mpesa.settle import callback_store
from mpesa.transfer_ledger import result_apply_enqueue, result_store

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}


def _not_found() -> JsonResponse:
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


def _bad_request(detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": "invalid_callback"}, status=400)


def _refusal(request, token: str) -> JsonResponse | HttpResponseNotAllowed | None:
    """The checks every Daraja post passes before its body is read: the secret token in the
    path (constant-time), POST, the optional source allow-list, the size limit."""
    expected = settings.MPESA_CALLBACK_TOKEN
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        return _not_found()
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    allowed = settings.MPESA_ALLOWED_CALLBACK_IPS
    if allowed and client_ip(request) not in allowed:
        logger.warning("callback refused from ip=%s", client_ip(request))
        return _not_found()
    if len(request.body) > MAX_BODY_BYTES:
        return _bad_request("The body is too large for a Daraja callback.")
    return None


@csrf_exempt
def stk_callback(request, token: str):
    refused = _refusal(request, token)
    if refused is not None:
        return refused
    try:
        body = safe_json.loads(request.body)
    except ValueError:
        return _bad_request("The body is not valid JSON.")
    try:
        parsed = parse_stk_callback(body)
    except CallbackInvalid as error:
        logger.warning("callback refused: %s", error)
        return _bad_request(f"Not an STK callback: {error}")
    record_id, created = callback_store(raw_body=request.body.decode("utf-8", errors="replace"), parsed=parsed)
    if created:
        try:
            async_task("mpesa.tasks.callback_apply", record_id, task_name=f"callback-apply-{record_id}")
        except Exception:
            # Stored is what counts: the reconcile sweep applies a NEW row the queue lost,
            # and Daraja must not be told to send it again for our own failure.
            logger.exception(
                "callback stored but its apply task failed record_id=%s",
                record_id,
                extra=money_fields(checkout_request_id=parsed.checkout_request_id, record_id=record_id),
            )
    else:
        logger.info(
            "repeat callback counted record_id=%s checkout_request_id=%s",
            record_id,
            parsed.checkout_request_id,
            extra=money_fields(checkout_request_id=parsed.checkout_request_id, record_id=record_id),
        )
    return JsonResponse(ACCEPTED)


def _transfer_result(request, token: str, kind: str):
    refused = _refusal(request, token)
    if refused is not None:
        return refused
    try:
        body = safe_json.loads(request.body)
    except ValueError:
        return _bad_request("The body is not valid JSON.")
    try:
        parsed = parse_result(body)
    except CallbackInvalid as error:
        logger.warning("result refused kind=%s: %s", kind, error)
        return _bad_request(f"Not a Daraja result: {error}")
    record_id, created = result_store(
        raw_body=request.body.decode("utf-8", errors="replace"), parsed=parsed, kind=kind
    )
    if created:
        result_apply_enqueue(record_id)
    else:
        logger.info(
            "repeat result counted record_id=%s kind=%s conversation_id=%s",
            record_id,
            kind,
            parsed.conversation_id,
            extra=money_fields(record_id=record_id),
        )
    return JsonResponse(ACCEPTED)


@csrf_exempt
def transfer_result(request, token: str):
    """Daraja's ResultURL: the outcome of a B2C, B2B, Reversal or Transaction Status request."""
    return _transfer_result(request, token, CallbackRecord.Kind.RESULT)


@csrf_exempt
def transfer_timeout(request, token: str):
    """Daraja's QueueTimeOutURL: the request sat in Daraja's queue too long. The outcome is
    unknown, not failed: the transfer stays pending until a result or a Transaction Status
    answer settles it (docs/money-out.md)."""
    return _transfer_result(request, token, CallbackRecord.Kind.TIMEOUT)
