"""The property page as the server sends it: WebP photos sized for a phone and a laptop, the
main photo loaded first, fragments cached per language, the Kiswahili description, the map's
data, the calendar's day names, linked field errors and no deposit wording at 100 %."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import translation

from listings import page_context
from tests.factories import add_gallery, future_date, make_booking, make_image, make_property

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """A request under /sw/ leaves Kiswahili active in this thread (LocaleMiddleware), and page.url
    follows the active language: each test starts and ends in English."""
    translation.activate("en")
    yield
    translation.activate("en")


def _sw(url: str) -> str:
    return "/sw" + url


def _big_gallery(page, count: int):
    """Photos as large as an owner's (1600 px): Wagtail never enlarges, so tiny ones would give tiny renditions."""
    from listings.models import PropertyGalleryImage

    page.gallery_images = [
        PropertyGalleryImage(image=make_image(title=f"Photo {n}", size=(1600, 1066)), caption=f"Photo {n}", sort_order=n)
        for n in range(count)
    ]
    page.save_revision(user=page.owner).publish()
    page.refresh_from_db()
    return page


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _head(html: str) -> str:
    return html.split("</head>", 1)[0]


def test_gallery_photos_are_webp_in_three_widths_and_only_the_first_is_eager(client, site_tree):
    prop = _big_gallery(make_property(title="Nanyuki Cabin"), count=3)
    html = _html(client.get(prop.url))

    images = re.findall(r"<img [^>]*>", html.split('id="gallery"', 1)[1].split("</section>", 1)[0])
    assert len(images) == 3
    for img in images:
        srcset = re.search(r'srcset="([^"]+)"', img).group(1)
        candidates = [part.strip().split(" ") for part in srcset.split(",")]
        assert [width for _, width in candidates] == ["480w", "960w", "1440w"]
        assert all(url.endswith(".webp") for url, _ in candidates), srcset
        assert re.search(r'width="\d+"', img) and re.search(r'height="\d+"', img)
        assert 'sizes="(max-width: 759px) 88vw' in img
    main, *others = images
    assert 'fetchpriority="high"' in main and 'loading="eager"' in main
    assert all('loading="lazy"' in img and "fetchpriority" not in img for img in others)
    # Each photo links to its largest WebP: the lightbox opens it (and so does a browser without JS).
    links = re.findall(r'<a class="gallery-link" href="([^"]+)"', html)
    assert len(links) == 3 and all(".fill-1440x960.format-webp" in link and link.endswith(".webp") for link in links)
    assert 'id="lightbox"' in html and "Show all 3 photos" in html


def test_gallery_renditions_are_prefetched_with_the_page(site_tree, django_assert_max_num_queries):
    prop = add_gallery(make_property(title="Prefetch House"), count=4)
    from django.template.loader import render_to_string

    gallery = page_context._property_gallery(prop)
    render_to_string("listings/includes/gallery.html", {"gallery": gallery})  # renditions made once
    gallery = page_context._property_gallery(prop)
    assert {r.filter_spec for r in gallery[0].image.renditions.all()} == set(page_context.GALLERY_SPECS)
    with django_assert_max_num_queries(0):
        render_to_string("listings/includes/gallery.html", {"gallery": gallery})


def test_property_fragments_are_cached_per_language(client, site_tree):
    prop = make_property(title="Two Tongues", description="<p>A quiet house.</p>")
    cache.clear()
    keys = []
    real_get_many = page_context.cache.get_many

    def spy(names):
        keys.extend(names)
        return real_get_many(names)

    page_context.cache.get_many = spy
    try:
        english = _html(client.get(prop.url))
        swahili = _html(client.get(_sw(prop.url)))
    finally:
        page_context.cache.get_many = real_get_many
    assert any(key.endswith(":en:top") for key in keys) and any(key.endswith(":sw:top") for key in keys)
    assert {key.rsplit(":", 2)[-2] for key in keys if key.endswith(":details")} == {"en", "sw"}
    assert any(key.endswith(":sw") and ":calendar:" in key for key in keys)
    # The cached English fragments are not served on the Kiswahili page, and the other way round.
    assert "About this place" in english
    assert '<html lang="sw"' in swahili or 'lang="sw"' in swahili


def test_description_sw_is_shown_on_the_kiswahili_page_only_when_there_is_one(client, site_tree):
    prop = make_property(title="Lamu House", description="<p>An old stone house.</p>", description_sw="<p>Nyumba ya zamani ya mawe.</p>")
    plain = make_property(title="Malindi Flat", description="<p>A flat by the sea.</p>", description_sw="")

    english_url, plain_url = prop.url, plain.url
    english = _html(client.get(english_url))
    assert "An old stone house." in english and "Nyumba ya zamani" not in english
    swahili = _html(client.get(_sw(english_url)))
    assert "Nyumba ya zamani ya mawe." in swahili and "An old stone house." not in swahili
    # No Kiswahili text: the English one, marked as English for screen readers.
    fallback = _html(client.get(_sw(plain_url)))
    assert '<div class="rich-text" lang="en">' in fallback and "A flat by the sea." in fallback


def test_the_map_gets_rounded_coordinates_and_is_left_out_without_them(client, site_tree):
    placed = make_property(title="Watamu Villa", latitude=Decimal("-3.354321"), longitude=Decimal("40.018765"))
    html = _html(client.get(placed.url))
    assert 'id="property-map"' in html
    assert 'data-lat="-3.35"' in html and 'data-lng="40.02"' in html
    assert "-3.354321" not in html and "40.018765" not in html  # the house itself is not on the page
    assert "Exact address after booking." in html
    assert "js/property-map.js" in html and "vendor/leaflet/leaflet.js" in html
    assert placed.street_address == "" or placed.street_address not in html

    unplaced = make_property(title="Somewhere", latitude=None, longitude=None)
    html = _html(client.get(unplaced.url))
    assert 'id="property-map"' not in html and "property-map.js" not in html and "leaflet.js" not in html


def test_the_street_address_is_not_on_the_public_page(client, site_tree):
    prop = make_property(title="Kilifi Creek House", street_address="12 Mnarani Road", latitude=Decimal("-3.6"), longitude=Decimal("39.85"))
    assert "12 Mnarani Road" not in _html(client.get(prop.url))


def test_no_deposit_wording_when_the_whole_stay_is_paid_up_front(client, site_tree):
    full = make_property(title="Pay In Full", min_deposit_percent=100)
    html = _html(client.get(full.url))
    assert "deposit" not in html.lower()
    part = make_property(title="Pay A Part", min_deposit_percent=30)
    assert "30%</span> deposit to start" in _html(client.get(part.url))


def test_money_reads_kes_with_thousands_everywhere_on_the_page(client, site_tree):
    prop = make_property(title="Karen Cottage", price_per_night=10800, min_nights=1)
    check_in = future_date(20)
    html = _html(client.get(prop.url, {"check_in": check_in.isoformat(), "check_out": (check_in + dt.timedelta(days=3)).isoformat()}))
    assert "<strong>KES 10,800</strong>" in html  # the booking box
    assert "KES 10,800 × 3 nights" in html and 'data-quote-total="32400">KES 32,400<' in html
    # The phone bar shows the stay's total once there are dates...
    bar = re.search(r'<p class="mobile-bar-price"[^>]*>(.*?)</p>', html, re.S)
    assert bar.group(1) == "KES 32,400 for 3 nights"
    assert 'data-nightly="from KES 10,800 / night"' in bar.group(0)
    # ...and it is a real control, not hidden from assistive technology.
    assert 'class="mobile-book-bar" id="mobile-book-bar">' in html
    assert 'aria-hidden="true">\n  <div><strong>' not in html and 'tabindex="-1">Reserve' not in html
    html = _html(client.get(prop.url))
    assert re.search(r'<p class="mobile-bar-price"[^>]*>from KES 10,800 / night</p>', html)


def test_calendar_days_read_their_full_date_and_state_and_the_config_has_the_stay_limits(client, site_tree):
    prop = make_property(title="Calendar House", min_nights=2, max_nights=14)
    night = future_date(5)
    make_booking(property=prop, check_in=night, nights=1, status="CONFIRMED")
    html = _html(client.get(prop.url))
    label = f"{night:%A} {night.day} {night:%B %Y}, booked"
    assert f'class="day day-taken" data-date="{night.isoformat()}" aria-label="{label}"' in html
    free = night + dt.timedelta(days=1)
    assert f'aria-label="{free:%A} {free.day} {free:%B %Y}, available"' in html
    assert '"minNights": 2' in html and '"maxNights": 14' in html
    assert 'id="calendar-status" role="status" aria-live="polite"' in html
    assert "js/calendar.js" in html


def test_calendar_names_days_and_months_in_kiswahili(client, site_tree):
    with translation.override("sw"):
        months = page_context.availability_calendar(ranges=[], today=dt.date(2027, 1, 4))
        first = months[0]["weeks"][1][0]
    assert first.date == dt.date(2027, 1, 4)
    assert "Januari" in first.label and "2027" in first.label
    assert months[0]["weekdays"][0][0].lower() == "jumatatu"


def test_co_guest_errors_are_linked_to_their_fields(client, site_tree, django_user_model):
    from tests.factories import UserFactory

    prop = make_property(title="Group House", max_guests=4)
    guest = UserFactory()
    client.force_login(guest)
    check_in = future_date(30)
    data = {
        "property": prop.pk, "check_in": check_in.isoformat(), "check_out": (check_in + dt.timedelta(days=2)).isoformat(),
        "guests": 2, "guest-TOTAL_FORMS": 1, "guest-INITIAL_FORMS": 0, "guest-MIN_NUM_FORMS": 0, "guest-MAX_NUM_FORMS": 10,
        "guest-0-name": "", "guest-0-email": "", "guest-0-phone_number": "",
    }
    response = client.post("/bookings/new/", data)
    html = response.content.decode()
    assert response.status_code in (200, 400), response.status_code
    field = re.search(r'<input[^>]*name="guest-0-name"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in field
    described = re.search(r'aria-describedby="([^"]+)"', field).group(1)
    for ref in described.split():
        assert f'id="{ref}"' in html, ref
    assert "Enter this guest&#x27;s name." in html or "Enter this guest's name." in html


def test_stylesheets_are_inlined_so_the_head_waits_for_no_css(client, site_tree):
    prop = make_property(title="Fast Page")
    head = _head(_html(client.get(prop.url)))
    assert not re.search(r'<link[^>]+rel="stylesheet"', head)
    assert "<style>" in head and ".site-header {" in head and "/* css/property.css */" in head
    assert "</style" not in head.split("<style>", 1)[1].rsplit("</style>", 1)[0]


def test_inline_stylesheets_falls_back_to_a_hashed_link_for_a_missing_file(settings):
    from django.template import Context, Template

    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    html = Template('{% load inline_static %}{% inline_stylesheets "css/property.css" "css/no-such-file.css" %}').render(Context())
    assert html.startswith("<style>") and ".calendar-picker" in html
    assert '<link rel="stylesheet" href="/static/css/no-such-file.css">' in html
