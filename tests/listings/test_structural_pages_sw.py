"""The home page and the stays index in Kiswahili: their title_sw and intro_sw are shown under
/sw/ (heading, intro and the browser tab's <title>), the English site is untouched, and an
empty Kiswahili field falls back to the English one, as a property's description_sw does."""

import re

import pytest
from django.utils import translation

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """A request under /sw/ leaves Kiswahili active in this thread (LocaleMiddleware): each test
    starts and ends in English."""
    translation.activate("en")
    yield
    translation.activate("en")


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()


def _h1(html: str) -> str:
    return re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(0)


def _home():
    from listings.models import HomePage

    return HomePage.objects.get()


def _republish(page, **fields):
    for name, value in fields.items():
        setattr(page, name, value)
    page.save_revision().publish()


def test_the_site_is_set_up_with_kiswahili_titles_and_intros(site_tree):
    home = _home()
    assert (home.title_sw, home.intro_sw) == ("Nexus - malazi kote Kenya", "Malazi kote Kenya, lipa kwa M-Pesa.")
    assert (site_tree.title_sw, site_tree.intro_sw) == ("Malazi", "<p>Mahali pa kukaa kote Kenya.</p>")


def test_the_kiswahili_home_page_shows_its_intro_and_title(client, site_tree):
    html = _html(client.get("/sw/"))
    assert _title(html) == "Nexus - malazi kote Kenya · Nexus"
    assert '<p class="hero-intro" lang="sw">Malazi kote Kenya, lipa kwa M-Pesa.</p>' in html
    assert "Stays across Kenya, paid with M-Pesa." not in html
    assert "stays across Kenya" not in _title(html)


def test_the_kiswahili_stays_page_shows_its_heading_intro_and_title(client, site_tree):
    html = _html(client.get("/sw/stays/"))
    assert _title(html) == "Malazi · Nexus"
    assert _h1(html) == "<h1>Malazi</h1>"
    assert "Mahali pa kukaa kote Kenya." in html
    assert "Places to stay across Kenya." not in html


def test_the_english_pages_are_unchanged(client, site_tree):
    home = _html(client.get("/"))
    assert _title(home) == "Nexus - stays across Kenya · Nexus"
    assert '<p class="hero-intro">Stays across Kenya, paid with M-Pesa.</p>' in home
    assert "malazi kote Kenya" not in home.lower()

    stays = _html(client.get("/stays/"))
    assert _title(stays) == "Stays · Nexus"
    assert _h1(stays) == "<h1>Stays</h1>"
    assert "Places to stay across Kenya." in stays
    assert "Mahali pa kukaa" not in stays and "Malazi · Nexus" not in stays


def test_empty_kiswahili_fields_fall_back_to_the_english_ones(client, site_tree):
    _republish(_home(), title_sw="", intro_sw="")
    _republish(site_tree, title_sw="", intro_sw="")

    home = _html(client.get("/sw/"))
    assert _title(home) == "Nexus - stays across Kenya · Nexus"
    # The English text on a Kiswahili page is marked as English for screen readers.
    assert '<p class="hero-intro" lang="en">Stays across Kenya, paid with M-Pesa.</p>' in home

    stays = _html(client.get("/sw/stays/"))
    assert _title(stays) == "Stays · Nexus"
    assert _h1(stays) == '<h1 lang="en">Stays</h1>'
    assert '<div class="rich-text listing-intro" lang="en"><p>Places to stay across Kenya.</p></div>' in stays


def test_the_kiswahili_fields_sit_next_to_the_english_ones_in_the_admin():
    from listings.models import HomePage, ListingIndexPage

    for model in (HomePage, ListingIndexPage):
        content = model.get_edit_handler().children[0]
        names = [getattr(panel, "field_name", None) for panel in content.children]
        assert names.index("title_sw") == names.index("title") + 1
        assert names.index("intro_sw") == names.index("intro") + 1
