import pytest
from django.db import connection

from listings.models import BlockedPeriod
from listings.selectors import property_list_available, property_unavailable_ranges
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
