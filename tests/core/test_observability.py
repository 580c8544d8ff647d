"""Logs, request ids, Sentry and setup_site (docs/operations.md).

The log tests read what the real LOGGING configuration writes: the console handler's stream
is swapped for a buffer, so every line is the JSON a production log collector would get.
"""

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from wagtail.models import Page, Site

from core.logging import JsonFormatter
from core.sentry import before_send, scrub_text
from listings.site_setup import ensure_site_tree, site_address_apply, site_address_from_url
from mpesa.models import Payment
from tests.callbacks import stk_success_body
from tests.factories import StaffFactory, make_booking, make_payment, make_property

TOKEN = "observability-token-0123456789abcdef"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def log_lines():
    """The JSON lines the configured console handler writes during the test."""
    root = logging.getLogger()
    handler = next(h for h in root.handlers if isinstance(h.formatter, JsonFormatter))
    buffer = io.StringIO()
    previous_stream, previous_level = handler.setStream(buffer), root.level
    root.setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    lines.raw = buffer.getvalue
    yield lines
    handler.setStream(previous_stream)
    root.setLevel(previous_level)


@pytest.fixture
def callback(settings):
    settings.MPESA_CALLBACK_TOKEN = TOKEN
    client = Client(raise_request_exception=False)

    def post(body, **headers):
        return client.post(
            f"/payments/callback/{TOKEN}/", data=json.dumps(body), content_type="application/json", headers=headers
        )

    return post


# --- request ids ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_line_of_a_request_carries_the_id_of_its_response_header(callback, log_lines):
    response = callback({"Body": {"stkCallback": {"ResultCode": "nonsense"}}})

    assert response.status_code == 400
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    lines = log_lines()
    refused = [line for line in lines if line["message"].startswith("callback refused")]
    bad_request = [line for line in lines if line["logger"] == "django.request"]
    assert refused and bad_request  # the view's own line, and Django's after the middleware returned
    assert {line["request_id"] for line in refused + bad_request} == {request_id}
    assert all(line["level"] and line["timestamp"] for line in lines)


@pytest.mark.django_db
def test_a_well_formed_proxy_id_is_kept_and_a_malformed_one_replaced(client):
    kept = client.get("/healthz", headers={"X-Request-ID": "f3b2a9c1-7d4e-4a8b-9c1d-2e3f4a5b6c7d"})
    assert kept["X-Request-ID"] == "f3b2a9c1-7d4e-4a8b-9c1d-2e3f4a5b6c7d"

    for forged in ('x" level="CRITICAL', "short", "a" * 200, "id\u00e9-1234567"):
        replaced = client.get("/healthz", headers={"X-Request-ID": forged})
        assert replaced["X-Request-ID"] != forged
        assert len(replaced["X-Request-ID"]) == 32
    # Each request gets its own.
    assert client.get("/healthz")["X-Request-ID"] != client.get("/healthz")["X-Request-ID"]


# --- money lines -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_callback_traces_from_the_request_to_the_settled_payment(callback, log_lines):
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    payment = make_payment(booking=booking, status="PENDING", amount=4000)

    response = callback(stk_success_body(payment.checkout_request_id, amount=4000), **{"X-Request-ID": "render-req-0001"})

    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCESS
    succeeded = [line for line in log_lines() if line["message"].startswith("payment succeeded")]
    assert len(succeeded) == 1
    line = succeeded[0]
    assert line["payment_id"] == payment.pk
    assert line["checkout_request_id"] == payment.checkout_request_id
    assert line["booking_reference"] == booking.reference
    assert line["booking_id"] == booking.pk
    # The task that applied the callback ran under the request's id plus its own.
    assert line["request_id"].startswith("render-req-0001/task-")


@pytest.mark.django_db
def test_a_repeat_callback_line_carries_the_checkout_request_id(callback, log_lines):
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    payment = make_payment(booking=booking, status="PENDING", amount=4000)
    body = stk_success_body(payment.checkout_request_id, amount=4000)
    callback(body)
    callback(body)

    repeat = [line for line in log_lines() if line["message"].startswith("repeat callback counted")]
    assert len(repeat) == 1
    assert repeat[0]["checkout_request_id"] == payment.checkout_request_id
    assert repeat[0]["record_id"]


# --- the callback token ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_callback_token_never_reaches_a_log_line(callback, log_lines, settings):
    callback({"not": "a callback"})
    Client(raise_request_exception=False).get(f"/payments/callback/{TOKEN}/does-not-exist")
    logging.getLogger("mpesa").warning("path was %s", f"/payments/callback/{TOKEN}/")
    try:
        raise ValueError(f"failed on /payments/result/{TOKEN}/")
    except ValueError:
        logging.getLogger("mpesa").exception("with a traceback")

    text = log_lines.raw()
    assert "/payments/callback/***/" in text
    assert "/payments/result/***/" in text
    assert TOKEN not in text
    assert len(log_lines()) >= 4


def test_gunicorn_access_lines_are_json_with_the_apps_request_id_and_no_token(monkeypatch):
    from gunicorn.config import Config

    from core.gunicorn_logging import MaskingLogger

    monkeypatch.setenv("LOG_FORMAT", "json")
    config = Config()
    config.set("accesslog", "-")
    logger = MaskingLogger(config)
    buffer = io.StringIO()
    handler = next(h for h in logger.access_log.handlers if getattr(h, "_gunicorn", False))
    handler.setStream(buffer)

    class Response:
        status = "200 OK"
        status_code = 200
        response_length = 27
        sent = 27
        headers = [("Content-Type", "application/json"), ("X-Request-ID", "abc123def456")]

    class Request:
        method = "POST"
        path = f"/payments/callback/{TOKEN}/"
        query = ""
        uri = path
        version = (1, 1)
        headers = []

    environ = {
        "REMOTE_ADDR": "10.0.0.1",
        "REQUEST_METHOD": "POST",
        "RAW_URI": Request.path,
        "PATH_INFO": Request.path,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    import datetime as dt

    logger.access(Response(), Request(), environ, dt.timedelta(milliseconds=12))

    line = json.loads(buffer.getvalue().strip())
    assert line["request_id"] == "abc123def456"
    assert line["logger"] == "gunicorn.access"
    assert "/payments/callback/***/" in line["message"]
    assert line["path"] == "/payments/callback/***/"
    assert (line["method"], line["status"], line["duration_ms"]) == ("POST", 200, 12)
    assert TOKEN not in buffer.getvalue()


def test_log_format_json_unless_debug_and_text_keeps_the_request_id_and_masks(monkeypatch, settings):
    from core.logging import TextFormatter, formatter_from_settings, request_id_var

    monkeypatch.delenv("LOG_FORMAT", raising=False)
    settings.DEBUG = False
    assert isinstance(formatter_from_settings(), JsonFormatter)
    settings.DEBUG = True
    assert isinstance(formatter_from_settings(), TextFormatter)
    monkeypatch.setenv("LOG_FORMAT", "json")
    assert isinstance(formatter_from_settings(), JsonFormatter)
    monkeypatch.setenv("LOG_FORMAT", "text")
    formatter = formatter_from_settings()
    assert isinstance(formatter, TextFormatter)

    record = logging.LogRecord("mpesa", logging.INFO, __file__, 1, "posted to %s", (f"/payments/timeout/{TOKEN}/",), None)
    token = request_id_var.set("req-12345678")
    try:
        line = formatter.format(record)
    finally:
        request_id_var.reset(token)
    assert "level=INFO logger=mpesa request_id=req-12345678 posted to /payments/timeout/***/" in line


# --- Sentry -----------------------------------------------------------------------------------


def _sentry_state(extra_env: dict) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "SENTRY_DSN"}
    env.update(DJANGO_SETTINGS_MODULE="nexus.settings.test", **extra_env)
    code = (
        "import json, django; django.setup(); import sentry_sdk; c = sentry_sdk.get_client();"
        "print(json.dumps({'active': c.is_active(), 'integrations': sorted(getattr(c, 'integrations', {})),"
        "'pii': c.options.get('send_default_pii'),"
        "'before_send': getattr(c.options.get('before_send'), '__module__', None)}))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_sentry_starts_only_with_a_dsn():
    off = _sentry_state({})
    assert off["active"] is False

    on = _sentry_state({"SENTRY_DSN": "http://publickey@127.0.0.1:9/1"})
    assert on["active"] is True
    assert {"django", "logging"} <= set(on["integrations"])
    assert on["pii"] is False
    assert on["before_send"] == "core.sentry"


def test_before_send_scrubs_phones_emails_and_the_callback_token(settings):
    settings.MPESA_CALLBACK_TOKEN = TOKEN
    event = {
        "message": "STK for 254712345678 by amina@example.com failed",
        "logentry": {"message": "push to %s", "params": ["+254712345678", "0712345678"]},
        "extra": {"phone": "254112345678", "note": f"token {TOKEN}", "checkout": "ws_CO_191220191020363925"},
        "request": {"url": f"https://nexus.example.com/payments/callback/{TOKEN}/", "method": "POST"},
        "exception": {"values": [{"type": "ValueError", "value": "bad phone +447911123456 for x@y.co.ke"}]},
        "breadcrumbs": {"values": [{"message": "called 0112345678"}]},
    }

    scrubbed = before_send(event, {})

    text = json.dumps(scrubbed)
    for secret in ("254712345678", "0712345678", "254112345678", "447911123456", "amina@example.com",
                   "x@y.co.ke", TOKEN, "0112345678"):
        assert secret not in text
    assert scrubbed["extra"]["checkout"] == "ws_CO_191220191020363925"  # ids stay traceable
    assert scrubbed["request"]["url"] == "https://nexus.example.com/payments/callback/***/"
    assert scrubbed["message"] == "STK for [phone] by [email] failed"
    assert scrub_text("booking NX-7K2Q amount 4000") == "booking NX-7K2Q amount 4000"


# --- setup_site -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://example.com", ("example.com", 443)),
        ("https://example.com/", ("example.com", 443)),
        ("http://127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("http://stays.example.co.ke", ("stays.example.co.ke", 80)),
        ("https://stays.example.com:8443/", ("stays.example.com", 8443)),
    ],
)
def test_site_address_from_the_public_url(url, address):
    assert site_address_from_url(url) == address


@pytest.mark.parametrize("url", ["", "example.com", "ftp://example.com", "https://example.com:99999"])
def test_a_url_that_is_no_origin_is_refused(url):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        site_address_from_url(url)


@pytest.mark.django_db
def test_setup_site_points_the_default_site_at_the_public_host(settings):
    settings.WAGTAILADMIN_BASE_URL = "https://stays.example.com"
    out = io.StringIO()
    call_command("setup_site", stdout=out)
    call_command("setup_site", stdout=out)  # every deploy runs it: idempotent

    site = Site.objects.get(is_default_site=True)
    assert (site.hostname, site.port) == ("stays.example.com", 443)
    assert Site.objects.count() == 1
    assert "unchanged" in out.getvalue().splitlines()[-1]
    assert site.root_page.specific.full_url == "https://stays.example.com/"
    stays = site.root_page.get_children().get(slug="stays")
    assert stays.full_url == "https://stays.example.com/stays/"

    settings.WAGTAILADMIN_BASE_URL = "http://127.0.0.1:8000"
    site, changed = site_address_apply()
    assert changed and (site.hostname, site.port) == ("127.0.0.1", 8000)


@pytest.fixture
def production_like(settings):
    """What production.py sets that decides where previews and links go."""
    settings.ALLOWED_HOSTS = ["stays.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return settings


@pytest.mark.django_db
def test_under_production_settings_the_draft_preview_renders_only_once_the_site_knows_its_address(
    production_like,
):
    home, stays = ensure_site_tree()
    # Before: the Site is localhost:80, the preview's request is plain http and the SSL
    # redirect answers it instead of the page.
    before = Page.objects.get(pk=stays.pk).specific.make_preview_request()
    assert before.status_code == 301

    production_like.WAGTAILADMIN_BASE_URL = "https://stays.example.com"
    call_command("setup_site", stdout=io.StringIO())

    fresh = Page.objects.get(pk=stays.pk).specific  # page instances cache the site root paths
    after = fresh.make_preview_request()
    assert after.status_code == 200
    assert b"Stays" in after.content
    assert fresh.full_url == "https://stays.example.com/stays/"


@pytest.mark.django_db
def test_the_admins_view_live_link_points_at_the_page_on_the_real_host(production_like):
    home, stays = ensure_site_tree()
    production_like.WAGTAILADMIN_BASE_URL = "https://stays.example.com"
    call_command("setup_site", stdout=io.StringIO())
    client = Client()
    client.force_login(StaffFactory(is_superuser=True))

    explorer = client.get(f"/admin/pages/{home.pk}/", headers={"Host": "stays.example.com"}, secure=True)

    assert explorer.status_code == 200
    html = explorer.content.decode()
    # One site: Wagtail links its pages by path, which the browser resolves on the admin's own host.
    view_live = re.findall(r'href="([^"]*)"[^>]*>\s*(?:<[^>]*>\s*)*View live', html)
    assert view_live == ["/stays/"]
    assert "localhost" not in html
