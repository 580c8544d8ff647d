"""Query-string guards for the admin.

SQLite binds Python integers as 64-bit values: a filter id longer than that (e.g. 40 nines
in `?owner=` on Wagtail's page explorer or `?user=` on site history) raises OverflowError
deep inside the query and the page answers 500. Our own filter sets bound their values
(core.filters); Wagtail's own screens do not, so every admin request whose query string
carries a whole number outside the signed 64-bit range is refused here with a 400 before
any view runs. PostgreSQL would refuse such a number too (it is no valid id anywhere).
"""

import re

from django.http import HttpResponseBadRequest
from django.middleware.gzip import GZipMiddleware

ADMIN_PREFIX = "/admin/"
_WHOLE_NUMBER = re.compile(r"-?\d+")
_MAX_DIGITS = 19  # 9223372036854775807 = 2**63 - 1
_INT64_MAX = 2**63 - 1


def query_has_out_of_range_number(query) -> bool:
    """True when any value in the QueryDict is a whole number no 64-bit id column can hold."""
    for values in query.lists():
        for value in values[1]:
            value = value.strip()
            if not _WHOLE_NUMBER.fullmatch(value):
                continue
            digits = value.lstrip("-").lstrip("0")
            if len(digits) > _MAX_DIGITS or (digits and int(digits) > _INT64_MAX):
                return True
    return False


class AdminQueryBoundsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(ADMIN_PREFIX) and request.GET and query_has_out_of_range_number(request.GET):
            return HttpResponseBadRequest(
                "A filter value in the address is not a valid number.", content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)


class RequestIdMiddleware:
    """Gives every request an id for its log lines (core.logging) and its response's
    X-Request-ID header: the proxy's X-Request-ID when well-formed, else a fresh one.
    First in MIDDLEWARE, so every line of the request, other middleware's included, has it."""

    header = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from core.logging import request_id_from_header, request_id_var

        request_id = request_id_from_header(request.headers.get(self.header))
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[self.header] = request_id
        return response


class HtmlGZipMiddleware(GZipMiddleware):
    """Compresses HTML pages only (Lighthouse: "enable text compression"). Static files are
    compressed ahead of time by whitenoise; API answers are small JSON that clients poll, where
    compressing would cost more time than the bytes it saves. Django's GZipMiddleware pads
    each response at random, which with CSRF token masking defeats BREACH-style guessing."""

    def process_response(self, request, response):
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        return super().process_response(request, response)
