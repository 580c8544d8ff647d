"""Throttles key on the real client address, and sign-in forms are throttled (docs/security.md).

Without NUM_PROXIES, DRF keys an anonymous throttle on the whole X-Forwarded-For header,
which the client writes: a new value per request escapes the throttle. Password guessing
through the HTML login forms and the token endpoint is counted per account and per
address in the cache, and refused while locked even with the right password.
"""

import time

import pytest
from django.core.cache import cache
from django.test import Client, RequestFactory
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from core.throttling import client_ip
from tests.factories import DEFAULT_PASSWORD, StaffFactory, UserFactory

TOKEN_URL = "/api/auth/token/"
LOGIN_URL = "/accounts/login/"
ADMIN_LOGIN_URL = "/admin/login/"
LOCKED_MESSAGE = "Too many failed sign-in attempts. Try again in 15 minutes."


@pytest.fixture(autouse=True)
def fresh_counters(settings):
    settings.LOGIN_FAILURE_LIMIT = 10
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 900
    cache.clear()
    yield
    cache.clear()


def _with_proxies(settings, count: int) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": count}


# --- The client address ----------------------------------------------------------------


def test_without_a_proxy_x_forwarded_for_is_ignored(settings):
    _with_proxies(settings, 0)
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.4", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert client_ip(request) == "198.51.100.4"


def test_behind_one_proxy_the_address_it_appended_is_the_client(settings):
    _with_proxies(settings, 1)
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 7.7.7.7 , 203.0.113.9"
    )
    assert client_ip(request) == "203.0.113.9"
    # A request that reached us without passing the proxy has no header to read.
    assert client_ip(RequestFactory().get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"


def test_base_settings_trust_no_proxy_unless_told():
    from nexus.settings import base

    assert base.REST_FRAMEWORK["NUM_PROXIES"] == base.NUM_PROXIES


@pytest.mark.django_db
def test_rotating_x_forwarded_for_does_not_escape_the_auth_throttle(monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "auth": "3/min"})
    client = APIClient()
    answers = [
        client.post(TOKEN_URL, {"email": "x@example.com", "password": "guess"}, format="json",
                    HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(5)
    ]
    assert answers[:3] == [400, 400, 400]
    assert answers[3:] == [429, 429]


@pytest.mark.django_db
def test_behind_one_proxy_the_throttle_keys_on_the_appended_address(settings, monkeypatch):
    _with_proxies(settings, 1)
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "auth": "3/min"})
    client = APIClient()

    def attempt(forwarded: str) -> int:
        body = {"email": "x@example.com", "password": "guess"}
        return client.post(TOKEN_URL, body, format="json", HTTP_X_FORWARDED_FOR=forwarded).status_code

    # The forged first hops change every time; the address the proxy appended does not.
    assert [attempt(f"192.0.2.{n}, 203.0.113.9") for n in range(4)] == [400, 400, 400, 429]
    # Another real client behind the same proxy is not throttled by the first one.
    assert attempt("192.0.2.1, 203.0.113.10") == 400


@pytest.mark.django_db
def test_callback_ip_allow_list_uses_the_same_client_address(settings):
    settings.MPESA_CALLBACK_TOKEN = "throttle-test-token-0123456789abcdef"
    settings.MPESA_ALLOWED_CALLBACK_IPS = ["196.201.214.200"]
    url = f"/payments/callback/{settings.MPESA_CALLBACK_TOKEN}/"
    client = Client()
    _with_proxies(settings, 1)
    # Forging Safaricom's address in front of the real one does not pass the list ...
    forged = client.post(url, data=b"{}", content_type="application/json",
                         HTTP_X_FORWARDED_FOR="196.201.214.200, 203.0.113.9")
    assert forged.status_code == 404
    # ... the address our proxy appended does (the body is then judged: not a callback).
    real = client.post(url, data=b"{}", content_type="application/json",
                       HTTP_X_FORWARDED_FOR="203.0.113.9, 196.201.214.200")
    assert real.status_code == 400
    _with_proxies(settings, 0)
    direct = client.post(url, data=b"{}", content_type="application/json",
                         HTTP_X_FORWARDED_FOR="203.0.113.9, 196.201.214.200")
    assert direct.status_code == 404


# --- Sign-in forms ---------------------------------------------------------------------------


def _site_login(client, email, password, ip="198.51.100.1"):
    return client.post(LOGIN_URL, {"email": email, "password": password}, REMOTE_ADDR=ip)


def _admin_login(client, email, password, ip="198.51.100.1"):
    return client.post(ADMIN_LOGIN_URL, {"username": email, "password": password}, REMOTE_ADDR=ip)


def _assert_locked(response, client):
    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_site_login_locks_an_account_after_ten_wrong_passwords_from_any_address():
    user = UserFactory(email="wanjiru@example.com")
    client = Client()
    for n in range(10):
        # A new address each time and the email's case varied: still one account.
        email = user.email.upper() if n % 2 else user.email
        assert _site_login(client, email, f"wrong-{n}", ip=f"198.51.100.{n + 1}").status_code == 200
    locked = _site_login(client, user.email, DEFAULT_PASSWORD, ip="203.0.113.50")
    _assert_locked(locked, client)
    # The form is shown again, with the email kept.
    assert 'value="wanjiru@example.com"' in locked.content.decode()
    # Another account is not affected.
    assert _site_login(client, UserFactory().email, DEFAULT_PASSWORD, ip="203.0.113.50").status_code == 302


@pytest.mark.django_db
def test_site_login_locks_an_address_after_ten_wrong_passwords_for_any_accounts():
    victim = UserFactory()
    client = Client()
    for n in range(10):
        assert _site_login(client, f"guess{n}@example.com", "wrong", ip="198.51.100.7").status_code == 200
    _assert_locked(_site_login(client, victim.email, DEFAULT_PASSWORD, ip="198.51.100.7"), client)
    # The account itself is not locked: from another address it signs in.
    assert _site_login(Client(), victim.email, DEFAULT_PASSWORD, ip="198.51.100.8").status_code == 302


@pytest.mark.django_db
def test_signing_into_an_own_account_does_not_reset_the_address_counter():
    attacker, victim = UserFactory(), UserFactory()
    client = Client()
    for n in range(9):
        _site_login(client, victim.email if n % 2 else f"guess{n}@example.com", "wrong", ip="198.51.100.9")
    assert _site_login(client, attacker.email, DEFAULT_PASSWORD, ip="198.51.100.9").status_code == 302
    client = Client()
    assert _site_login(client, "guess-last@example.com", "wrong", ip="198.51.100.9").status_code == 200
    _assert_locked(_site_login(client, victim.email, DEFAULT_PASSWORD, ip="198.51.100.9"), client)


@pytest.mark.django_db
def test_nine_wrong_passwords_still_let_the_owner_in():
    user = UserFactory()
    client = Client()
    for n in range(9):
        _site_login(client, user.email, "wrong", ip=f"198.51.100.{n + 1}")
    assert _site_login(client, user.email, DEFAULT_PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_lock_ends_when_the_window_has_passed(settings):
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 1
    user = UserFactory()
    client = Client()
    for n in range(10):
        _site_login(client, user.email, "wrong", ip=f"198.51.100.{n + 1}")
    assert _site_login(client, user.email, DEFAULT_PASSWORD).status_code == 429
    time.sleep(1.5)
    assert _site_login(client, user.email, DEFAULT_PASSWORD).status_code == 302


@pytest.mark.django_db
def test_wagtail_admin_login_locks_an_account_after_ten_wrong_passwords(site_tree):
    staff = StaffFactory()
    client = Client()
    for n in range(10):
        response = _admin_login(client, staff.email, f"wrong-{n}", ip=f"198.51.100.{n + 1}")
        assert response.status_code == 200
    _assert_locked(_admin_login(client, staff.email, DEFAULT_PASSWORD, ip="203.0.113.60"), client)
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_wagtail_admin_login_locks_an_address(site_tree):
    staff = StaffFactory()
    client = Client()
    for n in range(10):
        _admin_login(client, f"guess{n}@example.com", "wrong", ip="198.51.100.70")
    _assert_locked(_admin_login(client, staff.email, DEFAULT_PASSWORD, ip="198.51.100.70"), client)


@pytest.mark.django_db
def test_site_and_admin_forms_and_the_token_api_share_one_account_counter(site_tree):
    staff = StaffFactory()
    for n in range(4):
        _site_login(Client(), staff.email, "wrong", ip=f"198.51.100.{n + 1}")
    for n in range(3):
        _admin_login(Client(), staff.email, "wrong", ip=f"198.51.100.{n + 20}")
    for n in range(3):
        APIClient().post(TOKEN_URL, {"email": staff.email, "password": "wrong"}, format="json",
                         REMOTE_ADDR=f"198.51.100.{n + 40}")
    _assert_locked(_admin_login(Client(), staff.email, DEFAULT_PASSWORD, ip="203.0.113.61"), Client())


@pytest.mark.django_db
def test_token_api_counts_failures_per_account_and_refuses_while_locked():
    user = UserFactory()
    client = APIClient()
    for n in range(10):
        response = client.post(TOKEN_URL, {"email": user.email, "password": "wrong"}, format="json",
                               REMOTE_ADDR=f"198.51.100.{n + 1}")
        assert response.status_code == 400
    locked = client.post(TOKEN_URL, {"email": user.email.upper(), "password": DEFAULT_PASSWORD}, format="json",
                         REMOTE_ADDR="203.0.113.70")
    assert locked.status_code == 429
    assert locked.json() == {"detail": LOCKED_MESSAGE, "code": "login_locked"}
    assert "token" not in locked.json()
