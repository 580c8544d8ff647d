"""The installable web app's files (core/pwa.py): manifest, service worker, offline page, favicon."""

import json

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client


def _exists(client, url: str) -> bool:
    """A static file (the test client does not serve them) or a page."""
    if url.startswith(settings.STATIC_URL):
        return finders.find(url[len(settings.STATIC_URL) :]) is not None
    return client.get(url).status_code == 200


@pytest.fixture
def client():
    return Client()


@pytest.mark.django_db
def test_the_manifest_has_what_installability_needs(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["display"] == "standalone"
    assert manifest["start_url"].startswith("/") and manifest["scope"] == "/"
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        assert _exists(client, icon["src"]), icon["src"]


@pytest.mark.django_db
def test_the_service_worker_is_served_from_the_root_and_never_cached(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "no-cache"
    source = response.content.decode()
    # The shell it caches exists, and it names the offline page.
    shell = json.loads(source.split("const SHELL_URLS = ", 1)[1].split(";", 1)[0])
    assert "/offline/" in shell
    for url in shell:
        assert _exists(client, url), url
    assert "{%" not in source and "{{" not in source


@pytest.mark.django_db
def test_the_offline_page_does_not_say_who_is_signed_in(client, guest):
    client.force_login(guest)
    response = client.get("/offline/")
    assert response.status_code == 200
    assert b"You're offline" in response.content
    assert b'data-signed-in="unknown"' in response.content
    assert guest.email.encode() not in response.content


@pytest.mark.django_db
def test_favicon_ico_is_an_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # the ICO header


@pytest.mark.django_db
def test_every_page_links_the_manifest_and_the_icons(client):
    html = client.get("/offline/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert 'rel="apple-touch-icon"' in html and "js/pwa.js" in html


@pytest.mark.django_db
def test_pages_are_compressed_and_json_is_not(client):
    page = client.get("/offline/", HTTP_ACCEPT_ENCODING="gzip")
    assert page["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in page["Vary"]
    manifest = client.get("/manifest.webmanifest", HTTP_ACCEPT_ENCODING="gzip")
    assert not manifest.has_header("Content-Encoding")


@pytest.mark.django_db
def test_the_logo_link_is_named_by_its_visible_text_and_the_focus_ring_is_dark(client):
    """Accessibility: a link's accessible name must contain its visible text (WCAG 2.5.3), and
    the focus ring must stand out 3:1 from the white page (WCAG 2.4.13)."""
    html = client.get("/offline/").content.decode()
    assert '<a class="brand" href="/"><span class="brand-mark" aria-hidden="true">N</span>Nexus</a>' in html
    css = open(finders.find("css/site.css"), encoding="utf-8").read()
    assert ":focus-visible { outline:3px solid #0b3d91;" in css


@pytest.mark.django_db
def test_the_virtual_phone_number_box_has_a_visible_label(client):
    html = client.get("/simulator/phone/").content.decode()
    assert '<label for="msisdn" class="muted">Phone number</label>' in html
