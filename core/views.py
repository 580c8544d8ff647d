from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache


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
