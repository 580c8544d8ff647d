"""Role -> Wagtail groups. The role on the user is the source of truth; groups follow it.

- guest: no admin access at all (Wagtail's login refuses them).
- owner: the "Owners" group: admin access, add pages under the listings index
  (Wagtail's "add" permission means: create pages and edit the ones you own; owners
  publish their own listings through listings.permissions, never the index itself),
  and the owner-scoped snippets; plus a group of their own holding images and
  documents in their own collection (accounts/owner_media.py).
- staff: the "Staff" group: every page, every snippet.

What each role may do with an app's models is that app's to say: listings, reservations
and mpesa register their RoleGrants at start-up (their AppConfig.ready()), so accounts
never imports them.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from wagtail.models import Collection, GroupCollectionPermission, GroupPagePermission, Page

from accounts.owner_media import MEDIA_PERMISSIONS, owner_collection_ensure

OWNERS_GROUP = "Owners"
STAFF_GROUP = "Staff"

_OWNER_MODEL_PERMISSIONS = [("wagtailadmin", "access_admin")]
_OWNER_MEDIA_MODEL_PERMISSIONS = [("wagtailimages", "add_image"), ("wagtailimages", "choose_image")]
_STAFF_EXTRA_APPS = ["core", "wagtailimages", "wagtaildocs"]


@dataclass(frozen=True)
class RoleGrants:
    """What one app gives the role groups.

    owner_permissions: (app_label, codename) pairs the Owners group holds.
    staff_apps: app labels whose every permission the Staff group holds.
    page_permissions: called with (owners, staff) to grant rights on pages of the app's
    own (an owner's "add" under the listings index); owners hold no other page right.
    """

    owner_permissions: tuple[tuple[str, str], ...] = ()
    staff_apps: tuple[str, ...] = ()
    page_permissions: Callable[[Group, Group], None] | None = None


_role_grants: list[RoleGrants] = []


def role_grants_register(grants: RoleGrants) -> None:
    if grants not in _role_grants:
        _role_grants.append(grants)


def _permissions(pairs):
    perms = []
    for app_label, codename in pairs:
        perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if perm is not None:
            perms.append(perm)
    return perms


@transaction.atomic
def ensure_role_groups() -> tuple[Group, Group]:
    """Create or refresh the two groups. Safe to run many times (post_migrate, setup_site)."""
    owners, _ = Group.objects.get_or_create(name=OWNERS_GROUP)
    staff, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    owners.permissions.add(
        *_permissions(_OWNER_MODEL_PERMISSIONS + [pair for grants in _role_grants for pair in grants.owner_permissions])
    )
    staff.permissions.add(*_permissions([("wagtailadmin", "access_admin")]))
    staff_apps = _STAFF_EXTRA_APPS + [app for grants in _role_grants for app in grants.staff_apps]
    staff.permissions.add(*Permission.objects.filter(content_type__app_label__in=staff_apps))
    staff.permissions.add(*_permissions([("accounts", "view_user"), ("accounts", "change_user")]))

    # Owners' image and document rights live on each owner's own collection
    # (accounts/owner_media.py); rights on the root would reach every owner's files.
    # Databases set up before that keep such rights: they are taken away here.
    GroupCollectionPermission.objects.filter(group=owners).delete()
    owners.permissions.remove(*_permissions(_OWNER_MEDIA_MODEL_PERMISSIONS))
    root_collection = Collection.get_first_root_node()
    if root_collection is not None:
        for perm in _permissions(MEDIA_PERMISSIONS):
            GroupCollectionPermission.objects.get_or_create(group=staff, collection=root_collection, permission=perm)

    # Owners hold no page right but "add" where an app grants it (listings: under the
    # listings index). Older databases lose any other right here.
    GroupPagePermission.objects.filter(group=owners).exclude(permission__codename="add_page").delete()
    for grants in _role_grants:
        if grants.page_permissions is not None:
            grants.page_permissions(owners, staff)
    root_page = Page.get_first_root_node()
    if root_page is not None:
        for codename in ("add_page", "change_page", "publish_page", "lock_page", "unlock_page", "bulk_delete_page"):
            perm = Permission.objects.filter(content_type__app_label="wagtailcore", codename=codename).first()
            if perm:
                GroupPagePermission.objects.get_or_create(group=staff, page=root_page, permission=perm)
    return owners, staff


def user_sync_role_groups(user) -> None:
    owners, staff = ensure_role_groups()
    user.groups.remove(owners, staff)
    if user.role == "owner":
        user.groups.add(owners)
    elif user.role == "staff":
        user.groups.add(staff)
    owner_collection_ensure(user)
