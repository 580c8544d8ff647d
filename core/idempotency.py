"""Idempotency-Key support for POSTs that create bookings and payments (docs/api.md).

The key is claimed by inserting a row *before* the work runs, so two requests with
the same key racing each other cannot both create an object: the unique constraint
lets exactly one claim it. The loser gets the stored response, or 409 while the
first request is still running. The same key with a different request (method, path
or body) is refused with 422: replaying the first answer would tell the client that
its other request was done.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from core.exceptions import ApplicationError
from core.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = 255


def _plain(data):
    """The parsed body as plain JSON values: a form's QueryDict keeps every value of a key."""
    if hasattr(data, "lists"):
        return {key: [_plain(value) for value in values] for key, values in data.lists()}
    if isinstance(data, dict):
        return {str(key): _plain(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(value) for value in data]
    if data is None or isinstance(data, (str, int, float, bool)):
        return data
    if hasattr(data, "read"):  # an uploaded file
        return {"file": getattr(data, "name", ""), "size": getattr(data, "size", None)}
    return str(data)


def request_fingerprint(request) -> str:
    """sha256 of method, path and the parsed body with sorted keys: key order and
    whitespace do not make two requests different, any other change does."""
    canonical = json.dumps(
        [request.method, request.path, _plain(request.data)], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent(request, *, scope: str, handler: Callable[[], Response]) -> Response:
    key = request.META.get(HEADER, "").strip()
    if not key:
        return handler()
    if len(key) > MAX_KEY_LENGTH:
        raise ApplicationError("Idempotency-Key is too long (255 characters at most).", "invalid_idempotency_key", 400)
    fingerprint = request_fingerprint(request)

    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    IdempotencyRecord.objects.filter(user=request.user, key=key, scope=scope, created_at__lt=cutoff).delete()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=request.user, key=key, scope=scope, request_hash=fingerprint
            )
    except IntegrityError:
        previous = IdempotencyRecord.objects.filter(user=request.user, key=key, scope=scope).first()
        if previous is not None and previous.request_hash and previous.request_hash != fingerprint:
            raise ApplicationError(
                "This Idempotency-Key was already used with a different request. Use a new key for a new request.",
                "idempotency_key_reused",
                422,
            )
        if previous is None or previous.status_code is None:
            raise ApplicationError(
                "A request with this Idempotency-Key is still being processed.", "idempotency_in_progress"
            )
        response = Response(previous.response_body, status=previous.status_code)
        response["Idempotent-Replayed"] = "true"
        return response

    try:
        response = handler()
    except ApplicationError as error:
        body = {"detail": error.message, "code": error.code, **error.extra}
        record.status_code, record.response_body = error.status, body
        record.save(update_fields=["status_code", "response_body"])
        raise
    except Exception:
        record.delete()
        raise
    if response.status_code >= 500:
        record.delete()
    else:
        record.status_code, record.response_body = response.status_code, response.data
        record.save(update_fields=["status_code", "response_body"])
    return response
