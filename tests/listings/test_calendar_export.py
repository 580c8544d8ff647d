"""A listing's own iCal feed (GET /calendar/<token>.ics), read back with the icalendar library
the way Airbnb or Booking.com would read it, and the admin screens that show and regenerate
its address."""

import datetime as dt
import logging
import re

import icalendar
import pytest
from django.urls import reverse
from django.utils import timezone

from core.log_masking import MaskCallbackTokens
from core.models import AuditEntry
from listings.calendar.services import calendar_export_token
from listings.models import BlockedPeriod, CalendarExport, CalendarFeed
from tests.factories import OwnerFactory, StaffFactory, UserFactory, make_booking, make_property

pytestmark = pytest.mark.django_db


def day(offset: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=offset)


@pytest.fixture
def stay(site_tree):
    return make_property(owner=OwnerFactory(name="Amina Owner"), title="Amina's cottage")


@pytest.fixture
def booked(stay):
    guest = UserFactory(name="Zawadi Mwangi", email="zawadi@example.com", phone_number="+254711223344")
    bookings = {
        "pending": make_booking(property=stay, guest=guest, status="PENDING", check_in=day(5), nights=2, reference="NXPEND11"),
        "processing": make_booking(property=stay, status="PROCESSING", check_in=day(10), nights=3, reference="NXPROC22"),
        "confirmed": make_booking(property=stay, status="CONFIRMED", check_in=day(20), nights=1, reference="NXCONF33"),
        "canceled": make_booking(property=stay, status="CANCELED", check_in=day(40), nights=4, reference="NXCANC44"),
        "long_past": make_booking(property=stay, status="CONFIRMED", check_in=day(-90), nights=3, reference="NXPAST55"),
    }
    feed = CalendarFeed.objects.create(property=stay, url="https://93.184.215.14/airbnb.ics")
    blocks = {
        "manual": BlockedPeriod.objects.create(property=stay, start=day(30), end=day(33), reason="Owner's family visiting"),
        "imported": BlockedPeriod.objects.create(
            property=stay, start=day(50), end=day(52), reason="Reserved (from airbnb.com)", feed=feed, feed_uid="x@airbnb.com"
        ),
    }
    other = make_property(owner=OwnerFactory(), title="Someone else's flat")
    make_booking(property=other, status="CONFIRMED", check_in=day(7), nights=2, reference="NXOTHR66")
    return {"bookings": bookings, "blocks": blocks, "guest": guest}


def fetch_feed(client, stay):
    response = client.get(f"/calendar/{calendar_export_token(property_id=stay.pk)}.ics")
    assert response.status_code == 200
    return response, icalendar.Calendar.from_ical(response.content)


def test_the_feed_lists_active_bookings_and_blocks_as_all_day_ranges(client, stay, booked):
    response, calendar = fetch_feed(client, stay)
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    events = sorted(
        ((event["DTSTART"].dt, event["DTEND"].dt, str(event["SUMMARY"])) for event in calendar.walk("VEVENT")),
    )
    assert events == [
        (day(5), day(7), "Booked (Nexus)"),
        (day(10), day(13), "Booked (Nexus)"),
        (day(20), day(21), "Booked (Nexus)"),
        (day(30), day(33), "Not available (Nexus)"),
        (day(50), day(52), "Not available (Nexus)"),
    ]
    for event in calendar.walk("VEVENT"):
        # Dates, not times: DTSTART;VALUE=DATE, and DTEND is the check-out day (exclusive).
        assert type(event["DTSTART"].dt) is dt.date and type(event["DTEND"].dt) is dt.date
        assert event["DTSTART"].params.get("VALUE") == "DATE"
    text = response.content.decode()
    assert "DTEND;VALUE=DATE:" + day(13).strftime("%Y%m%d") in text


def test_the_feed_carries_no_guest_data(client, stay, booked):
    response, calendar = fetch_feed(client, stay)
    text = response.content.decode()
    guest = booked["guest"]
    for secret in (
        guest.name,
        guest.email,
        "711223344",
        "NXPEND11",
        "NXPROC22",
        "NXCONF33",
        "family visiting",
        "airbnb.com",
    ):
        assert secret not in text
    # UIDs are opaque: no kind of row, no id.
    assert all(re.fullmatch(r"[0-9a-f]{32}@nexus", str(event["UID"])) for event in calendar.walk("VEVENT"))
    assert not [event for event in calendar.walk("VEVENT") if "DESCRIPTION" in event or "ATTENDEE" in event]
    assert "NXOTHR66" not in text and len(calendar.walk("VEVENT")) == 5


def test_uids_are_stable_and_distinct(client, stay, booked):
    _, first = fetch_feed(client, stay)
    BlockedPeriod.objects.create(property=stay, start=day(60), end=day(61))
    _, second = fetch_feed(client, stay)
    first_uids = [str(event["UID"]) for event in first.walk("VEVENT")]
    second_uids = [str(event["UID"]) for event in second.walk("VEVENT")]
    assert len(set(first_uids)) == 5
    assert set(first_uids) < set(second_uids) and len(second_uids) == 6


def test_the_feed_costs_two_queries_however_many_rows(client, stay, booked, django_assert_num_queries):
    token = calendar_export_token(property_id=stay.pk)
    for offset in range(100, 160, 3):
        BlockedPeriod.objects.create(property=stay, start=day(offset), end=day(offset + 1))
    with django_assert_num_queries(2):
        response = client.get(f"/calendar/{token}.ics")
    assert len(icalendar.Calendar.from_ical(response.content).walk("VEVENT")) == 25


def test_an_unknown_token_is_a_404(client, stay, booked):
    calendar_export_token(property_id=stay.pk)
    assert client.get("/calendar/not-the-token.ics").status_code == 404
    assert client.get("/calendar/" + "A" * 200 + ".ics").status_code == 404


def test_the_token_is_long_random_and_one_per_listing(stay, site_tree):
    token = calendar_export_token(property_id=stay.pk)
    assert len(token) >= 43 and calendar_export_token(property_id=stay.pk) == token
    other = make_property(owner=stay.owner, title="Second flat")
    assert calendar_export_token(property_id=other.pk) != token


def test_regenerating_kills_the_old_address(client, stay, booked):
    old = calendar_export_token(property_id=stay.pk)
    assert client.get(f"/calendar/{old}.ics").status_code == 200
    client.force_login(stay.owner)
    url = reverse(CalendarFeed.snippet_viewset.get_url_name("regenerate_export"), args=(stay.pk,))
    confirm = client.get(url)
    assert confirm.status_code == 200 and "stops working" in confirm.content.decode()
    assert CalendarExport.objects.get(property=stay).token == old  # a GET changes nothing

    response = client.post(url)

    assert response.status_code == 302 and response["Location"] == reverse("wagtailadmin_pages:edit", args=(stay.pk,))
    new = CalendarExport.objects.get(property=stay).token
    assert new != old
    client.logout()
    assert client.get(f"/calendar/{old}.ics").status_code == 404
    assert client.get(f"/calendar/{new}.ics").status_code == 200
    assert AuditEntry.objects.filter(action="calendar_export.regenerated", actor=stay.owner).count() == 1


def test_another_owner_cannot_regenerate_or_see_the_address(client, stay, booked):
    old = calendar_export_token(property_id=stay.pk)
    client.force_login(OwnerFactory())
    url = reverse(CalendarFeed.snippet_viewset.get_url_name("regenerate_export"), args=(stay.pk,))
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert CalendarExport.objects.get(property=stay).token == old


def test_staff_can_regenerate(client, stay):
    old = calendar_export_token(property_id=stay.pk)
    client.force_login(StaffFactory())
    url = reverse(CalendarFeed.snippet_viewset.get_url_name("regenerate_export"), args=(stay.pk,))
    assert client.post(url).status_code == 302
    assert CalendarExport.objects.get(property=stay).token != old


def test_the_owner_sees_the_full_export_address_on_the_listing_edit_page(client, stay, booked):
    feed = CalendarFeed.objects.get(property=stay)
    client.force_login(stay.owner)
    page = client.get(reverse("wagtailadmin_pages:edit", args=(stay.pk,))).content.decode()
    token = CalendarExport.objects.get(property=stay).token
    assert 'id="calendar-export-url"' in page
    assert f'value="http://testserver/calendar/{token}.ics"' in page
    assert 'data-action="w-clipboard#copy"' in page
    assert reverse(CalendarFeed.snippet_viewset.get_url_name("regenerate_export"), args=(stay.pk,)) in page
    assert f'data-calendar-feed="{feed.pk}"' in page


def test_saving_the_listing_leaves_the_token_alone(client, stay):
    token = calendar_export_token(property_id=stay.pk)
    stay.title = "Amina's renamed cottage"
    stay.save_revision(user=stay.owner).publish()
    assert CalendarExport.objects.get(property=stay).token == token


def test_the_token_is_masked_in_logs():
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"GET %s HTTP/1.1" 200', ("/calendar/s3cr3t-T0ken_x.ics",), None)
    MaskCallbackTokens().filter(record)
    assert record.getMessage() == '"GET /calendar/***.ics HTTP/1.1" 200'
