"""Importing other sites' calendars end to end: a real HTTP server on 127.0.0.1 serves
Airbnb-, Booking.com- and Google-shaped .ics files (tests/fixtures/ical/), the import runs
as the schedule and the management command run it, and the blocked periods, collisions,
dashboard and emails are checked in the real database."""

import datetime as dt

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule
from rest_framework.test import APIClient

from listings.calendar.fetch import PRIVATE_ADDRESS
from listings.calendar.services import calendar_feed_sync
from listings.models import BlockedPeriod, CalendarFeed
from listings.selectors import property_list_available, property_unavailable_ranges
from reservations import tasks
from reservations.calendar_sync import calendar_collisions_for_user, calendar_feeds_import
from reservations.models import CalendarCollision
from tests.factories import OwnerFactory, StaffFactory, UserFactory, make_booking, make_property

pytestmark = pytest.mark.django_db


def day(offset: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=offset)


def spans(feed) -> list[tuple[int, int, str]]:
    """The feed's blocks as (start, end) offsets from today, with their reason."""
    today = timezone.localdate()
    return [
        ((block.start - today).days, (block.end - today).days, block.reason)
        for block in BlockedPeriod.objects.filter(feed=feed).order_by("start")
    ]


@pytest.fixture
def stay(site_tree):
    return make_property(owner=OwnerFactory(name="Amina Owner", email="amina@example.com"), title="Amina's cottage")


def add_feed(stay, url) -> CalendarFeed:
    return CalendarFeed.objects.create(property=stay, url=url, created_by=stay.owner)


def run_import(capture, **kwargs):
    """Run the import with its on-commit tasks (emails) executed, as the worker would."""
    with capture(execute=True):
        return calendar_feeds_import(**kwargs)


# --- Airbnb: add, change, remove ----------------------------------------------------------------


def test_airbnb_feed_becomes_blocked_periods_with_exclusive_end_dates(stay, ical_server, django_capture_on_commit_callbacks):
    feed = add_feed(stay, ical_server.serve_fixture("/airbnb.ics", "airbnb.ics", etag='"a1"'))

    [outcome] = run_import(django_capture_on_commit_callbacks)

    assert (outcome.status, outcome.created) == ("updated", 3)
    # The stay already under way is kept whole; the one that ended 15 days ago is not imported.
    assert spans(feed) == [
        (-2, 1, "Reserved (from 127.0.0.1)"),
        (10, 14, "Reserved (from 127.0.0.1)"),
        (30, 33, "Airbnb (Not available) (from 127.0.0.1)"),
    ]
    feed.refresh_from_db()
    assert feed.etag == '"a1"' and feed.last_error == "" and feed.last_synced_at is not None
    # Check-out day is free again; the nights before it are not.
    assert property_unavailable_ranges(property=stay, start=day(5), end=day(40)) == [
        (day(10), day(14)),
        (day(30), day(33)),
    ]
    assert not property_list_available(check_in=day(13), check_out=day(15)).filter(pk=stay.pk).exists()
    assert property_list_available(check_in=day(14), check_out=day(16)).filter(pk=stay.pk).exists()


def test_a_night_sold_on_airbnb_can_no_longer_be_booked_here(stay, ical_server, django_capture_on_commit_callbacks):
    add_feed(stay, ical_server.serve_fixture("/airbnb.ics", "airbnb.ics"))
    run_import(django_capture_on_commit_callbacks)
    guest = APIClient()
    guest.force_authenticate(UserFactory())
    body = {"property": stay.pk, "check_in": day(13).isoformat(), "check_out": day(15).isoformat(), "guests": []}
    refused = guest.post("/api/bookings/", body, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "dates_unavailable")
    body.update(check_in=day(14).isoformat(), check_out=day(16).isoformat())  # the check-out day is free
    assert guest.post("/api/bookings/", body, format="json").status_code == 201


def test_the_guest_details_in_airbnb_descriptions_are_never_stored(stay, ical_server, django_capture_on_commit_callbacks):
    feed = add_feed(stay, ical_server.serve_fixture("/airbnb.ics", "airbnb.ics"))
    run_import(django_capture_on_commit_callbacks)
    stored = " ".join(BlockedPeriod.objects.filter(feed=feed).values_list("reason", flat=True))
    for detail in ("4821", "5567", "HMQ4TZ8YXE", "airbnb.com/hosting"):
        assert detail not in stored


def test_a_moved_event_moves_its_block_and_a_vanished_event_unblocks(stay, ical_server, django_capture_on_commit_callbacks):
    feed = add_feed(stay, ical_server.serve_fixture("/airbnb.ics", "airbnb.ics", etag='"a1"'))
    run_import(django_capture_on_commit_callbacks)
    moved_block = BlockedPeriod.objects.get(feed=feed, start=day(10))
    manual = BlockedPeriod.objects.create(property=stay, start=day(30), end=day(31), reason="Roof repairs")

    ical_server.serve_fixture("/airbnb.ics", "airbnb_moved.ics", etag='"a2"')
    [outcome] = run_import(django_capture_on_commit_callbacks)

    assert (outcome.created, outcome.updated, outcome.deleted) == (1, 1, 1)
    assert spans(feed) == [
        (-2, 1, "Reserved (from 127.0.0.1)"),
        (12, 16, "Reserved (from 127.0.0.1)"),
        (50, 53, "Reserved (from 127.0.0.1)"),
    ]
    # The same row, moved (same event UID), not a new block beside the old one.
    assert BlockedPeriod.objects.get(feed=feed, start=day(12)).pk == moved_block.pk
    # The "Not available" nights 30-33 are free again, except the hand-made block, untouched.
    manual.refresh_from_db()
    assert (manual.start, manual.end, manual.reason, manual.feed_id) == (day(30), day(31), "Roof repairs", None)
    assert property_unavailable_ranges(property=stay, start=day(29), end=day(34)) == [(day(30), day(31))]


def test_an_emptied_feed_unblocks_everything_ahead_but_leaves_the_past(stay, ical_server, django_capture_on_commit_callbacks):
    feed = add_feed(stay, ical_server.serve_fixture("/airbnb.ics", "airbnb.ics"))
    run_import(django_capture_on_commit_callbacks)
    past = BlockedPeriod.objects.create(
        property=stay, feed=feed, feed_uid="old@airbnb.com", start=day(-10), end=day(-7), reason="Reserved"
    )
    ical_server.serve("/airbnb.ics", b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Airbnb Inc//EN\r\nEND:VCALENDAR\r\n")

    [outcome] = run_import(django_capture_on_commit_callbacks)

    assert outcome.deleted == 3
    assert list(BlockedPeriod.objects.filter(feed=feed).values_list("pk", flat=True)) == [past.pk]


def test_importing_twice_changes_nothing(stay, ical_server, django_capture_on_commit_callbacks):
    feed = add_feed(stay, ical_server.serve_fixture("/airbnb.ics", "airbnb.ics"))
    run_import(django_capture_on_commit_callbacks)
    before = list(BlockedPeriod.objects.filter(feed=feed).values_list("pk", "start", "end", "reason"))
    [outcome] = run_import(django_capture_on_commit_callbacks)
    assert (outcome.status, outcome.created, outcome.updated, outcome.deleted) == ("updated", 0, 0, 0)
    assert list(BlockedPeriod.objects.filter(feed=feed).values_list("pk", "start", "end", "reason")) == before


# --- conditional GET ---------------------------------------------------------------------------


def test_an_unchanged_feed_answers_304_and_nothing_is_rewritten(stay, ical_server, django_capture_on_commit_callbacks):
    feed = add_feed(
        stay,
        ical_server.serve_fixture(
            "/airbnb.ics", "airbnb.ics", etag='"v7"', last_modified="Tue, 01 Dec 2026 08:00:00 GMT"
        ),
    )
    run_import(django_capture_on_commit_callbacks)
    feed.refresh_from_db()
    first_sync = feed.last_synced_at
    blocks = list(BlockedPeriod.objects.filter(feed=feed).values_list("pk", "start", "end"))

    [outcome] = run_import(django_capture_on_commit_callbacks)

    assert outcome.status == "unchanged"
    hits = ical_server.hits_of("/airbnb.ics")
    assert len(hits) == 2
    assert hits[1].headers["if-none-match"] == '"v7"'
    assert hits[1].headers["if-modified-since"] == "Tue, 01 Dec 2026 08:00:00 GMT"
    feed.refresh_from_db()
    assert feed.last_synced_at > first_sync and feed.etag == '"v7"'
    assert list(BlockedPeriod.objects.filter(feed=feed).values_list("pk", "start", "end")) == blocks


def test_a_feed_that_changes_after_a_304_is_imported_again(stay, ical_server, django_capture_on_commit_callbacks):
    feed = add_feed(stay, ical_server.serve_fixture("/airbnb.ics", "airbnb.ics", etag='"v1"'))
    run_import(django_capture_on_commit_callbacks)
    run_import(django_capture_on_commit_callbacks)  # 304
    ical_server.serve_fixture("/airbnb.ics", "airbnb_moved.ics", etag='"v2"')
    [outcome] = run_import(django_capture_on_commit_callbacks)
    assert outcome.status == "updated"
    assert [s[:2] for s in spans(feed)] == [(-2, 1), (12, 16), (50, 53)]
    feed.refresh_from_db()
    assert feed.etag == '"v2"'


# --- Booking.com, time zones, recurring events ----------------------------------------------------


def test_booking_com_closed_dates_are_imported(stay, ical_server, django_capture_on_commit_callbacks):
    feed = add_feed(stay, ical_server.serve_fixture("/booking.ics", "booking_com.ics"))
    run_import(django_capture_on_commit_callbacks)
    assert spans(feed) == [
        (20, 23, "CLOSED - Not available (from 127.0.0.1)"),
        (60, 61, "CLOSED - Not available (from 127.0.0.1)"),
    ]


def test_time_zones_recurring_rules_and_free_or_cancelled_events(stay, ical_server, django_capture_on_commit_callbacks):
    feed = add_feed(stay, ical_server.serve_fixture("/google.ics", "google_timezones_and_rules.ics"))
    run_import(django_capture_on_commit_callbacks)
    assert [s[:2] for s in spans(feed)] == [
        # 20:00-23:00 in New York is 03:00-07:00 the next day in Nairobi: that night is taken.
        (41, 42),
        # 15:00 Nairobi on day 45 to 11:00 on day 47: every day it touches.
        (45, 48),
        # 23:00 on day 48 to midnight after day 49: day 50 is not touched.
        (48, 50),
        # Weekly, three times (RRULE COUNT=3).
        (70, 71),
        (77, 78),
        (84, 85),
        # An all-day event without DTEND: one night.
        (100, 101),
    ]
    # Cancelled (90-92) and transparent (95) events take nothing.
    keys = set(BlockedPeriod.objects.filter(feed=feed).values_list("feed_uid", flat=True))
    assert not any("called-off" in key or "reminder" in key for key in keys)
    assert sum("weekly-cleaning@google.com#" in key for key in keys) == 3


# --- bad feeds, one at a time ---------------------------------------------------------------------


def test_a_broken_feed_records_its_error_keeps_its_blocks_and_stops_no_other(stay, ical_server, django_capture_on_commit_callbacks):
    broken = add_feed(stay, ical_server.serve_fixture("/airbnb.ics", "airbnb.ics"))
    run_import(django_capture_on_commit_callbacks)
    kept = spans(broken)
    good = add_feed(stay, ical_server.serve_fixture("/booking.ics", "booking_com.ics"))
    ical_server.serve("/airbnb.ics", b"<html><body>Maintenance</body></html>", headers={"Content-Type": "text/html"})
    also_broken = add_feed(stay, ical_server.url("/missing.ics"))

    outcomes = run_import(django_capture_on_commit_callbacks)

    assert [o.status for o in outcomes] == ["failed", "updated", "failed"]
    broken.refresh_from_db()
    also_broken.refresh_from_db()
    good.refresh_from_db()
    assert broken.last_error == "The address did not return an iCalendar (.ics) file."
    assert also_broken.last_error == "The calendar server answered HTTP 404."
    assert good.last_error == "" and good.last_synced_at is not None
    assert spans(broken) == kept  # a feed that cannot be read unblocks nothing


def test_a_private_address_stored_before_the_rules_is_refused_at_fetch_time(stay, ical_server, settings, django_capture_on_commit_callbacks):
    """The check at fetch time stands on its own: DNS may have changed since the feed was added."""
    feed = add_feed(stay, ical_server.serve_fixture("/airbnb.ics", "airbnb.ics"))
    settings.CALENDAR_IMPORT_ALLOWED_HOSTS = []
    [outcome] = run_import(django_capture_on_commit_callbacks)
    assert outcome.status == "failed"
    feed.refresh_from_db()
    assert feed.last_error == PRIVATE_ADDRESS
    assert ical_server.hits == []
    assert not BlockedPeriod.objects.filter(feed=feed).exists()


def test_a_success_clears_the_last_error(stay, ical_server, django_capture_on_commit_callbacks):
    feed = add_feed(stay, ical_server.serve("/airbnb.ics", b"", status=503))
    run_import(django_capture_on_commit_callbacks)
    feed.refresh_from_db()
    assert feed.last_error == "The calendar server answered HTTP 503."
    ical_server.serve_fixture("/airbnb.ics", "airbnb.ics")
    run_import(django_capture_on_commit_callbacks)
    feed.refresh_from_db()
    assert feed.last_error == ""


def test_a_feed_removed_during_its_import_is_left_alone(stay, ical_server):
    feed = add_feed(stay, ical_server.serve_fixture("/airbnb.ics", "airbnb.ics"))
    feed_id = feed.pk
    feed.delete()
    assert calendar_feed_sync(feed_id=feed_id).status == "gone"


# --- collisions with bookings ----------------------------------------------------------------------


@pytest.fixture
def collision_world(stay, ical_server, site_tree):
    other_owner = OwnerFactory(name="Kip Owner", email="kip@example.com")
    make_property(owner=other_owner, title="Kip's farmhouse")
    staff = StaffFactory(name="Wanjiru Staff", email="wanjiru@example.com")
    guest = UserFactory(name="Achieng Guest", email="achieng@example.com")
    # Nights 11 and 12 were sold here; Airbnb's reservation covers 10 to 14.
    booking = make_booking(property=stay, guest=guest, status="CONFIRMED", check_in=day(11), nights=2, reference="NXCOLL22")
    # A cancelled booking over the "Not available" nights is no collision.
    make_booking(property=stay, status="CANCELED", check_in=day(30), nights=2, reference="NXGONE33")
    feed = add_feed(stay, ical_server.serve_fixture("/airbnb.ics", "airbnb.ics", etag='"c1"'))
    return {"feed": feed, "booking": booking, "staff": staff, "other_owner": other_owner, "guest": guest}


def test_a_block_colliding_with_a_booking_is_kept_and_flagged(stay, collision_world, django_capture_on_commit_callbacks):
    run_import(django_capture_on_commit_callbacks)
    block = BlockedPeriod.objects.get(feed=collision_world["feed"], start=day(10))
    assert block.end == day(14)  # stored whole, over the booking's nights
    [collision] = CalendarCollision.objects.all()
    assert (collision.blocked_period_id, collision.booking_id) == (block.pk, collision_world["booking"].pk)
    assert collision.notified_at is not None


def test_the_collision_is_emailed_once_to_the_owner_and_staff(stay, collision_world, django_capture_on_commit_callbacks):
    run_import(django_capture_on_commit_callbacks)
    [message] = mail.outbox
    assert message.to == ["amina@example.com"]
    assert message.bcc == ["wanjiru@example.com"]
    assert "NXCOLL22" in message.subject and "Amina's cottage" in message.subject
    assert "sold twice" in message.body
    # The guest is not told, and the email names no guest.
    assert "achieng@example.com" not in message.to + message.bcc and "Achieng" not in message.body

    run_import(django_capture_on_commit_callbacks)  # 304: the same collision, checked again
    assert len(mail.outbox) == 1
    assert CalendarCollision.objects.count() == 1


def test_a_moved_event_that_collides_again_is_not_emailed_again(stay, collision_world, ical_server, django_capture_on_commit_callbacks):
    run_import(django_capture_on_commit_callbacks)
    ical_server.serve_fixture("/airbnb.ics", "airbnb_moved.ics", etag='"c2"')  # 12-16, still over night 12
    run_import(django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    assert CalendarCollision.objects.count() == 1


def test_a_booking_made_after_the_block_is_flagged_at_the_next_run(stay, collision_world, django_capture_on_commit_callbacks):
    run_import(django_capture_on_commit_callbacks)
    # A race the availability check lost: a booking over the imported "Not available" nights.
    make_booking(property=stay, status="PENDING", check_in=day(31), nights=1, reference="NXLATE44")
    run_import(django_capture_on_commit_callbacks)  # the feed answers 304: the stored blocks are checked anyway
    assert set(CalendarCollision.objects.values_list("booking__reference", flat=True)) == {"NXCOLL22", "NXLATE44"}
    assert len(mail.outbox) == 2 and "NXLATE44" in mail.outbox[1].subject


def test_collisions_show_on_the_owners_dashboard_and_staffs_not_another_owners(client, stay, collision_world, django_capture_on_commit_callbacks):
    run_import(django_capture_on_commit_callbacks)

    client.force_login(stay.owner)
    page = client.get(reverse("wagtailadmin_home")).content.decode()
    assert 'id="nexus-calendar-collisions-section"' in page and "NXCOLL22" in page
    assert 'data-calendar-collision-count="1"' in page

    client.force_login(collision_world["staff"])
    page = client.get(reverse("wagtailadmin_home")).content.decode()
    assert 'id="nexus-calendar-collisions-section"' in page and "NXCOLL22" in page

    client.force_login(collision_world["other_owner"])
    page = client.get(reverse("wagtailadmin_home")).content.decode()
    assert "nexus-calendar-collisions" not in page and "NXCOLL22" not in page
    assert calendar_collisions_for_user(user=collision_world["other_owner"]).count == 0
    assert calendar_collisions_for_user(user=collision_world["guest"]) is None


def test_a_collision_leaves_the_dashboard_when_the_booking_is_cancelled(stay, collision_world, django_capture_on_commit_callbacks):
    run_import(django_capture_on_commit_callbacks)
    assert calendar_collisions_for_user(user=stay.owner).count == 1
    booking = collision_world["booking"]
    booking.status = "CANCELED"
    booking.save(update_fields=["status"])
    assert calendar_collisions_for_user(user=stay.owner).count == 0


# --- the schedule and the command ------------------------------------------------------------------


def test_the_schedule_runs_every_15_minutes():
    schedule = Schedule.objects.get(name="calendar_feeds_import")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "reservations.tasks.calendar_feeds_import",
        Schedule.MINUTES,
        15,
        -1,
    )


def test_the_scheduled_task_imports_every_feed(stay, ical_server, django_capture_on_commit_callbacks):
    airbnb = add_feed(stay, ical_server.serve_fixture("/airbnb.ics", "airbnb.ics"))
    booking_com = add_feed(stay, ical_server.serve_fixture("/booking.ics", "booking_com.ics"))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.calendar_feeds_import() == 2  # one task per feed, run at once by the test settings
    airbnb.refresh_from_db()
    booking_com.refresh_from_db()
    assert airbnb.last_synced_at and booking_com.last_synced_at
    assert BlockedPeriod.objects.filter(feed__isnull=False).count() == 5


def test_manage_py_import_calendars(stay, ical_server, capsys):
    airbnb = add_feed(stay, ical_server.serve_fixture("/airbnb.ics", "airbnb.ics"))
    booking_com = add_feed(stay, ical_server.serve_fixture("/booking.ics", "booking_com.ics"))

    call_command("import_calendars", "--feed", str(booking_com.pk))
    out = capsys.readouterr().out
    assert f"feed {booking_com.pk}: updated (+2 ~0 -0)" in out and f"feed {airbnb.pk}" not in out

    call_command("import_calendars")
    out = capsys.readouterr().out
    assert f"feed {airbnb.pk}: updated (+3 ~0 -0)" in out
    assert f"feed {booking_com.pk}: updated (+0 ~0 -0)" in out
    assert "2 calendar(s) imported, 0 failed." in out

    with pytest.raises(CommandError, match="No calendar feed"):
        call_command("import_calendars", "--feed", "999999")
