"""Query counts of the public pages stay flat as listings and photos grow (the speed goals in docs/booking-rules.md: <= 12
on the home and property pages). Each page is requested once first so renditions exist:
the counts are for a warm page, as a returning visitor gets it."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory, add_gallery, future_date, make_booking, make_property

pytestmark = pytest.mark.django_db

MAX_QUERIES = 12


def _listings(count: int, *, photos: int = 2) -> list:
    pages = []
    for n in range(count):
        page = make_property(title=f"Stay {n}", town="Nairobi" if n % 2 else "Mombasa")
        if n < 3 or n % 3 == 0:
            add_gallery(page, count=photos, amenities=("Wi-Fi", "Pool", f"Extra {n}"))
        pages.append(page)
    return pages


def _queries(client, url, params=None) -> int:
    assert client.get(url, params).status_code == 200  # warm: renditions generated once
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params).status_code == 200
    return len(captured)


def test_home_page_queries_do_not_grow_with_listings(client, site_tree):
    from django.test import Client

    member = Client()
    member.force_login(UserFactory())
    _listings(5)
    few = (_queries(client, "/"), _queries(member, "/"))
    _listings(25)
    many = (_queries(client, "/"), _queries(member, "/"))
    assert few == many
    assert max(many) <= MAX_QUERIES


def test_listing_index_queries_do_not_grow_with_listings(client, site_tree):
    check_in = future_date(10)
    params = {"check_in": check_in.isoformat(), "check_out": (check_in + dt.timedelta(days=3)).isoformat(), "guests": 2}
    pages = _listings(5)
    make_booking(property=pages[0], check_in=check_in, nights=2)
    few = _queries(client, "/stays/", params)
    _listings(25)
    many = _queries(client, "/stays/", params)
    assert few == many
    assert many <= MAX_QUERIES


@pytest.mark.parametrize("logged_in", [False, True])
def test_property_page_queries_do_not_grow_with_photos_or_bookings(client, site_tree, logged_in):
    if logged_in:
        client.force_login(UserFactory())
    small = add_gallery(make_property(title="Two photos"), count=2, amenities=("Wi-Fi",))
    big = add_gallery(make_property(title="Ten photos"), count=10, amenities=("Wi-Fi", "Pool", "Parking", "Kitchen"))
    for n in range(6):
        make_booking(property=big, check_in=future_date(5 + 3 * n), nights=2, status="CONFIRMED")
    few = _queries(client, small.url)
    many = _queries(client, big.url)
    assert few == many
    assert many <= MAX_QUERIES
