"""Idempotency-Key support for POSTs that create bookings and payments (API.md).

The key is claimed by inserting a row *before* the work runs, so two requests with
the same key racing each other cannot both create an object: the unique constraint
lets exactly one claim it. The loser gets the stored response, or 409 while the
first request is still running.
"""

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


def idempotent(request, *, scope: str, handler: Callable[[], Response]) -> Response:
    key = request.META.get(HEADER, "").strip()
    if not key:
        return handler()
    if len(key) > MAX_KEY_LENGTH:
        raise ApplicationError("Idempotency-Key is too long (255 characters at most).", "invalid_idempotency_key", 400)

    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    IdempotencyRecord.objects.filter(user=request.user, key=key, scope=scope, created_at__lt=cutoff).delete()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(user=request.user, key=key, scope=scope)
    except IntegrityError:
        previous = IdempotencyRecord.objects.filter(user=request.user, key=key, scope=scope).first()
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
