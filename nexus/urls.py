from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from accounts.views import AdminLoginView
from core import pwa
from core.views import healthz, public_media
from listings.calendar import views as calendar_views
from reservations import views as reservation_views

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # The installable web app (core/pwa.py): at the root, where a service worker must live.
    path("manifest.webmanifest", pwa.manifest, name="pwa_manifest"),
    path("sw.js", pwa.service_worker, name="pwa_service_worker"),
    path("favicon.ico", pwa.favicon, name="favicon"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("nexus.api_urls")),
    # Not under /mpesa/: Safaricom refuses callback URLs containing that word.
    path("payments/", include("mpesa.urls")),
    # A listing's iCal feed for Airbnb, Booking.com...: the token is the secret (listings.calendar).
    path("calendar/<str:token>.ics", calendar_views.calendar_export, name="calendar_export"),
    # Ahead of Wagtail's own login view: the same failed-sign-in lock as the site's form.
    path("admin/login/", AdminLoginView.as_view(), name="admin_login"),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
]

if settings.MPESA_ENV == "simulator":
    urlpatterns.append(path("simulator/", include("mpesa.simulator.urls")))

# Images and their renditions are public (the site shows them); documents and anything
# else under MEDIA_ROOT are not served from here (core.views.public_media). ID photos
# live outside MEDIA_ROOT altogether (PRIVATE_MEDIA_ROOT).
urlpatterns.append(path(settings.MEDIA_URL.lstrip("/") + "<path:path>", public_media))

# The guest's site, in two languages (docs/i18n.md): English at these URLs, Kiswahili under
# /sw/. Everything above (API, payment callbacks, admin, feeds, the service worker) has one URL.
urlpatterns += i18n_patterns(
    path("offline/", pwa.offline, name="pwa_offline"),
    path("accounts/", include("accounts.urls")),
    path("bookings/", include("reservations.urls")),
    # The booking page's pay form and live status: the payments app's, under the booking's path.
    path("bookings/", include("mpesa.site_urls")),
    # The link in a co-guest invitation email (reservations.invitations).
    path("invitations/<str:token>/", reservation_views.invitation_accept, name="invitation_accept"),
    path("", include(wagtail_urls)),  # last: Wagtail's pages match any path
    prefix_default_language=False,
)
