"""accounts.roles: the role groups hold what each app registered for them (RoleGrants)."""

import pytest
from django.contrib.auth.models import Group
from wagtail.models import GroupPagePermission

from accounts import roles
from accounts.roles import OWNERS_GROUP, STAFF_GROUP, RoleGrants, ensure_role_groups
from listings.models import ListingIndexPage

pytestmark = pytest.mark.django_db


def _perms(group_name: str) -> set[tuple[str, str]]:
    group = Group.objects.get(name=group_name)
    return set(group.permissions.values_list("content_type__app_label", "codename"))


def test_owners_and_staff_hold_what_listings_reservations_and_mpesa_registered(site_tree):
    ensure_role_groups()
    owners = _perms(OWNERS_GROUP)
    assert {
        ("wagtailadmin", "access_admin"),
        ("listings", "add_blockedperiod"),
        ("listings", "change_blockedperiod"),
        ("listings", "delete_blockedperiod"),
        ("listings", "view_blockedperiod"),
        ("reservations", "view_booking"),
        ("mpesa", "view_payment"),
    } <= owners
    assert ("reservations", "change_booking") not in owners and ("mpesa", "change_payment") not in owners
    staff_apps = {app for app, _ in _perms(STAFF_GROUP)}
    assert {"core", "listings", "reservations", "mpesa", "wagtailimages", "wagtaildocs"} <= staff_apps
    index = ListingIndexPage.objects.get()
    owner_pages = GroupPagePermission.objects.filter(group__name=OWNERS_GROUP)
    assert set(owner_pages.values_list("page_id", "permission__codename")) == {(index.pk, "add_page")}


def test_a_registered_grant_reaches_the_groups(site_tree, monkeypatch):
    granted = []
    grants = RoleGrants(
        owner_permissions=(("accounts", "view_user"),),
        page_permissions=lambda owners, staff: granted.append((owners.name, staff.name)),
    )
    monkeypatch.setattr(roles, "_role_grants", [])
    roles.role_grants_register(grants)
    roles.role_grants_register(grants)
    ensure_role_groups()
    assert ("accounts", "view_user") in _perms(OWNERS_GROUP)
    assert granted == [(OWNERS_GROUP, STAFF_GROUP)]
