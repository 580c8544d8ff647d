"""Role -> Wagtail groups. The role on the user is the source of truth; groups follow it.

- guest: no admin access at all (Wagtail's login refuses them).
- owner: the "Owners" group: admin access, add pages under the listings index
  (Wagtail's "add" permission means: create pages and edit the ones you own; owners
  publish their own listings through listings.permissions, never the index itself),
  and the owner-scoped snippets; plus a group of their own holding images and
  documents in their own collection (accounts/owner_media.py).
- staff: the "Staff" group: every page, every snippet.
"""

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts.owner_media import MEDIA_PERMISSIONS, owner_collection_ensure

OWNERS_GROUP = "Owners"
STAFF_GROUP = "Staff"

_OWNER_MODEL_PERMISSIONS = [
    ("wagtailadmin", "access_admin"),
    ("listings", "add_blockedperiod"),
    ("listings", "change_blockedperiod"),
    ("listings", "delete_blockedperiod"),
    ("listings", "view_blockedperiod"),
    ("reservations", "view_booking"),
    ("mpesa", "view_payment"),
]
_OWNER_MEDIA_MODEL_PERMISSIONS = [("wagtailimages", "add_image"), ("wagtailimages", "choose_image")]
_STAFF_EXTRA_APPS = ["listings", "reservations", "mpesa", "core"]


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
    owners.permissions.add(*_permissions(_OWNER_MODEL_PERMISSIONS))
    staff.permissions.add(*_permissions([("wagtailadmin", "access_admin")]))
    staff.permissions.add(
        *Permission.objects.filter(content_type__app_label__in=_STAFF_EXTRA_APPS + ["wagtailimages", "wagtaildocs"])
    )
    staff.permissions.add(*_permissions([("accounts", "view_user"), ("accounts", "change_user")]))

    from wagtail.models import Collection, GroupCollectionPermission, GroupPagePermission, Page

    # Owners' image and document rights live on each owner's own collection
    # (accounts/owner_media.py); rights on the root would reach every owner's files.
    # Databases set up before that keep such rights: they are taken away here.
    GroupCollectionPermission.objects.filter(group=owners).delete()
    owners.permissions.remove(*_permissions(_OWNER_MEDIA_MODEL_PERMISSIONS))
    root_collection = Collection.get_first_root_node()
    if root_collection is not None:
        for perm in _permissions(MEDIA_PERMISSIONS):
            GroupCollectionPermission.objects.get_or_create(group=staff, collection=root_collection, permission=perm)

    from listings.models import ListingIndexPage

    page_perm = lambda codename: Permission.objects.get(content_type__app_label="wagtailcore", codename=codename)  # noqa: E731
    # Owners only add listings under the index. "publish" there would also reach the index
    # page itself (unpublish /stays/, privacy, reorder); owners publish their own listings
    # through listings.permissions instead. Older databases lose any other right here.
    GroupPagePermission.objects.filter(group=owners).exclude(permission__codename="add_page").delete()
    for index_page in ListingIndexPage.objects.all():
        GroupPagePermission.objects.get_or_create(group=owners, page=index_page, permission=page_perm("add_page"))
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
