"""One domain error type, mapped to the API's {"detail", "code"} body."""

import logging

from django.core.exceptions import PermissionDenied, ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A business rule refused the request. `status` is the HTTP status the API answers with."""

    def __init__(self, message: str, code: str, status: int = 409, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.extra = extra or {}


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, "code": exc.code, **exc.extra}, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        code = getattr(response.data["detail"], "code", None) or getattr(exc, "default_code", "error")
        response.data = {"detail": str(response.data["detail"]), "code": code}
    return response
