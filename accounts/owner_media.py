"""Each owner's own image and document collection.

Wagtail grants image and document rights per collection and per group, so an owner's
private library is a collection of their own plus a group with one member (the owner)
that holds add/change/choose/delete on that collection only. The Owners group holds no
collection rights at all: an owner sees, chooses and counts only the files in their
collection, and whatever they upload lands there (it is the only collection they may
add to). Staff hold the rights on the root collection, which reach every owner's.

The group is named after the user's id, which never changes; the collection is found
through the group's rights, so renaming the owner (or the collection) breaks nothing.
"""

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from wagtail.models import Collection, GroupCollectionPermission

MEDIA_PERMISSIONS = [
    ("wagtailimages", codename) for codename in ("add_image", "change_image", "choose_image", "delete_image")
] + [("wagtaildocs", codename) for codename in ("add_document", "change_document", "choose_document", "delete_document")]


def owner_media_group_name(user) -> str:
    return f"Owner collection #{user.pk}"


def owner_collection_name(user) -> str:
    return f"Owner: {user.name or user.email} (#{user.pk})"


@transaction.atomic
def owner_collection_ensure(user):
    """Give an owner their collection and the group holding rights on it; take anyone else out of it.

    Called whenever a user's role groups are synced, so it follows the role. A user who stops
    being an owner leaves the group (their files stay in the collection, for staff to see).
    Returns the owner's collection, or None for a user who is not an owner.
    """
    if user.role != "owner":
        user.groups.remove(*Group.objects.filter(name=owner_media_group_name(user)))
        return None

    group, _ = Group.objects.get_or_create(name=owner_media_group_name(user))
    existing = GroupCollectionPermission.objects.filter(group=group).select_related("collection").first()
    if existing is not None:
        collection = existing.collection
    else:
        root = Collection.get_first_root_node()
        collection = root.add_child(name=owner_collection_name(user))
    permissions = Permission.objects.filter(
        content_type__app_label__in={app for app, _ in MEDIA_PERMISSIONS},
        codename__in=[codename for _, codename in MEDIA_PERMISSIONS],
    )
    for permission in permissions:
        GroupCollectionPermission.objects.get_or_create(group=group, collection=collection, permission=permission)
    user.groups.add(group)
    return collection
