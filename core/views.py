import hmac
import posixpath

from django.conf import settings
from django.http import Http404, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.static import serve

from core.health import database_answers, health_checks_run

HEALTHZ_TOKEN_HEADER = "X-Healthz-Token"


def _may_see_full_health(request) -> bool:
    """Staff signed in, or a caller holding HEALTHZ_TOKEN (an uptime monitor)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    expected = getattr(settings, "HEALTHZ_TOKEN", "")
    given = request.headers.get(HEALTHZ_TOKEN_HEADER, "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@never_cache
def healthz(request):
    """For the load balancer: 200 when the database answers `SELECT 1`, 503 otherwise.

    `?full=1` (staff, or the X-Healthz-Token header) adds the registered checks (core.health):
    the queue's backlog, the last reconciliation run, the oldest unsettled payment; it answers
    503 when any of them is not ok, so a monitor can tell "up" from "working". Anyone else
    asking for it gets 403, never the figures.
    """
    full = request.GET.get("full") not in (None, "", "0")
    if full and not _may_see_full_health(request):
        return JsonResponse(
            {"detail": "The full health report is for staff or the monitoring token.", "code": "forbidden"},
            status=403,
        )
    failure = database_answers(getattr(settings, "HEALTHZ_DATABASE", "default"))
    if failure:
        return JsonResponse({"status": "error", "database": failure}, status=503)
    if not full:
        return JsonResponse({"status": "ok", "database": "ok"})
    checks = health_checks_run()
    working = all(check.get("ok", False) for check in checks.values())
    return JsonResponse(
        {"status": "ok" if working else "degraded", "database": "ok", "checks": checks},
        status=200 if working else 503,
    )


def public_media(request, path):
    """MEDIA_URL serves only the folders listed in PUBLIC_MEDIA_PREFIXES (Wagtail images and
    renditions). Everything else under MEDIA_ROOT, documents above all, has its own view that
    checks who is asking (Wagtail's document serve view checks collection privacy)."""
    # The same normalisation django.views.static.serve applies, so "images/../documents/x"
    # is judged by where it really points.
    normalised = posixpath.normpath(path).lstrip("/")
    if normalised.startswith("..") or not normalised.startswith(tuple(settings.PUBLIC_MEDIA_PREFIXES)):
        raise Http404
    return serve(request, normalised, document_root=settings.MEDIA_ROOT)
