"""The public listing pages: home, search results, property page."""

import datetime as dt
import re

import pytest
from django.test import override_settings
from django.utils import timezone

from listings.models import Amenity
from tests.factories import add_gallery, future_date, make_booking, make_property

pytestmark = pytest.mark.django_db


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_home_page_has_search_form_and_featured_listings(client, site_tree):
    listed = add_gallery(make_property(title="Diani Beach Cottage", town="Diani", area="Galu"), count=1)
    make_property(title="Draft Villa", publish=False)
    make_property(title="Closed Flat", availability_status="unavailable")

    html = _html(client.get("/"))

    for name in ("location", "check_in", "check_out", "guests"):
        assert f'name="{name}"' in html
    assert 'action="/stays/"' in html
    assert "Diani Beach Cottage" in html and "Galu, Diani" in html
    assert listed.url in html
    assert "Draft Villa" not in html
    assert "Closed Flat" not in html
    # The first card's photo is the page's likely LCP: loaded at once, WebP, in a srcset.
    assert re.search(
        r'<img[^>]+fetchpriority="high"[^>]+loading="eager"[^>]+srcset="[^"]+fill-480x320\.format-webp[^"]*\.webp \d+w, '
        r'[^"]+fill-960x640\.format-webp[^"]*\.webp \d+w"',
        html,
    )


def test_listing_index_filters_by_dates_and_party_and_shows_total(client, site_tree):
    free = make_property(title="Free Loft", price_per_night=4000, max_guests=4)
    booked = make_property(title="Booked Loft", max_guests=4)
    small = make_property(title="Tiny Studio", max_guests=1)
    check_in = future_date(20)
    make_booking(property=booked, check_in=check_in + dt.timedelta(days=1), nights=2, status="CONFIRMED")

    html = _html(client.get("/stays/", {"check_in": check_in.isoformat(), "check_out": (check_in + dt.timedelta(days=3)).isoformat(), "guests": 2}))

    assert "Free Loft" in html
    assert "Booked Loft" not in html
    assert "Tiny Studio" not in html
    assert "KES 12,000</strong> total for 3 nights" in html
    # The dates and party carry into the listing's link, so its booking form starts filled in.
    assert f'href="{free.url}?check_in={check_in.isoformat()}' in html
    assert small.title not in html


def test_listing_index_shows_a_cancelled_booking_s_dates_as_free(client, site_tree):
    prop = make_property(title="Was Booked")
    check_in = future_date(25)
    make_booking(property=prop, check_in=check_in, nights=2, status="CANCELED")
    html = _html(client.get("/stays/", {"check_in": check_in.isoformat(), "check_out": (check_in + dt.timedelta(days=2)).isoformat()}))
    assert "Was Booked" in html


def test_listing_index_filters_by_location(client, site_tree):
    make_property(title="Lamu House", town="Lamu", area="Shela")
    make_property(title="Kisumu Flat", town="Kisumu", area="Milimani")
    html = _html(client.get("/stays/", {"location": "shela"}))
    assert "Lamu House" in html and "Kisumu Flat" not in html


def test_listing_index_paginates(client, site_tree):
    for n in range(14):
        make_property(title=f"Stay number {n:02d}")
    first = _html(client.get("/stays/"))
    second = _html(client.get("/stays/", {"page": 2}))
    assert "14 stays" in first
    assert first.count('class="listing-card"') == 12
    assert second.count('class="listing-card"') == 2
    assert 'rel="next"' in first and "Page 1 of 2" in first
    assert 'rel="prev"' in second


@pytest.mark.parametrize(
    "query, message",
    [
        ({"check_in": "2020-01-01", "check_out": "2020-01-03"}, "Check-in can&#x27;t be in the past."),
        ({"check_in": "not-a-date", "check_out": "2030-01-01"}, "Enter a valid date."),
        ({"check_in": "2031-01-05", "check_out": "2031-01-05"}, "Check-out must be after check-in."),
        ({"check_in": "2031-01-05"}, "Choose a check-out date too."),
        ({"guests": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"guests": "lots"}, "Enter a whole number."),
    ],
)
def test_bad_search_is_explained_not_an_error_page(client, site_tree, query, message):
    make_property(title="Any Stay")
    response = client.get("/stays/", query)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    # An invalid search shows its errors and no results, not every listing unfiltered.
    assert "Any Stay" not in html
    assert 'class="listing-card"' not in html


def test_property_page_shows_gallery_amenities_owner_calendar_and_form(client, site_tree):
    prop = make_property(title="Naivasha Lake House", price_per_night=7500, max_guests=5, min_nights=2, min_deposit_percent=30)
    prop.owner.name = "Wanjiru Kamau"
    prop.owner.save()
    add_gallery(prop, count=3, amenities=("Wi-Fi", "Pool"))
    Amenity.objects.filter(name="Pool").update(icon="pool")
    taken_from = dt.date.today() + dt.timedelta(days=3)
    make_booking(property=prop, check_in=taken_from, nights=2, status="PROCESSING")

    html = _html(client.get(prop.url))

    assert "Naivasha Lake House" in html
    assert html.count('class="gallery-item') == 3
    assert 'fetchpriority="high"' in html  # the first photo is the page's main image
    assert html.count('loading="lazy"') == 2
    assert 'alt="Photo 1"' in html
    assert re.search(r'srcset="[^"]+fill-480x320[^"]+ \d+w, [^"]+fill-960x640[^"]+ \d+w, [^"]+fill-1440x960[^"]+ \d+w"', html)
    assert "Wi-Fi" in html and "Pool" in html and 'class="amenity-icon"' in html
    assert "Hosted by Wanjiru Kamau" in html
    assert "5</span> guests max" in html and "2</span> nights minimum" in html
    assert "30%</span> deposit" in html
    for night in (taken_from, taken_from + dt.timedelta(days=1)):
        assert f'class="day day-taken" data-date="{night.isoformat()}"' in html
    # Check-out day is free for the next guest (half-open stays).
    assert f'class="day day-free" data-date="{(taken_from + dt.timedelta(days=2)).isoformat()}"' in html
    assert html.count('<table class="calendar">') == 3
    assert 'action="/bookings/new/"' in html
    assert 'id="booking-config"' in html and '"pricePerNight": 7500' in html


def test_property_page_prefills_booking_form_from_search(client, site_tree):
    prop = make_property(title="Prefilled", price_per_night=3000)
    check_in = future_date(40)
    html = _html(client.get(prop.url, {"check_in": check_in.isoformat(), "check_out": (check_in + dt.timedelta(days=4)).isoformat(), "guests": 3}))
    assert f'value="{check_in.isoformat()}"' in html
    assert "KES 3,000 × 4 nights" in html and "KES 12,000" in html
    assert '<option value="3" selected>' in html
    assert html.count('class="co-guest-row"') == 2 + 1  # two rows, plus the hidden row template


def test_unavailable_property_page_takes_no_bookings(client, site_tree):
    prop = make_property(title="Under Repair", availability_status="unavailable")
    html = _html(client.get(prop.url))
    assert "isn't taking bookings" in html
    assert 'id="booking-form"' not in html


def test_404_page_is_in_the_site_style(client, site_tree):
    response = client.get("/no-such-place/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "We couldn't find that page" in html and 'class="site-header"' in html


def test_500_page_renders_without_a_request(site_tree):
    from django.template import loader

    html = loader.get_template("500.html").render()
    assert "Something went wrong on our side" in html and "/static/css/site.css" in html


@override_settings(DEBUG=False)
def test_500_handler_uses_the_site_template(site_tree):
    from django.test import RequestFactory
    from django.views.defaults import server_error

    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert b"No money moved because of this error" in response.content


def test_property_page_shows_a_new_version_as_soon_as_it_is_published(client, site_tree):
    prop = add_gallery(make_property(title="Old Name"), count=1, amenities=("Wi-Fi",))
    assert "Old Name" in _html(client.get(prop.url))
    prop.title = "New Name"
    prop.amenities = [Amenity.objects.get_or_create(name="Backup generator", icon="generator")[0]]
    prop.save_revision(user=prop.owner).publish()
    html = _html(client.get(prop.url))
    assert "New Name" in html and "Old Name" not in html
    assert "Backup generator" in html and "Wi-Fi" not in html


def test_property_calendar_follows_bookings_at_once(client, site_tree):
    prop = make_property(title="Busy Place")
    night = future_date(4)
    assert f'class="day day-free" data-date="{night.isoformat()}"' in _html(client.get(prop.url))
    booking = make_booking(property=prop, check_in=night, nights=1)
    assert f'class="day day-taken" data-date="{night.isoformat()}"' in _html(client.get(prop.url))
    booking.status = "CANCELED"
    booking.save()
    assert f'class="day day-free" data-date="{night.isoformat()}"' in _html(client.get(prop.url))


def test_property_calendar_follows_blocked_periods_at_once(client, site_tree):
    from listings.models import BlockedPeriod

    prop = make_property(title="Sometimes Closed")
    night = future_date(6)
    assert f'class="day day-free" data-date="{night.isoformat()}"' in _html(client.get(prop.url))
    block = BlockedPeriod.objects.create(property=prop, start=night, end=night + dt.timedelta(days=1))
    assert f'class="day day-taken" data-date="{night.isoformat()}"' in _html(client.get(prop.url))
    block.delete()
    assert f'class="day day-free" data-date="{night.isoformat()}"' in _html(client.get(prop.url))


def _calendar_html(html: str) -> str:
    return re.search(r'<section class="availability".*?</section>', html, re.S).group(0)


def test_property_calendar_is_rendered_once_until_its_days_change(client, site_tree, monkeypatch):
    from listings import page_context

    prop = make_property(title="Quiet Place")
    renders = []
    real = page_context.availability_calendar
    monkeypatch.setattr(page_context, "availability_calendar", lambda **kw: renders.append(kw) or real(**kw))
    first = _calendar_html(_html(client.get(prop.url)))
    assert _calendar_html(_html(client.get(prop.url))) == first
    assert len(renders) == 1
    # A booking outside the three months shown does not change the calendar...
    make_booking(property=prop, check_in=future_date(200), nights=2)
    client.get(prop.url)
    assert len(renders) == 1
    # ...one inside it does, and so does a new day.
    make_booking(property=prop, check_in=future_date(3), nights=2)
    client.get(prop.url)
    assert len(renders) == 2
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    monkeypatch.setattr(page_context.timezone, "localdate", lambda *args: tomorrow)
    html = _html(client.get(prop.url))
    assert len(renders) == 3
    yesterday = tomorrow - dt.timedelta(days=1)
    if yesterday.month == tomorrow.month:
        assert f'class="day day-past" data-date="{yesterday.isoformat()}"' in html


def test_property_calendar_marks_past_taken_and_free_days(site_tree):
    from listings.page_context import availability_calendar

    today = dt.date(2027, 1, 30)
    months = availability_calendar(ranges=[(dt.date(2027, 1, 31), dt.date(2027, 2, 2))], today=today)
    assert [month["title"] for month in months] == ["January 2027", "February 2027", "March 2027"]
    days = {day.date: day for month in months for week in month["weeks"] for day in week if day}
    assert len(days) == 31 + 28 + 31
    assert (days[dt.date(2027, 1, 29)].state, days[dt.date(2027, 1, 30)].state) == ("past", "free")
    assert [days[dt.date(2027, 1, 31)].state, days[dt.date(2027, 2, 1)].state, days[dt.date(2027, 2, 2)].state] == [
        "taken", "taken", "free",
    ]
    first = days[dt.date(2027, 2, 1)]
    assert (first.iso, first.number, first.label) == ("2027-02-01", 1, "Monday 1 February 2027, booked")
    assert months[1]["weeks"][0][0] is first  # 1 February 2027 is a Monday: no padding
    assert months[0]["weeks"][0][:4] == [None, None, None, None]  # 1 January 2027 is a Friday


def test_routing_serves_live_listings_and_404s_the_rest(client, site_tree):
    live = make_property(title="Routed Stay", slug="routed-stay")
    draft = make_property(title="Draft Stay", slug="draft-stay", publish=False)
    assert "Routed Stay" in _html(client.get(live.url))
    assert client.get(f"{site_tree.url}draft-stay/").status_code == 404
    assert client.get(f"{site_tree.url}no-such-stay/").status_code == 404
    assert client.get(f"{site_tree.url}routed-stay/deeper/").status_code == 404
    assert client.get("/no-such-index/routed-stay/").status_code == 404
    assert draft.pk
