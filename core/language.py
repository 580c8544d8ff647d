"""The site's two languages (docs/i18n.md): English at today's URLs, Kiswahili under /sw/.

`url_in_language` turns a local URL into its twin in another language; the middleware sends a
guest who chose Kiswahili (the language cookie, set by the switch in the header and at log-in)
from an English URL to its /sw/ twin, so links that are written without a prefix (emails,
bookmarks, other pages' plain "/stays/") keep them in their language.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponseRedirect
from django.urls import translate_url
from django.utils.cache import patch_vary_headers
from django.utils.translation import get_language_from_path, override

# Fetched by the service worker when it installs: a redirect there would break its cache.
NEVER_REDIRECTED = ("/offline/",)


def supported_language(code) -> str | None:
    return code if code in dict(settings.LANGUAGES) else None


def url_in_language(url: str, language: str) -> str:
    """`url` (a local path, with or without query) in `language`: "/stays/?q=x" → "/sw/stays/?q=x".

    URLs outside the bilingual part of the site (the admin, the API, payments...) and URLs
    that match no route come back unchanged.
    """
    path = urlsplit(url).path
    source = get_language_from_path(path) or settings.LANGUAGE_CODE
    # translate_url resolves in the active language, so in the language the URL is written in.
    with override(source):
        return translate_url(url, language)


class LanguagePreferenceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        redirect_to = self._twin_in_chosen_language(request)
        if redirect_to:
            response = HttpResponseRedirect(redirect_to)
        else:
            response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        return response

    @staticmethod
    def _twin_in_chosen_language(request) -> str | None:
        if request.method not in ("GET", "HEAD") or request.path_info.startswith(NEVER_REDIRECTED):
            return None
        chosen = supported_language(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
        if not chosen or chosen == settings.LANGUAGE_CODE or get_language_from_path(request.path_info):
            return None
        current = request.get_full_path()
        twin = url_in_language(current, chosen)
        return twin if twin != current else None
