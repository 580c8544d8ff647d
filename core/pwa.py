"""The site as an installable web app (docs/pwa.md): manifest, service worker,
offline page and favicon.

The service worker is served from the site's root (/sw.js), not from /static/, because a
worker controls only the paths under its own URL and it must see every page. It is a
template so that it names the static files by their hashed URLs: a new release changes its
bytes, which is what makes browsers install the new worker and drop the old shell.
"""

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

APP_NAME = "Nexus stays"
SHORT_NAME = "Nexus"
THEME_COLOR = "#0b7a4b"
BACKGROUND_COLOR = "#fafaf7"
# What the worker caches when it installs: enough to draw the offline page and a cached
# "My bookings" page with their styles.
SHELL_STATIC = ("css/site.css", "js/pwa.js", "icons/icon-192.png", "icons/favicon.ico")


@require_GET
@cache_control(max_age=3600, public=True)
def manifest(request):
    """The web app manifest: what Chromium's installability check and a phone's "Add to
    Home screen" read."""
    data = {
        "name": APP_NAME,
        "short_name": SHORT_NAME,
        "description": "Stays across Kenya, booked in minutes and paid with M-Pesa.",
        "id": "/",
        "start_url": "/?source=pwa",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "lang": "en",
        "icons": [
            {"src": static("icons/icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": static("icons/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {
                "src": static("icons/icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
        "shortcuts": [{"name": "My bookings", "url": "/bookings/"}],
    }
    return JsonResponse(data, content_type="application/manifest+json", json_dumps_params={"indent": 1})


@lru_cache(maxsize=1)
def _service_worker_source() -> str:
    # The offline page in both languages: English unprefixed, Kiswahili under /sw/.
    shell = ["/offline/", "/sw/offline/", *(static(name) for name in SHELL_STATIC)]
    version = hashlib.sha256("\n".join(shell).encode()).hexdigest()[:12]
    return render_to_string("pwa/sw.js", {"shell_urls_json": json.dumps(shell), "version": version})


@require_GET
def service_worker(request):
    """/sw.js: never cached by HTTP, so a release reaches browsers on their next visit."""
    response = HttpResponse(_service_worker_source(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/"
    return response


@require_GET
@cache_control(max_age=3600, public=True)
def offline(request):
    """What the worker shows for a page it cannot fetch and has not kept."""
    return render(request, "pwa/offline.html")


@require_GET
@cache_control(max_age=86400, public=True)
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page's <link> says."""
    path = finders.find("icons/favicon.ico") or (Path(settings.STATIC_ROOT or "") / "icons" / "favicon.ico")
    if not path or not Path(path).is_file():
        raise Http404("No favicon.")
    return FileResponse(open(path, "rb"), content_type="image/x-icon")
