"""The baselines every figure is divided by: bare Django views in the same server.

Both run through the project's full middleware stack (sessions, CSRF, auth,
whitenoise, Wagtail redirects), so a ratio measures what our own code adds on top
of Django itself, not Django's fixed cost.
"""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from bench.models import BaselineRow


@csrf_exempt
@require_POST
def insert_view(request):
    """One INSERT and a tiny JSON answer: the baseline for writes (bookings, callbacks)."""
    row = BaselineRow.objects.create(label="baseline")
    return JsonResponse({"id": row.pk}, status=201)


@require_GET
def json_view(request):
    """No database at all: the baseline that the page-speed goals (docs/booking-rules.md) compare with."""
    return JsonResponse({"ok": True, "items": [1, 2, 3]})
