import posixpath

from django.conf import settings
from django.db import connection
from django.http import Http404, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.static import serve


@never_cache
def healthz(request):
    """For the load balancer: 200 when the database answers, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any database failure means "not healthy"
        return JsonResponse({"status": "error", "database": type(error).__name__}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


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
