"""Owners work on their own listings only, in Wagtail's admin; staff on all of them."""

import pytest
from django.urls import reverse

from listings.models import Amenity, BlockedPeriod, PropertyPage
from tests.factories import (
    OwnerFactory,
    StaffFactory,
    future_date,
    make_booking,
    make_property,
)

pytestmark = pytest.mark.django_db


def _url(name, *args):
    return reverse(BlockedPeriod.snippet_viewset.get_url_name(name), args=args)


def _refused(response) -> bool:
    """Wagtail answers a permission failure with 403 or a redirect to the dashboard; 404 hides the object."""
    if response.status_code in (403, 404):
        return True
    return response.status_code == 302 and "/edit/" not in response["Location"]


@pytest.fixture
def two_owners(site_tree):
    amina, kip = OwnerFactory(name="Amina"), OwnerFactory(name="Kip")
    return (
        amina,
        kip,
        make_property(owner=amina, title="Amina's cottage", index=site_tree),
        make_property(owner=kip, title="Kip's farmhouse", index=site_tree),
    )


# --- pages --------------------------------------------------------------------------------------


def test_owner_edits_their_own_listing(client, two_owners):
    amina, _, own, _ = two_owners
    client.force_login(amina)
    assert client.get(f"/admin/pages/{own.pk}/edit/").status_code == 200


def test_owner_cannot_open_another_owners_listing_editor(client, two_owners):
    amina, _, _, others = two_owners
    client.force_login(amina)
    assert _refused(client.get(f"/admin/pages/{others.pk}/edit/"))
    response = client.post(f"/admin/pages/{others.pk}/edit/", {"title": "Hijacked", "slug": others.slug})
    assert _refused(response)
    others.refresh_from_db()
    assert others.title == "Kip's farmhouse"


@pytest.mark.parametrize(
    "action",
    ["unpublish", "delete", "move", "copy", "history", "revisions/compare/earliest...latest", "lock", "usage"],
)
def test_publish_rights_on_the_index_do_not_reach_another_owners_listing(client, two_owners, action):
    """Owners hold "publish" on the index; that alone would let them unpublish, delete or
    move any listing below it. Only their own are theirs."""
    amina, _, _, others = two_owners
    client.force_login(amina)
    url = f"/admin/pages/{others.pk}/{action}/"
    response = client.get(url)
    assert _refused(response) or (action == "lock" and response.status_code == 405), url
    client.post(url, {"include_descendants": "on"})
    others.refresh_from_db()
    assert others.live
    assert not others.locked
    assert PropertyPage.objects.filter(pk=others.pk).exists()


@pytest.mark.parametrize("action", ["unpublish", "delete"])
def test_page_bulk_actions_skip_another_owners_listing(client, two_owners, action):
    amina, _, _, others = two_owners
    client.force_login(amina)
    client.post(f"/admin/bulk/wagtailcore/page/{action}/?id={others.pk}", {"include_descendants": "on"})
    others.refresh_from_db()
    assert others.live


def test_owner_can_unpublish_their_own_listing(client, two_owners):
    amina, _, own, _ = two_owners
    client.force_login(amina)
    assert client.post(f"/admin/pages/{own.pk}/unpublish/").status_code == 302
    own.refresh_from_db()
    assert not own.live


def test_owner_creates_and_publishes_a_listing_they_then_own(client, site_tree):
    owner = OwnerFactory()
    client.force_login(owner)
    url = f"/admin/pages/add/listings/propertypage/{site_tree.pk}/"
    assert client.get(url).status_code == 200
    form = {
        "title": "New lodge",
        "slug": "new-lodge",
        "description": '{"blocks": [], "entityMap": {}}',
        "area": "Karen",
        "town": "Nairobi",
        "price_per_night": "7000",
        "max_guests": "4",
        "min_nights": "1",
        "max_nights": "30",  # the editor pre-fills both with their defaults
        "min_deposit_percent": "20",
        "availability_status": "available",
        "cancellation_policy": "moderate",
        "gallery_images-TOTAL_FORMS": "0",
        "gallery_images-INITIAL_FORMS": "0",
        "gallery_images-MIN_NUM_FORMS": "0",
        "gallery_images-MAX_NUM_FORMS": "1000",
        "seasonal_prices-TOTAL_FORMS": "0",
        "seasonal_prices-INITIAL_FORMS": "0",
        "seasonal_prices-MIN_NUM_FORMS": "0",
        "seasonal_prices-MAX_NUM_FORMS": "50",
        "action-publish": "action-publish",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    page = PropertyPage.objects.get(slug="new-lodge")
    assert page.owner == owner
    assert page.live


def test_staff_edit_every_listing(client, two_owners):
    staff = StaffFactory()
    client.force_login(staff)
    for page in two_owners[2:]:
        assert client.get(f"/admin/pages/{page.pk}/edit/").status_code == 200


def test_explorer_lists_only_the_owners_listings(client, two_owners, site_tree):
    amina, _, _, _ = two_owners
    client.force_login(amina)
    html = client.get(f"/admin/pages/{site_tree.pk}/").content.decode()
    assert "Amina&#x27;s cottage" in html or "Amina's cottage" in html
    assert "farmhouse" not in html


# --- blocked periods ----------------------------------------------------------------------------


def test_owner_sees_only_blocks_of_their_properties(client, two_owners):
    amina, _, own, others = two_owners
    mine = BlockedPeriod.objects.create(property=own, start=future_date(5), end=future_date(7), reason="Painting")
    theirs = BlockedPeriod.objects.create(
        property=others, start=future_date(5), end=future_date(7), reason="Kip's roof"
    )
    client.force_login(amina)
    listing = client.get(_url("list"))
    assert listing.status_code == 200
    assert "Painting" in listing.content.decode()
    assert "Kip&#x27;s roof" not in listing.content.decode() and "Kip's roof" not in listing.content.decode()
    assert client.get(_url("edit", mine.pk)).status_code == 200
    for name in ("edit", "delete", "history", "usage"):
        assert client.get(_url(name, theirs.pk)).status_code == 404, name
    client.post(_url("delete", theirs.pk))
    assert BlockedPeriod.objects.filter(pk=theirs.pk).exists()


def test_bulk_delete_skips_another_owners_blocks(client, two_owners):
    amina, _, own, others = two_owners
    mine = BlockedPeriod.objects.create(property=own, start=future_date(5), end=future_date(7))
    theirs = BlockedPeriod.objects.create(property=others, start=future_date(5), end=future_date(7))
    client.force_login(amina)
    url = f"/admin/bulk/listings/blockedperiod/delete/?id={mine.pk}&id={theirs.pk}"
    response = client.post(url)
    assert response.status_code in (200, 302)
    assert BlockedPeriod.objects.filter(pk=theirs.pk).exists()
    assert not BlockedPeriod.objects.filter(pk=mine.pk).exists()


def test_block_form_offers_only_the_owners_properties(client, two_owners):
    amina, _, own, others = two_owners
    client.force_login(amina)
    html = client.get(_url("add")).content.decode()
    assert f'value="{own.pk}"' in html
    assert f'value="{others.pk}"' not in html

    response = client.post(_url("add"), {"property": others.pk, "start": future_date(3), "end": future_date(5)})
    assert response.status_code == 200  # the form again, with an error
    assert not BlockedPeriod.objects.exists()

    response = client.post(
        _url("add"), {"property": own.pk, "start": future_date(3), "end": future_date(5), "reason": "Repairs"}
    )
    assert response.status_code == 302
    block = BlockedPeriod.objects.get()
    assert (block.property_id, block.created_by) == (own.pk, amina)


def test_owner_cannot_move_a_block_onto_another_owners_property(client, two_owners):
    amina, _, own, others = two_owners
    block = BlockedPeriod.objects.create(property=own, start=future_date(5), end=future_date(7))
    client.force_login(amina)
    client.post(_url("edit", block.pk), {"property": others.pk, "start": future_date(5), "end": future_date(7)})
    block.refresh_from_db()
    assert block.property_id == own.pk


def test_block_over_nights_already_booked_or_with_end_before_start_is_refused(client, two_owners):
    amina, _, own, _ = two_owners
    booking = make_booking(property=own, check_in=future_date(10), nights=3)
    client.force_login(amina)
    response = client.post(_url("add"), {"property": own.pk, "start": future_date(12), "end": future_date(15)})
    assert response.status_code == 200
    assert booking.reference in response.content.decode()
    response = client.post(_url("add"), {"property": own.pk, "start": future_date(20), "end": future_date(18)})
    assert response.status_code == 200
    assert not BlockedPeriod.objects.exists()
    response = client.post(_url("add"), {"property": own.pk, "start": future_date(13), "end": future_date(15)})
    assert response.status_code == 302  # starts on the booking's check-out day: fine


def test_staff_see_and_edit_every_block(client, two_owners):
    _, _, own, others = two_owners
    blocks = [BlockedPeriod.objects.create(property=p, start=future_date(5), end=future_date(7)) for p in (own, others)]
    client.force_login(StaffFactory())
    for block in blocks:
        assert client.get(_url("edit", block.pk)).status_code == 200


def test_amenities_are_a_snippet_staff_manage(client, site_tree):
    client.force_login(StaffFactory())
    url = reverse(Amenity.snippet_viewset.get_url_name("add"))
    response = client.post(url, {"name": "Sauna", "icon": "other"})
    assert response.status_code == 302
    assert Amenity.objects.filter(name="Sauna").exists()
