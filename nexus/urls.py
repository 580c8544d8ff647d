from django.conf import settings
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("nexus.api_urls")),
    # Not under /mpesa/: Safaricom refuses callback URLs containing that word.
    path("payments/", include("mpesa.urls")),
    path("accounts/", include("accounts.urls")),
    path("bookings/", include("reservations.urls")),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
]

if settings.MPESA_ENV == "simulator":
    urlpatterns.append(path("simulator/", include("mpesa.simulator.urls")))

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
else:
    from django.views.static import serve

    # Wagtail renditions and original images are public; ID photos live elsewhere
    # (PRIVATE_MEDIA_ROOT) and never under this prefix.
    urlpatterns.append(path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}))

urlpatterns.append(path("", include(wagtail_urls)))
