"""The site's two languages (core.language, accounts.views.set_language, docs/i18n.md):
English at today's URLs, Kiswahili under /sw/, a switch that keeps the guest on the same
page, the choice remembered (cookie, and User.language for a signed-in user), and the Wagtail
admin in English whatever the guest chose."""

import re

import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils import translation

from accounts.models import User
from core.language import url_in_language
from tests.factories import DEFAULT_PASSWORD, StaffFactory, UserFactory, make_booking, make_property

pytestmark = pytest.mark.django_db

COOKIE = settings.LANGUAGE_COOKIE_NAME


@pytest.fixture(autouse=True)
def _english_after_each_test():
    # LocaleMiddleware activates the request's language in this thread and leaves it there:
    # without this, a test after a /sw/ request would reverse URLs in Kiswahili.
    yield
    translation.activate(settings.LANGUAGE_CODE)


def _html(response) -> str:
    assert response.status_code == 200, (response.status_code, response.get("Location"))
    return response.content.decode()


def _hrefs(html: str) -> set[str]:
    return set(re.findall(r'href="(/[^"]*)"', html))


# --- URLs -----------------------------------------------------------------------------------


def test_english_stays_unprefixed_and_kiswahili_lives_under_sw(client, site_tree):
    prop = make_property(title="Diani Palm Cottage", town="Diani")
    for path in ("/", "/stays/", prop.url, "/accounts/login/", "/accounts/signup/", "/offline/"):
        english = _html(client.get(path))
        assert '<html lang="en">' in english, path
        kiswahili = _html(client.get("/sw" + path))
        assert '<html lang="sw">' in kiswahili, path
    assert "Ingia" in _html(client.get("/sw/accounts/login/"))
    assert "Jisajili" in _html(client.get("/sw/"))


def test_one_language_urls_have_no_kiswahili_twin(client, site_tree):
    assert client.get("/healthz").status_code == 200
    assert client.get("/sw/healthz", follow=True).status_code == 404
    assert client.get("/manifest.webmanifest").status_code == 200
    assert client.get("/sw/api/me/").status_code == 404
    assert client.get("/sw/payments/").status_code == 404


def test_links_on_a_kiswahili_page_stay_in_kiswahili(client, site_tree):
    english_url = make_property(title="Naivasha Lake House", town="Naivasha").url
    html = _html(client.get("/sw/"))
    hrefs = _hrefs(html)
    assert "/sw/stays/" in hrefs and "/sw/" in hrefs
    assert any(href.startswith("/sw/accounts/login/?next=") for href in hrefs)
    assert "/sw" + english_url in hrefs  # the featured card, through Wagtail's page url
    # Wagtail caches a page's url per request and the site's root paths across requests:
    # the English page right after still links in English.
    english = _hrefs(_html(client.get("/")))
    assert english_url in english and "/sw" + english_url not in english
    # And back again: nothing cached in English leaks onto the Kiswahili page.
    assert "/sw" + english_url in _hrefs(_html(client.get("/sw/stays/")))
    assert "/sw" + english_url in _hrefs(_html(client.get("/sw/")))


def test_a_signed_in_guest_s_menu_links_stay_in_kiswahili(client, site_tree):
    guest = UserFactory()
    client.force_login(guest)
    hrefs = _hrefs(_html(client.get("/sw/bookings/")))
    assert {"/sw/bookings/", "/sw/accounts/account/", "/sw/stays/"} <= hrefs


def test_url_in_language_translates_site_urls_and_leaves_the_rest():
    assert url_in_language("/stays/?location=Diani", "sw") == "/sw/stays/?location=Diani"
    assert url_in_language("/sw/stays/?location=Diani", "en") == "/stays/?location=Diani"
    assert url_in_language("/sw/", "en") == "/"
    assert url_in_language("/", "sw") == "/sw/"
    assert url_in_language("/accounts/login/?next=/stays/", "sw") == "/sw/accounts/login/?next=/stays/"
    for path in ("/admin/", "/api/me/", "/healthz", "/sw.js"):
        assert url_in_language(path, "sw") == path


# --- Money and dates --------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "sw"])
def test_money_reads_kes_with_commas_in_both_languages(language):
    template = Template('{% load humanize money %}KES {{ amount|intcomma }}|{{ amount|kes }}|{{ big|kes }}|{{ bad|kes }}')
    with translation.override(language):
        rendered = template.render(Context({"amount": 10800, "big": 1234567.6, "bad": "x"}))
    assert rendered == "KES 10,800|KES 10,800|KES 1,234,568|"


def test_dates_use_kiswahili_month_and_day_names():
    import datetime as dt

    template = Template('{{ day|date:"D j M Y" }}')
    with translation.override("sw"):
        assert template.render(Context({"day": dt.date(2026, 10, 5)})) == "Jtatu 5 Okt 2026"
    with translation.override("en"):
        assert template.render(Context({"day": dt.date(2026, 10, 5)})) == "Mon 5 Oct 2026"


# --- The switch -------------------------------------------------------------------------------


def test_switching_to_kiswahili_goes_to_the_same_page_and_is_remembered(client, site_tree):
    response = client.post("/accounts/language/", {"language": "sw", "next": "/stays/?location=Diani"})
    assert response.status_code == 302
    assert response["Location"] == "/sw/stays/?location=Diani"
    assert response.cookies[COOKIE].value == "sw"
    # Remembered: an English URL (an old link, a bookmark) now opens its Kiswahili twin.
    again = client.get("/stays/?location=Diani")
    assert again.status_code == 302 and again["Location"] == "/sw/stays/?location=Diani"
    assert '<html lang="sw">' in _html(client.get(again["Location"]))
    # ...but not the one-language parts of the site, nor the service worker's offline page.
    assert client.get("/healthz").status_code == 200
    assert client.get("/offline/").status_code == 200

    back = client.post("/sw/accounts/language/", {"language": "en", "next": "/sw/stays/?location=Diani"})
    assert back["Location"] == "/stays/?location=Diani"
    assert back.cookies[COOKIE].value == "en"
    assert '<html lang="en">' in _html(client.get("/stays/?location=Diani"))


def test_the_header_switch_posts_the_current_page(client, site_tree):
    html = _html(client.get("/stays/?location=Diani"))
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*data-language-switch>(.*?)</form>', html, re.S)
    assert form and form.group(1) == "/accounts/language/"
    assert 'name="next" value="/stays/?location=Diani"' in form.group(2)
    assert 'name="language" value="sw"' in form.group(2) and 'lang="sw"' in form.group(2)
    sw_form = re.search(r"data-language-switch>(.*?)</form>", _html(client.get("/sw/")), re.S).group(1)
    assert 'name="language" value="en"' in sw_form


def test_switching_while_signed_in_saves_the_language_in_the_profile(client, site_tree):
    guest = UserFactory()
    client.force_login(guest)
    response = client.post("/accounts/language/", {"language": "sw", "next": "/accounts/account/"})
    assert response["Location"] == "/sw/accounts/account/"
    guest.refresh_from_db()
    assert guest.language == "sw"
    html = _html(client.get("/sw/accounts/account/"))
    assert "Akaunti yako" in html
    assert re.search(r'<input type="radio" name="language" value="sw"[^>]*checked', html)


@pytest.mark.parametrize("data", [{"language": "fr"}, {"language": ""}, {}, {"language": "sw'><script>"}])
def test_an_unknown_language_is_a_400(client, site_tree, data):
    response = client.post("/accounts/language/", {**data, "next": "/stays/"})
    assert response.status_code == 400
    assert b"Choose English or Kiswahili." in response.content
    assert COOKIE not in response.cookies


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/sw/", "/\\evil.example", "javascript:alert(1)", ""]
)
def test_the_switch_never_redirects_off_the_site(client, site_tree, next_url):
    response = client.post("/accounts/language/", {"language": "sw", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == "/sw/"


def test_the_switch_only_takes_a_post(client, site_tree):
    assert client.get("/accounts/language/?language=sw&next=/").status_code == 405


def test_the_api_profile_shows_and_sets_the_language(api_client, guest):
    api_client.force_authenticate(guest)
    assert api_client.get("/api/me/").json()["language"] == "en"
    response = api_client.patch("/api/me/", {"language": "sw"}, format="json")
    assert response.status_code == 200 and response.json()["language"] == "sw"
    guest.refresh_from_db()
    assert guest.language == "sw"
    bad = api_client.patch("/api/me/", {"language": "fr"}, format="json")
    assert bad.status_code == 400 and "language" in str(bad.json())


# --- Log-in and sign-up -----------------------------------------------------------------------


def test_login_follows_the_saved_language(client, site_tree):
    guest = UserFactory(language="sw")
    response = client.post(
        "/accounts/login/", {"email": guest.email, "password": DEFAULT_PASSWORD, "next": "/stays/?location=Diani"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/sw/stays/?location=Diani"
    assert response.cookies[COOKIE].value == "sw"


def test_login_of_an_english_speaker_from_a_kiswahili_page_goes_english(client, site_tree):
    guest = UserFactory(language="en")
    response = client.post(
        "/sw/accounts/login/", {"email": guest.email, "password": DEFAULT_PASSWORD, "next": "/sw/bookings/"}
    )
    assert response["Location"] == "/bookings/"
    assert response.cookies[COOKIE].value == "en"


def test_signing_up_on_the_kiswahili_site_saves_kiswahili(client, site_tree):
    response = client.post(
        "/sw/accounts/signup/",
        {
            "name": "Amani Wanjiru",
            "email": "amani@example.com",
            "phone_number": "0712 345 678",
            "password": "Mombasa-Raha-2026",
            "next": "/sw/stays/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/sw/stays/"
    assert User.objects.get(email="amani@example.com").language == "sw"
    assert "Karibu Nexus, Amani." in _html(client.get("/sw/stays/"))


def test_kiswahili_form_errors_are_translated_and_linked(client, site_tree):
    html = _html(client.post("/sw/accounts/signup/", {"name": "", "email": "x", "phone_number": "123", "password": ""}))
    assert "Tafadhali rekebisha makosa yaliyo hapa chini." in html
    assert "Weka nambari ya simu ya Kenya" in html
    for field in ("name", "email", "phone_number", "password"):
        assert f'id="id_{field}_error"' in html
        assert re.search(rf'<input[^>]*aria-invalid="true"[^>]*aria-describedby="[^"]*id_{field}_error[^"]*"', html)
    # The phone's help text is named by the field's aria-describedby and exists.
    assert 'aria-describedby="id_phone_number_helptext id_phone_number_error"' in html
    assert 'id="id_phone_number_helptext"' in html


def test_a_wrong_password_is_announced_and_linked_to_both_fields(client, site_tree):
    guest = UserFactory()
    html = _html(client.post("/sw/accounts/login/", {"email": guest.email, "password": "wrong-password"}))
    assert re.search(r'<div class="form-errors error-summary" id="login-errors" role="alert"', html)
    assert "Barua pepe na nenosiri hivyo havilingani na akaunti yoyote." in html
    for field in ("email", "password"):
        tag = re.search(rf'<input[^>]*id="id_{field}"[^>]*>', html).group(0)
        assert 'aria-invalid="true"' in tag and 'aria-describedby="login-errors"' in tag


def test_the_header_links_on_the_login_page_carry_its_next_on(client, site_tree):
    html = _html(client.get("/accounts/login/?next=/bookings/7/"))
    header = html.split('<main id="main"', 1)[0]
    assert 'href="/accounts/signup/?next=/bookings/7/"' in header
    assert "next=/accounts/login/" not in header and "next=%2Faccounts%2Flogin" not in header
    signup = _html(client.get("/sw/accounts/signup/?next=/sw/stays/"))
    assert 'href="/sw/accounts/login/?next=/sw/stays/"' in signup.split('<main id="main"', 1)[0]
    # Without a `next`, the header's links lead home afterwards (not back to this form).
    plain = _html(client.get("/sw/accounts/login/")).split('<main id="main"', 1)[0]
    assert 'href="/sw/accounts/signup/?next=/sw/"' in plain


def test_signed_in_users_skip_the_login_and_signup_pages(client, site_tree):
    guest = UserFactory()
    client.force_login(guest)
    for path in ("/accounts/login/", "/accounts/signup/"):
        response = client.get(path + "?next=/bookings/")
        assert response.status_code == 302 and response["Location"] == "/bookings/"
    assert client.get("/sw/accounts/login/")["Location"] == "/sw/"
    assert client.get("/accounts/login/?next=https://evil.example/")["Location"] == "/"


# --- Pages in Kiswahili -------------------------------------------------------------------------


def test_my_bookings_in_kiswahili_shows_money_and_nights(client, site_tree):
    booking = make_booking(property=make_property(price_per_night=5400), nights=2, status="PENDING")
    client.force_login(booking.primary_guest)
    html = _html(client.get("/sw/bookings/"))
    assert "Uhifadhi wangu" in html and "Malazi yajayo" in html
    assert "usiku 2" in html and "KES 10,800" in html
    assert f'href="/sw/bookings/{booking.pk}/"' in html


def test_the_404_page_is_in_the_guest_s_language(client, site_tree):
    response = client.get("/sw/hakuna-ukurasa-huu/")
    assert response.status_code == 404
    html = response.content.decode()
    assert '<html lang="sw">' in html and "Hatukuweza kupata ukurasa huo" in html
    assert 'href="/sw/stays/"' in html


# --- The admin stays English ---------------------------------------------------------------------


def test_the_admin_stays_english_for_a_guest_who_chose_kiswahili(client, site_tree):
    staff = StaffFactory(language="sw")
    client.cookies[COOKIE] = "sw"
    login_page = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="sw")
    assert login_page.status_code == 200
    assert '<html lang="en"' in login_page.content.decode()
    client.force_login(staff)
    dashboard = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="sw")
    assert dashboard.status_code == 200
    html = dashboard.content.decode()
    assert '<html lang="en"' in html
    assert "Uhifadhi wangu" not in html and "Ingia" not in html
    # The language the site uses for this user is not the admin's: the admin offers English only.
    assert dict(settings.WAGTAILADMIN_PERMITTED_LANGUAGES) == {"en": "English"}
