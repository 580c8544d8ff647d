"""The owners' calendar sync API and the "Imported calendars" admin screens: what an owner may
add (public http/https calendars only), and that another owner sees none of it."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import AuditEntry
from listings.calendar.fetch import PRIVATE_ADDRESS
from listings.calendar.services import MAX_FEEDS_PER_PROPERTY, calendar_export_token
from listings.models import BlockedPeriod, CalendarFeed
from tests.factories import OwnerFactory, StaffFactory, UserFactory, make_property

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://93.184.215.14/calendar/ical/4417.ics?s=1f0e"


@pytest.fixture
def world(site_tree):
    amina, kip = OwnerFactory(name="Amina"), OwnerFactory(name="Kip")
    return {
        "amina": amina,
        "kip": kip,
        "stay": make_property(owner=amina, title="Amina's cottage"),
        "kips": make_property(owner=kip, title="Kip's farmhouse"),
    }


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def feeds_url(property_id) -> str:
    return f"/api/owner/properties/{property_id}/calendar-feeds/"


# --- API -----------------------------------------------------------------------------------------


def test_owner_reads_the_export_address_and_imports(world):
    stay = world["stay"]
    feed = CalendarFeed.objects.create(property=stay, url=PUBLIC_URL, last_error="The calendar server answered HTTP 500.")
    response = client_for(world["amina"]).get(feeds_url(stay.pk))
    assert response.status_code == 200
    token = calendar_export_token(property_id=stay.pk)
    assert response.json() == {
        "export_url": f"http://testserver/calendar/{token}.ics",
        "imports": [
            {
                "id": feed.pk,
                "url": PUBLIC_URL,
                "last_synced_at": None,
                "last_error": "The calendar server answered HTTP 500.",
            }
        ],
    }
    # The address works, without signing in.
    assert APIClient().get(f"/calendar/{token}.ics").status_code == 200


def test_owner_adds_a_public_calendar(world):
    stay = world["stay"]
    response = client_for(world["amina"]).post(feeds_url(stay.pk), {"url": f"  {PUBLIC_URL} "}, format="json")
    assert response.status_code == 201, response.json()
    feed = CalendarFeed.objects.get(property=stay)
    assert response.json() == {"id": feed.pk, "url": PUBLIC_URL, "last_synced_at": None, "last_error": None}
    assert feed.created_by == world["amina"]
    assert AuditEntry.objects.filter(action="calendar_feed.added", object_id=str(feed.pk)).exists()


def test_owner_adds_the_local_test_server_that_settings_allow(world, ical_server):
    url = ical_server.serve_fixture("/airbnb.ics", "airbnb.ics")
    response = client_for(world["amina"]).post(feeds_url(world["stay"].pk), {"url": url}, format="json")
    assert response.status_code == 201
    assert ical_server.hits == []  # added, not fetched: the schedule or import_calendars fetches it


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://93.184.215.14/calendar.ics", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("https://", "valid web address"),
        ("http://127.0.0.1/calendar.ics", PRIVATE_ADDRESS),
        ("http://localhost:8000/calendar.ics", PRIVATE_ADDRESS),
        ("http://10.1.2.3/calendar.ics", PRIVATE_ADDRESS),
        ("http://192.168.0.10/calendar.ics", PRIVATE_ADDRESS),
        ("http://169.254.169.254/latest/meta-data/", PRIVATE_ADDRESS),
        ("http://[::1]/calendar.ics", PRIVATE_ADDRESS),
        ("http://[fe80::1]/calendar.ics", PRIVATE_ADDRESS),
    ],
)
def test_bad_and_private_addresses_are_refused_with_a_field_error(world, settings, url, message):
    settings.CALENDAR_IMPORT_ALLOWED_HOSTS = []
    response = client_for(world["amina"]).post(feeds_url(world["stay"].pk), {"url": url}, format="json")
    assert response.status_code == 400
    assert message in response.json()["url"][0]
    assert not CalendarFeed.objects.exists()


def test_missing_duplicate_too_many_and_own_addresses_are_refused(world):
    stay, client = world["stay"], client_for(world["amina"])
    assert client.post(feeds_url(stay.pk), {}, format="json").json() == {"url": ["This field is required."]}
    assert client.post(feeds_url(stay.pk), {"url": PUBLIC_URL}, format="json").status_code == 201
    duplicate = client.post(feeds_url(stay.pk), {"url": PUBLIC_URL}, format="json")
    assert duplicate.status_code == 400 and "already imported" in duplicate.json()["url"][0]

    own = f"https://93.184.215.14/calendar/{calendar_export_token(property_id=stay.pk)}.ics"
    refused = client.post(feeds_url(stay.pk), {"url": own}, format="json")
    assert refused.status_code == 400 and "own export address" in refused.json()["url"][0]

    for n in range(MAX_FEEDS_PER_PROPERTY - 1):
        CalendarFeed.objects.create(property=stay, url=f"{PUBLIC_URL}&n={n}")
    too_many = client.post(feeds_url(stay.pk), {"url": PUBLIC_URL + "&n=last"}, format="json")
    assert too_many.status_code == 400 and "at most" in too_many.json()["url"][0]


def test_owner_deletes_a_feed_and_its_blocks_go_with_it(world):
    stay = world["stay"]
    feed = CalendarFeed.objects.create(property=stay, url=PUBLIC_URL)
    today = timezone.localdate()
    BlockedPeriod.objects.create(property=stay, feed=feed, feed_uid="a@airbnb.com", start=today, end=today + dt.timedelta(days=2))
    manual = BlockedPeriod.objects.create(property=stay, start=today, end=today + dt.timedelta(days=1), reason="Repairs")

    response = client_for(world["amina"]).delete(f"{feeds_url(stay.pk)}{feed.pk}/")

    assert response.status_code == 204
    assert not CalendarFeed.objects.filter(pk=feed.pk).exists()
    assert list(BlockedPeriod.objects.filter(property=stay)) == [manual]


def test_another_owners_listing_and_feeds_are_404(world):
    kips = world["kips"]
    feed = CalendarFeed.objects.create(property=kips, url=PUBLIC_URL)
    amina = client_for(world["amina"])
    for response in (
        amina.get(feeds_url(kips.pk)),
        amina.post(feeds_url(kips.pk), {"url": PUBLIC_URL + "&x"}, format="json"),
        amina.delete(f"{feeds_url(kips.pk)}{feed.pk}/"),
        # Kip's feed through Amina's own listing's path:
        amina.delete(f"{feeds_url(world['stay'].pk)}{feed.pk}/"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert CalendarFeed.objects.filter(property=kips).count() == 1
    assert not CalendarFeed.objects.filter(property=world["stay"]).exists()


def test_guests_are_refused_and_anonymous_callers_must_sign_in(world):
    stay = world["stay"]
    guest = client_for(UserFactory())
    assert guest.get(feeds_url(stay.pk)).status_code == 403
    assert guest.post(feeds_url(stay.pk), {"url": PUBLIC_URL}, format="json").status_code == 403
    assert APIClient().get(feeds_url(stay.pk)).status_code == 401
    assert not CalendarFeed.objects.exists()


def test_staff_manage_any_listings_calendars(world):
    staff = client_for(StaffFactory())
    assert staff.get(feeds_url(world["kips"].pk)).status_code == 200
    assert staff.post(feeds_url(world["kips"].pk), {"url": PUBLIC_URL}, format="json").status_code == 201


def test_unknown_and_huge_ids_are_404(world):
    amina = client_for(world["amina"])
    assert amina.get(feeds_url(999_999)).status_code == 404
    assert amina.get(feeds_url(2**40)).status_code == 404
    assert amina.delete(f"{feeds_url(world['stay'].pk)}{2**40}/").status_code == 404


def test_the_endpoints_are_in_the_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operations = schema["paths"]["/api/owner/properties/{property_id}/calendar-feeds/"]
    assert {"get", "post"} <= set(operations)
    assert "201" in operations["post"]["responses"] and "400" in operations["post"]["responses"]
    delete = schema["paths"]["/api/owner/properties/{property_id}/calendar-feeds/{import_id}/"]["delete"]
    assert "204" in delete["responses"] and "404" in delete["responses"]


# --- admin: the "Imported calendars" snippet ------------------------------------------------------


def admin_url(name, *args):
    return reverse(CalendarFeed.snippet_viewset.get_url_name(name), args=args)


def test_owner_lists_only_their_own_feeds(client, world):
    CalendarFeed.objects.create(property=world["stay"], url=PUBLIC_URL)
    CalendarFeed.objects.create(property=world["kips"], url="https://93.184.215.14/kips-secret.ics")
    client.force_login(world["amina"])
    page = client.get(admin_url("list")).content.decode()
    assert "Amina&#x27;s cottage" in page and "kips-secret" not in page


def test_owner_adds_a_feed_in_the_admin_for_their_own_listing_only(client, world, settings):
    client.force_login(world["amina"])
    form = client.get(admin_url("add") + f"?property={world['stay'].pk}").content.decode()
    assert "Kip&#x27;s farmhouse" not in form
    assert f'<option value="{world["stay"].pk}" selected>' in form

    settings.CALENDAR_IMPORT_ALLOWED_HOSTS = []
    refused = client.post(admin_url("add"), {"property": world["stay"].pk, "url": "http://169.254.169.254/latest/"})
    assert refused.status_code == 200 and PRIVATE_ADDRESS.replace("'", "&#x27;") in refused.content.decode()
    sneaky = client.post(admin_url("add"), {"property": world["kips"].pk, "url": PUBLIC_URL})
    assert sneaky.status_code == 200 and not CalendarFeed.objects.exists()

    added = client.post(admin_url("add"), {"property": world["stay"].pk, "url": PUBLIC_URL})
    assert added.status_code == 302
    feed = CalendarFeed.objects.get()
    assert (feed.property_id, feed.created_by) == (world["stay"].pk, world["amina"])


def test_another_owners_feed_is_404_in_every_admin_view(client, world):
    feed = CalendarFeed.objects.create(property=world["kips"], url=PUBLIC_URL)
    client.force_login(world["amina"])
    for name in ("edit", "delete", "history", "usage"):
        assert client.get(admin_url(name, feed.pk)).status_code == 404, name
    assert client.post(admin_url("delete", feed.pk)).status_code == 404
    assert CalendarFeed.objects.filter(pk=feed.pk).exists()


def test_changing_a_feeds_address_forgets_the_old_validators(client, world):
    feed = CalendarFeed.objects.create(property=world["stay"], url=PUBLIC_URL, etag='"x"', last_error="HTTP 500")
    client.force_login(world["amina"])
    response = client.post(admin_url("edit", feed.pk), {"property": world["kips"].pk, "url": PUBLIC_URL + "&new=1"})
    assert response.status_code == 302
    feed.refresh_from_db()
    assert (feed.url, feed.etag, feed.last_error) == (PUBLIC_URL + "&new=1", "", "")
    assert feed.property_id == world["stay"].pk  # a feed stays with its listing


def test_imported_blocks_are_read_only_in_the_admin(client, world):
    stay = world["stay"]
    feed = CalendarFeed.objects.create(property=stay, url=PUBLIC_URL)
    today = timezone.localdate()
    imported = BlockedPeriod.objects.create(property=stay, feed=feed, feed_uid="a", start=today, end=today + dt.timedelta(days=2))
    manual = BlockedPeriod.objects.create(property=stay, start=today + dt.timedelta(days=5), end=today + dt.timedelta(days=6))
    client.force_login(world["amina"])
    edit = reverse(BlockedPeriod.snippet_viewset.get_url_name("edit"), args=(imported.pk,))
    delete = reverse(BlockedPeriod.snippet_viewset.get_url_name("delete"), args=(imported.pk,))
    assert client.get(edit).status_code in (302, 403)
    assert client.post(delete).status_code in (302, 403)
    assert BlockedPeriod.objects.filter(pk=imported.pk).exists()
    manual_edit = reverse(BlockedPeriod.snippet_viewset.get_url_name("edit"), args=(manual.pk,))
    assert client.get(manual_edit).status_code == 200
    # Another owner learns nothing: 404, not "forbidden".
    client.force_login(world["kip"])
    assert client.get(edit).status_code == 404
    assert client.post(delete).status_code == 404
