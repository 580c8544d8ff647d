"""Daraja's STK callback: POST /payments/callback/<token>/ (API.md, DARAJA.md).

Daraja signs nothing, so the defences are a long random token in the path (compared
in constant time), strict validation, matching on a CheckoutRequestID we issued, and
taking amount and receipt from the callback with anything unexpected flagged.
"""

import hmac
import json
import logging

from django.conf import settings
from django.http import HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from mpesa.client import CallbackInvalid
from mpesa.services import payment_apply_callback

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}


def _not_found() -> JsonResponse:
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


def _bad_request(detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": "invalid_callback"}, status=400)


def _client_ip(request) -> str:
    if settings.MPESA_CALLBACK_TRUST_X_FORWARDED_FOR:
        # The last hop is the one our own proxy appended; earlier ones are the client's to forge.
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR", "")


def _reject_constant(value: str):
    raise ValueError(f"{value} is not valid JSON here")


@csrf_exempt
def stk_callback(request, token: str):
    expected = settings.MPESA_CALLBACK_TOKEN
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        return _not_found()
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    allowed = settings.MPESA_ALLOWED_CALLBACK_IPS
    if allowed and _client_ip(request) not in allowed:
        logger.warning("callback refused from ip=%s", _client_ip(request))
        return _not_found()
    if len(request.body) > MAX_BODY_BYTES:
        return _bad_request("The body is too large for an STK callback.")
    try:
        body = json.loads(request.body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _bad_request("The body is not valid JSON.")
    try:
        payment = payment_apply_callback(body=body)
    except CallbackInvalid as error:
        logger.warning("callback refused: %s", error)
        return _bad_request(f"Not an STK callback: {error}")
    if payment is None:
        logger.info("callback accepted without a matching payment")
    return JsonResponse(ACCEPTED)
