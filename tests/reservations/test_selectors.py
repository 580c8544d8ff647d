"""reservations.selectors.property_booking_terms: what booking_create checks a stay against, in one statement."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.exceptions import ApplicationError
from listings.models import BlockedPeriod
from reservations.models import Booking
from reservations.selectors import property_booking_terms
from reservations.services import booking_create
from tests.factories import UserFactory, future_date, make_booking, make_property

pytestmark = pytest.mark.django_db

POSTGRESQL = connection.vendor == "postgresql"


def _terms(property, *, starts_in: int, nights: int):
    check_in = future_date(starts_in)
    return property_booking_terms(
        property_id=property.pk, check_in=check_in, check_out=future_date(starts_in + nights)
    )


def test_terms_are_the_listings_and_one_statement(site_tree):
    property = make_property(price_per_night=4500, max_guests=3, min_nights=2, min_deposit_percent=40)

    with CaptureQueriesContext(connection) as queries:
        terms = _terms(property, starts_in=10, nights=2)

    assert len(queries) == 1
    assert (terms.property_id, terms.title, terms.price_per_night, terms.max_guests, terms.min_nights) == (
        property.pk, property.title, 4500, 3, 2,
    )
    assert terms.min_deposit_percent == 40
    assert terms.nights_blocked is False


def test_blocked_nights_are_reported(site_tree):
    property = make_property()
    BlockedPeriod.objects.create(property=property, start=future_date(10), end=future_date(12), reason="Painting")

    assert _terms(property, starts_in=11, nights=2).nights_blocked is True
    assert _terms(property, starts_in=12, nights=2).nights_blocked is False  # the end day is free


@pytest.mark.skipif(POSTGRESQL, reason="SQLite has no exclusion constraint: the check is the guard")
def test_on_sqlite_taken_nights_are_reported(site_tree):
    property = make_property()
    make_booking(property=property, check_in=future_date(10), nights=3)

    assert _terms(property, starts_in=11, nights=1).nights_taken is True
    assert _terms(property, starts_in=13, nights=1).nights_taken is False


@pytest.mark.skipif(not POSTGRESQL, reason="the exclusion constraint is PostgreSQL's")
def test_on_postgresql_taken_nights_are_left_to_the_constraint(site_tree):
    """Not read (the statement does not touch the bookings table), and still refused as 409."""
    property = make_property()
    make_booking(property=property, check_in=future_date(10), nights=3)

    with CaptureQueriesContext(connection) as queries:
        terms = _terms(property, starts_in=11, nights=1)

    assert terms.nights_taken is None
    assert Booking._meta.db_table not in queries[0]["sql"]
    with pytest.raises(ApplicationError) as raised:
        booking_create(
            user=UserFactory(), property_id=property.pk, check_in=future_date(11), check_out=future_date(12), guests=[]
        )
    assert (raised.value.code, raised.value.status) == ("dates_unavailable", 409)
    assert Booking.objects.filter(property=property).count() == 1


def test_an_unknown_or_unpublished_listing_has_no_terms(site_tree):
    draft = make_property(publish=False)

    assert _terms(draft, starts_in=10, nights=1) is None
    assert property_booking_terms(property_id=2**40, check_in=future_date(1), check_out=future_date(2)) is None
