import pytest
from django.db import connection

from listings.models import BlockedPeriod
from listings.selectors import property_count_available, property_list_available, property_unavailable_ranges
from tests.factories import future_date, make_booking, make_property

pytestmark = pytest.mark.django_db


def _ids(queryset):
    return {page.pk for page in queryset}


def test_only_live_available_listings_are_listed(site_tree):
    listed = make_property()
    make_property(publish=False)
    make_property(availability_status="unavailable")
    assert _ids(property_list_available()) == {listed.pk}


def test_dates_exclude_listings_with_an_overlapping_active_booking_or_block(site_tree):
    free = make_property()
    booked = make_property()
    blocked = make_property()
    canceled_only = make_property()
    adjacent = make_property()
    make_booking(property=booked, check_in=future_date(11), nights=1, status="PROCESSING")
    BlockedPeriod.objects.create(property=blocked, start=future_date(12), end=future_date(20))
    make_booking(property=canceled_only, check_in=future_date(10), nights=3, status="CANCELED")
    make_booking(property=adjacent, check_in=future_date(7), nights=3)  # checks out on day 10
    make_booking(property=adjacent, check_in=future_date(13), nights=2)  # checks in on day 13

    result = _ids(property_list_available(check_in=future_date(10), check_out=future_date(13)))
    assert result == {free.pk, canceled_only.pk, adjacent.pk}


@pytest.mark.parametrize("status", ["PENDING", "PROCESSING", "CONFIRMED"])
def test_every_active_status_holds_the_dates(site_tree, status):
    property = make_property()
    make_booking(property=property, check_in=future_date(10), nights=2, status=status)
    assert not _ids(property_list_available(check_in=future_date(11), check_out=future_date(15)))


def test_guests_location_and_price_filters(site_tree):
    diani = make_property(town="Diani", area="Galu Beach", max_guests=6, price_per_night=12000)
    nairobi = make_property(town="Nairobi", area="Kilimani", max_guests=2, price_per_night=5000)
    assert _ids(property_list_available(guests=3)) == {diani.pk}
    assert _ids(property_list_available(guests=2)) == {diani.pk, nairobi.pk}
    assert _ids(property_list_available(location="diani")) == {diani.pk}
    assert _ids(property_list_available(location="KILI")) == {nairobi.pk}
    assert _ids(property_list_available(min_price=6000)) == {diani.pk}
    assert _ids(property_list_available(max_price=5000)) == {nairobi.pk}
    assert _ids(property_list_available(min_price=5000, max_price=12000)) == {diani.pk, nairobi.pk}


def test_unavailable_ranges_are_merged_clipped_and_half_open(site_tree):
    property = make_property()
    d = future_date
    make_booking(property=property, check_in=d(5), nights=3)  # [5, 8)
    make_booking(property=property, check_in=d(8), nights=2)  # [8, 10) touches the first: merged
    BlockedPeriod.objects.create(property=property, start=d(9), end=d(12))  # overlaps: merged to [5, 12)
    make_booking(property=property, check_in=d(20), nights=5)  # [20, 25) clipped to the window end
    make_booking(property=property, check_in=d(14), nights=2, status="CANCELED")  # not taken
    other = make_property()
    make_booking(property=other, check_in=d(15), nights=2)  # another property

    ranges = property_unavailable_ranges(property=property, start=d(6), end=d(22))
    assert ranges == [(d(6), d(12)), (d(20), d(22))]
    assert property_unavailable_ranges(property=property, start=d(12), end=d(20)) == []
    assert property_unavailable_ranges(property=property, start=d(10), end=d(10)) == []


def test_availability_probe_is_served_by_an_index(site_tree):
    """The NOT EXISTS probe must hit the GiST index (PostgreSQL) or the (property, dates) btree (SQLite),
    not scan the bookings table: that is what keeps the search flat with 200,000 bookings."""
    property = make_property()
    make_booking(property=property, check_in=future_date(10))
    queryset = property_list_available(check_in=future_date(10), check_out=future_date(13))
    with connection.cursor() as cursor:
        sql, params = queryset.query.sql_with_params()
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table would otherwise be scanned
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "booking_no_overlapping_active_stays" in plan or "booking_active_stay_range_gist" in plan, plan
            assert "blocked_period_range_gist" in plan, plan
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
            assert "USING INDEX booking_property_dates (property_id=? AND check_in<?)" in plan, plan
            assert "INDEX listings_bl_propert_19d285_idx (property_id=? AND start<?)" in plan, plan


# --- property_count_available: the search's total, counted the other way round ----------------


def _search_world():
    """Listings in every situation the count must get right, around a stay of days [10, 13)."""
    d = future_date
    world = {
        "free": make_property(town="Mombasa", area="Nyali", max_guests=6, price_per_night=9000),
        "free_small": make_property(town="Nairobi", area="Kilimani", max_guests=2, price_per_night=3000),
        "booked": make_property(town="Mombasa", area="Bamburi", max_guests=6, price_per_night=9000),
        "confirmed": make_property(town="Nairobi", area="Westlands", max_guests=4, price_per_night=6000),
        "blocked": make_property(town="Kwale", area="Diani", max_guests=4, price_per_night=12000),
        "canceled_only": make_property(town="Kwale", area="Galu", max_guests=4, price_per_night=7000),
        "adjacent": make_property(town="Nairobi", area="Karen", max_guests=3, price_per_night=5000),
        "unpublished": make_property(town="Mombasa", area="Nyali", publish=False),
        "unavailable": make_property(town="Mombasa", area="Nyali", availability_status="unavailable"),
    }
    make_booking(property=world["booked"], check_in=d(12), nights=3, status="PENDING")
    make_booking(property=world["confirmed"], check_in=d(9), nights=2, status="CONFIRMED")
    BlockedPeriod.objects.create(property=world["blocked"], start=d(11), end=d(12))
    make_booking(property=world["canceled_only"], check_in=d(10), nights=3, status="CANCELED")
    make_booking(property=world["adjacent"], check_in=d(7), nights=3, status="PROCESSING")  # leaves on day 10
    BlockedPeriod.objects.create(property=world["adjacent"], start=d(13), end=d(15))  # starts on check-out day
    return world


SEARCHES = [
    {},
    {"check_in": 10, "check_out": 13},
    {"check_in": 10, "check_out": 13, "guests": 4},
    {"check_in": 10, "check_out": 13, "location": "nairobi"},
    {"check_in": 10, "check_out": 13, "location": " DIANI "},
    {"check_in": 10, "check_out": 13, "min_price": 5000, "max_price": 9000},
    {"check_in": 12, "check_out": 13},
    {"check_in": 30, "check_out": 31},
    {"guests": 5, "max_price": 9000},
]


def _search_id(search: dict) -> str:
    return ",".join(f"{key}={value}" for key, value in search.items()) or "all"


@pytest.mark.parametrize("search", SEARCHES, ids=_search_id)
def test_count_equals_the_number_of_listings_the_search_returns(site_tree, search):
    _search_world()
    filters = {k: future_date(v) if k in ("check_in", "check_out") else v for k, v in search.items()}
    assert property_count_available(**filters) == len(property_list_available(**filters))


def test_count_leaves_out_booked_blocked_unpublished_and_unavailable_listings(site_tree):
    world = _search_world()
    stay = {"check_in": future_date(10), "check_out": future_date(13)}
    expected = {world[name].pk for name in ("free", "free_small", "canceled_only", "adjacent")}
    assert _ids(property_list_available(**stay)) == expected
    assert property_count_available(**stay) == 4
    assert property_count_available() == 7  # without dates, only the unpublished and unavailable are out
    assert property_count_available(**stay, guests=4, location="kwale") == 1  # canceled_only


def test_count_follows_a_cancellation_at_once(site_tree):
    property = make_property()
    booking = make_booking(property=property, check_in=future_date(10), nights=2, status="CONFIRMED")
    stay = {"check_in": future_date(10), "check_out": future_date(11)}
    assert property_count_available(**stay) == 0
    booking.status = "CANCELED"
    booking.save()
    assert property_count_available(**stay) == 1


def test_count_is_one_query(site_tree, django_assert_num_queries):
    _search_world()
    with django_assert_num_queries(1):
        property_count_available(check_in=future_date(10), check_out=future_date(13), guests=2, location="a")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plan")
def test_count_reads_overlapping_bookings_once_from_the_date_range_index(site_tree):
    """The count's bookings subquery must not depend on the listing (one run, hashed) and must
    come from the partial GiST index on the date range alone; "live" comes from the partial
    index of pages not live, not from a join to every page."""
    from django.test.utils import CaptureQueriesContext

    property = make_property()
    make_booking(property=property, check_in=future_date(10))
    with CaptureQueriesContext(connection) as captured:
        property_count_available(check_in=future_date(10), check_out=future_date(13))
    (query,) = captured.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table would otherwise be scanned
        cursor.execute("EXPLAIN " + query["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "booking_active_stay_range_gist" in plan, plan
    assert "listings_page_not_live" in plan, plan
    assert "hashed SubPlan" in plan, plan
    assert "Join" not in plan, plan


# --- page_url_resolver: Wagtail's URLs without Wagtail's per-page lookups -----------------------


def test_page_url_resolver_gives_the_url_page_get_url_gives(site_tree, rf):
    from rest_framework.request import Request
    from wagtail.models import Site

    from listings.models import ListingIndexPage
    from listings.selectors import page_url_resolver

    pages = [make_property(slug="nyali-beach-house"), make_property(slug="nyumba-ya-pwani-ñ")]
    for request in (rf.get("/api/properties/"), Request(rf.get("/api/properties/"))):
        resolve = page_url_resolver(request)
        for page in pages:
            assert resolve(page) == page.get_url(request=request)

    # A second site whose root is the listings index: pages now belong to two sites.
    index = ListingIndexPage.objects.get(pk=site_tree.pk)
    Site.objects.create(hostname="stays.example.com", port=80, root_page=index, site_name="Stays")
    Site.clear_site_root_paths_cache()
    for host in ("localhost", "stays.example.com", "unknown.example.com"):
        for request in (rf.get("/", HTTP_HOST=host), Request(rf.get("/", HTTP_HOST=host))):
            resolve = page_url_resolver(request)
            for page in pages:
                assert resolve(page) == page.get_url(request=request), (host, type(request))
    assert page_url_resolver(None)(pages[0]) == pages[0].get_url()


def test_nights_taken_come_from_what_the_apps_registered(site_tree, monkeypatch):
    """listings knows no booking: reservations registers its active bookings as an Occupancy
    (ReservationsConfig.ready()); without it a booked listing would look free."""
    from listings import selectors
    from reservations.availability import BOOKED_NIGHTS

    assert selectors._night_takers() == [BOOKED_NIGHTS, selectors.BLOCKED_PERIODS]
    booked = make_property()
    make_booking(property=booked, check_in=future_date(11), nights=2, status="CONFIRMED")
    dates = {"check_in": future_date(10), "check_out": future_date(14)}
    assert booked.pk not in _ids(property_list_available(**dates))
    assert property_count_available(**dates) == 0
    assert property_unavailable_ranges(property=booked, start=future_date(10), end=future_date(14)) == [
        (future_date(11), future_date(13))
    ]

    monkeypatch.setattr(selectors, "_occupancies", [])
    assert booked.pk in _ids(property_list_available(**dates))
    assert property_count_available(**dates) == 1
    assert property_unavailable_ranges(property=booked, start=future_date(10), end=future_date(14)) == []


def test_blocking_booked_nights_is_refused_by_the_bookings_occupancy(site_tree):
    from listings.selectors import blocked_period_refusals

    property = make_property()
    booking = make_booking(property=property, check_in=future_date(5), nights=2, status="PENDING")
    assert blocked_period_refusals(property_id=property.pk, start=future_date(6), end=future_date(9)) == [
        f"These dates overlap bookings made on Nexus ({booking.reference}). Cancel or move those first."
    ]
    assert blocked_period_refusals(property_id=property.pk, start=future_date(7), end=future_date(9)) == []
