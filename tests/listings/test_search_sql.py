"""The search's SQL compiled once per shape (listings/search_sql.py) gives what the ORM gives:
the same listings in the same order, page by page, and the same count, for every shape."""

import itertools

import pytest
from django.db.models import Q

from listings import search_sql
from listings.models import Amenity, BlockedPeriod, PropertyPage
from listings.search_sql import compiled_search, search_shape
from listings.selectors import (
    PropertySearchResults,
    _available_for_count,
    _count_sql,
    _night_takers,
    _page_sql,
    property_count_available,
    property_list_available,
    property_list_summaries,
    property_search_page,
)
from tests.factories import add_gallery, future_date, make_booking, make_property

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(site_tree):
    """Twelve listings with ties in price, amenities, bookings, a block, an unpublished and an
    unavailable one, around a stay of days [10, 13)."""
    amenities = [Amenity.objects.create(name=name) for name in ("Wi-Fi", "Pool", "Kitchen")]
    listings = [
        make_property(title=f"Stay {n:02}", price_per_night=3000 + 1000 * (n % 4), max_guests=2 + n % 5)
        for n in range(12)
    ]
    # Straight into the table: a search reads only the rows (publishing twelve pages again is slow).
    PropertyPage.amenities.through.objects.bulk_create([
        PropertyPage.amenities.through(propertypage_id=listing.pk, amenity_id=amenity.pk)
        for n, listing in enumerate(listings)
        for k, amenity in enumerate(amenities)
        if (n + k) % 3
    ])
    for n in (4, 5):  # a cover photo on some results, none on the others
        listings[n] = add_gallery(listings[n], count=1)
    make_booking(property=listings[0], check_in=future_date(11), nights=3, status="CONFIRMED")
    make_booking(property=listings[1], check_in=future_date(8), nights=2, status="PENDING")  # leaves on day 10
    make_booking(property=listings[2], check_in=future_date(10), nights=3, status="CANCELED")
    BlockedPeriod.objects.create(property=listings[3], start=future_date(12), end=future_date(13))
    make_property(title="Draft", publish=False)
    make_property(title="Closed", availability_status="unavailable")
    search_sql._compiled.clear()  # shapes compiled in another test's database would still be right; be sure
    return listings


def _shapes():
    """Every combination of filters but the place, with 0, 1 or 2 amenities and each sort."""
    for dates, guests, low, high, amenity_count, sort in itertools.product(
        (False, True), (False, True), (False, True), (False, True), (0, 1, 2), ("", "price", "-price", "newest")
    ):
        search = {"sort": sort}
        if dates:
            search["check_in"], search["check_out"] = future_date(10), future_date(13)
        if guests:
            search["guests"] = 3
        if low:
            search["min_price"] = 4000
        if high:
            search["max_price"] = 5000
        if amenity_count:
            search["amenities"] = ["Pool", "Wi-Fi"][:amenity_count]
        yield search


def _resolve(search: dict) -> dict:
    if "amenities" in search:
        search = {**search, "amenities": [Amenity.objects.get(name=name).pk for name in search["amenities"]]}
    return search


def _orm_page(filters, offset, limit):
    return [page.pk for page in property_list_summaries(property_list_available(**filters))[offset:offset + limit]]


def test_every_shape_gives_the_orms_pages_and_count(world):
    checked = 0
    for search in _shapes():
        filters = _resolve(search)
        assert compiled_search("page", filters, compile=_page_sql, context=tuple(_night_takers())) is not None, search
        assert compiled_search("count", filters, compile=_count_sql, context=tuple(_night_takers())) is not None, search
        expected_count = _available_for_count(**filters).count()
        assert property_count_available(**filters) == expected_count == len(property_list_available(**filters)), search
        for offset, limit in ((0, 5), (5, 5), (10, 5)):
            assert [page.pk for page in property_search_page(filters, offset=offset, limit=limit)] == \
                _orm_page(filters, offset, limit), (search, offset)
        checked += 1
    assert checked == 2 * 2 * 2 * 2 * 3 * 4


def test_a_search_with_other_values_reuses_the_shape_and_still_gives_its_own_results(world):
    stay = {"check_in": future_date(10), "check_out": future_date(13), "sort": "price"}
    first = property_search_page({**stay, "max_price": 4000}, offset=0, limit=20)
    second = property_search_page({**stay, "max_price": 6000}, offset=0, limit=20)
    assert len(search_sql._compiled) == 1
    assert {page.price_per_night for page in first} <= {3000, 4000}
    assert len(second) > len(first)
    assert [page.pk for page in second] == _orm_page({**stay, "max_price": 6000}, 0, 20)
    later = {"check_in": future_date(30), "check_out": future_date(32), "sort": "price", "max_price": 4000}
    assert [page.pk for page in property_search_page(later, offset=0, limit=20)] == _orm_page(later, 0, 20)


def test_results_carry_what_a_summary_shows(world):
    (page,) = property_search_page({"sort": "price", "max_price": 3000, "guests": 6}, offset=0, limit=5)
    assert isinstance(page, PropertyPage)
    expected = PropertyPage.objects.get(pk=page.pk)
    for field in ("title", "slug", "url_path", "town", "area", "price_per_night", "max_guests", "min_nights"):
        assert getattr(page, field) == getattr(expected, field)
    assert page.cover_image_id == expected.gallery_images.order_by("sort_order", "pk").first().image_id


def test_searches_by_place_take_the_orm(world):
    assert search_shape({"location": "Nairobi"}) is None
    assert search_shape({"location": ""}) is not None
    filters = {"location": "nairobi", "sort": "price"}
    assert [page.pk for page in property_search_page(filters, offset=0, limit=20)] == _orm_page(filters, 0, 20)
    assert property_count_available(**filters) == len(property_list_available(**filters))


def test_a_shape_whose_sql_holds_a_value_is_left_to_the_orm(world):
    """A compilation that writes a value into the SQL text cannot be reused: refused, and the
    search still answers through the ORM."""

    def compile_with_the_value_in_the_text(filters):
        sql, params = _page_sql(filters)
        return f"{sql} /* {filters.get('max_price')} */", params

    filters = {"sort": "price", "max_price": 4000}
    assert compiled_search("page-text", filters, compile=compile_with_the_value_in_the_text) is None

    def compile_with_a_derived_value(filters):
        queryset = PropertyPage.objects.filter(Q(price_per_night__lte=filters["max_price"] * 2))
        return queryset.query.get_compiler(using=queryset.db).as_sql()

    assert compiled_search("page-derived", filters, compile=compile_with_a_derived_value) is None


def test_paginating_the_results_counts_once_and_fetches_one_page(world, django_assert_num_queries):
    from django.core.paginator import Paginator

    results = PropertySearchResults(filters={"sort": "price"})
    property_search_page(results.filters, offset=0, limit=1)
    property_count_available(**results.filters)  # both shapes compiled beforehand
    with django_assert_num_queries(2):
        page = Paginator(results, 4).page(2)
        listings = list(page)
    assert page.paginator.count == 12
    assert [listing.pk for listing in listings] == _orm_page({"sort": "price"}, 4, 4)
    with pytest.raises(TypeError):
        results[::2]


def test_a_search_the_orm_answers_without_sql_or_with_an_unknown_key_takes_the_orm(world):
    def compile_nothing(filters):
        return PropertyPage.objects.none().query.get_compiler(using="default").as_sql()

    assert compiled_search("page-empty", {"sort": "price"}, compile=compile_nothing) is None
    assert search_shape({"sort": "price", "colour": "blue"}) is None
    with pytest.raises(TypeError):
        property_count_available(sort="price", colour="blue")
