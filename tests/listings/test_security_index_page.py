"""Owners have no rights over the listings index itself, only over their own listings.

Owners used to hold Wagtail's "publish" on the index so that they could publish their
listings; that right also applies to the index page itself, so any one owner could
unpublish /stays/ (every listing 404s), put a password on it, reorder it or copy it.
Now owners hold only "add" there, and publishing is granted per listing, to its owner
(listings.permissions).
"""

import pytest
from wagtail.models import Page, PageViewRestriction

from listings.models import ListingIndexPage, PropertyPage
from tests.factories import OwnerFactory, make_property

pytestmark = pytest.mark.django_db


def _refused(response) -> bool:
    """Wagtail refuses with 403, a redirect to the dashboard, or (scoped objects) 404."""
    if response.status_code in (403, 404, 405):
        return True
    return response.status_code == 302 and response["Location"].rstrip("/") in ("/admin", "")


@pytest.fixture
def stays(site_tree):
    amina, kip = OwnerFactory(name="Amina"), OwnerFactory(name="Kip")
    first = make_property(owner=amina, title="Amina's cottage", index=site_tree)
    second = make_property(owner=amina, title="Amina's cabin", index=site_tree)
    others = make_property(owner=kip, title="Kip's farmhouse", index=site_tree)
    return {"index": site_tree, "amina": amina, "kip": kip, "first": first, "second": second, "others": others}


def _index_state(index):
    index = ListingIndexPage.objects.get(pk=index.pk)
    return {
        "live": index.live,
        "title": index.title,
        "path": index.path,
        "locked": index.locked,
        "children": list(index.get_children().values_list("pk", flat=True)),
        "restrictions": PageViewRestriction.objects.filter(page=index).count(),
        "pages": Page.objects.count(),
    }


def _property_form(page, **overrides):
    form = {
        "title": page.title,
        "slug": page.slug,
        "description": '{"blocks": [], "entityMap": {}}',
        "area": page.area,
        "town": page.town,
        "price_per_night": str(page.price_per_night),
        "max_guests": str(page.max_guests),
        "min_nights": str(page.min_nights),
        "max_nights": str(getattr(page, "max_nights", None) or 30),
        "min_deposit_percent": str(page.min_deposit_percent or 20),
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
    }
    form.update(overrides)
    return form


# --- the index page is out of every owner's reach ------------------------------------------------


def _attacks(index, stays):
    home = index.get_parent()
    return {
        "unpublish": (f"/admin/pages/{index.pk}/unpublish/", {"include_descendants": "on"}),
        "privacy": (f"/admin/pages/{index.pk}/privacy/", {"restriction_type": "password", "password": "letmein"}),
        "reorder": (f"/admin/pages/{stays['second'].pk}/set_position/?position=0", {}),
        "edit": (f"/admin/pages/{index.pk}/edit/", {"title": "Closed", "slug": "stays", "intro": "<p>Gone</p>"}),
        "publish": (
            f"/admin/pages/{index.pk}/edit/",
            {"title": "Closed", "slug": "stays", "intro": "<p>Gone</p>", "action-publish": "action-publish"},
        ),
        "move": (f"/admin/pages/{index.pk}/move/{home.pk}/confirm/", {}),
        "delete": (f"/admin/pages/{index.pk}/delete/", {}),
        "copy": (
            f"/admin/pages/{index.pk}/copy/",
            {
                "new_title": "Stays copy",
                "new_slug": "stays-copy",
                "new_parent_page": str(home.pk),
                "copy_subpages": "on",
                "publish_copies": "on",
            },
        ),
        "lock": (f"/admin/pages/{index.pk}/lock/", {}),
        "bulk-unpublish": (f"/admin/bulk/wagtailcore/page/unpublish/?id={index.pk}", {"include_descendants": "on"}),
        "bulk-delete": (f"/admin/bulk/wagtailcore/page/delete/?id={index.pk}", {}),
        "bulk-move": (f"/admin/bulk/wagtailcore/page/move/?id={index.pk}", {"chooser": str(home.pk)}),
    }


ATTACKS = [
    "unpublish", "privacy", "reorder", "edit", "publish", "move", "delete", "copy", "lock",
    "bulk-unpublish", "bulk-delete", "bulk-move",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_owner_cannot_take_down_or_change_the_listings_index(client, stays, attack):
    index = stays["index"]
    before = _index_state(index)
    order_before = [p.pk for p in index.get_children()]
    client.force_login(stays["amina"])
    url, data = _attacks(index, stays)[attack]

    get_response = client.get(url.split("?")[0] if attack == "reorder" else url)
    post_response = client.post(url, data)

    after = _index_state(index)
    assert after == before, attack
    assert [p.pk for p in index.get_children()] == order_before
    assert not Page.objects.filter(slug="stays-copy").exists()
    assert client.get("/stays/").status_code == 200
    if not attack.startswith("bulk-"):  # bulk actions answer 200 and list the page as not permitted
        assert _refused(post_response), (attack, post_response.status_code, post_response.get("Location"))
        if attack not in ("reorder", "lock", "move"):  # POST-only views; move's GET only asks to confirm
            assert _refused(get_response), (attack, get_response.status_code)


def test_owner_is_offered_no_action_on_the_index_but_adding_a_listing(client, stays):
    index = stays["index"]
    client.force_login(stays["amina"])
    perms = index.permissions_for_user(stays["amina"])
    assert perms.can_add_subpage()
    assert perms.can_publish_subpage()  # publish the listing they are creating, in one go
    for check in (
        perms.can_edit,
        perms.can_publish,
        perms.can_unpublish,
        perms.can_set_view_restrictions,
        perms.can_reorder_children,
        perms.can_move,
        perms.can_delete,
        perms.can_copy,
        perms.can_lock,
        perms.can_unschedule,
    ):
        assert not check(), check.__name__


def test_owners_group_holds_no_publish_right_on_the_index(stays):
    from wagtail.models import GroupPagePermission

    from accounts.roles import OWNERS_GROUP

    codenames = set(
        GroupPagePermission.objects.filter(group__name=OWNERS_GROUP).values_list("permission__codename", flat=True)
    )
    assert codenames == {"add_page"}


# --- their own listings are still theirs ---------------------------------------------------------


def test_owner_creates_and_publishes_a_listing_under_the_index(client, stays):
    index = stays["index"]
    client.force_login(stays["amina"])
    url = f"/admin/pages/add/listings/propertypage/{index.pk}/"
    assert client.get(url).status_code == 200
    page = PropertyPage(title="New lodge", slug="new-lodge", area="Karen", town="Nairobi", price_per_night=7000)
    response = client.post(url, _property_form(page, **{"action-publish": "action-publish"}))
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    created = PropertyPage.objects.get(slug="new-lodge")
    assert created.owner == stays["amina"]
    assert created.live
    assert client.get("/stays/new-lodge/").status_code == 200


def test_owner_edits_and_publishes_their_own_listing(client, stays):
    own = stays["first"]
    client.force_login(stays["amina"])
    response = client.post(
        f"/admin/pages/{own.pk}/edit/",
        _property_form(own, title="Amina's garden cottage", **{"action-publish": "action-publish"}),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    own.refresh_from_db()
    assert own.title == "Amina's garden cottage"
    assert own.live and not own.has_unpublished_changes


def test_owner_unpublishes_and_republishes_their_own_listing(client, stays):
    own = stays["first"]
    client.force_login(stays["amina"])
    assert client.post(f"/admin/pages/{own.pk}/unpublish/").status_code == 302
    own.refresh_from_db()
    assert not own.live
    response = client.post(f"/admin/pages/{own.pk}/edit/", _property_form(own, **{"action-publish": "action-publish"}))
    assert response.status_code == 302
    own.refresh_from_db()
    assert own.live


def test_owner_cannot_edit_or_publish_another_owners_listing(client, stays):
    others = stays["others"]
    client.force_login(stays["amina"])
    for data in (
        _property_form(others, title="Hijacked"),
        _property_form(others, title="Hijacked", **{"action-publish": "action-publish"}),
    ):
        assert _refused(client.post(f"/admin/pages/{others.pk}/edit/", data))
    assert _refused(client.post(f"/admin/pages/{others.pk}/unpublish/"))
    others.refresh_from_db()
    assert others.title == "Kip's farmhouse"
    assert others.live
    perms = others.permissions_for_user(stays["amina"])
    assert not perms.can_publish() and not perms.can_edit() and not perms.can_unpublish()


def test_staff_keep_every_right_on_the_index(client, stays):
    from tests.factories import StaffFactory

    staff = StaffFactory()
    perms = stays["index"].permissions_for_user(staff)
    assert perms.can_edit() and perms.can_publish() and perms.can_reorder_children()
