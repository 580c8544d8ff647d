"""Owners see and touch only their own listings in the Wagtail admin; staff see all.

Owners hold only "add" on the listings index (accounts/roles.py): "publish" there would
reach the index page itself (unpublish all of /stays/, privacy, reorder), so publishing
is granted per listing, to its owner, by `PropertyPagePermissionTester`, and
`ListingIndexPagePermissionTester` lets an owner publish the listing they are creating.
Wagtail's "add" already limits editing to pages the user owns, but everything else that
looks at the tree takes the index's rights as reaching every page below it: search,
reports, the explorer, the admin API, page log entries (and "publish", when owners held
it, let owner A unpublish, reschedule, move or read the revisions of owner B's listing).

Two pieces close that, both built on one rule (`listings_hidden_from`):

- `OwnerScopedPagePermissionPolicy` replaces Wagtail's page permission policy, so every
  admin screen that asks which pages a user may explore, edit or publish (page search,
  explorer, aging-pages and workflow reports, admin API, site history's page entries)
  leaves other owners' listings out.
- `PropertyPagePermissionTester` (listings/permission_testers.py) drops every permission
  an owner would hold on someone else's PropertyPage, so every per-page view that asks
  `page.permissions_for_user(user)` refuses. (listings.admin_scope turns those refusals
  into 404s.)

What the Owners and Staff groups hold on listings is registered with accounts.roles
(ROLE_GRANTS, from ListingsConfig.ready()).
"""

from django.contrib.auth.models import Permission
from wagtail.models import GroupPagePermission
from wagtail.permission_policies.pages import PagePermissionPolicy

from accounts.roles import RoleGrants
from listings.models import ListingIndexPage, PropertyPage


def sees_every_listing(user) -> bool:
    return user.is_superuser or user.is_staff


def listings_hidden_from(user):
    """Primary keys of the listings this user must not see in the admin: other owners'."""
    return PropertyPage.objects.exclude(owner_id=user.pk).values("pk")


def is_listing_hidden_from(user, page_id) -> bool:
    if sees_every_listing(user):
        return False
    return listings_hidden_from(user).filter(pk=page_id).exists()


class OwnerScopedPagePermissionPolicy(PagePermissionPolicy):
    """Wagtail's page policy, minus other owners' listings for anyone who is not staff."""

    def _without_hidden_listings(self, user, pages):
        if sees_every_listing(user):
            return pages
        return pages.exclude(pk__in=listings_hidden_from(user))

    def _with_owners_publish(self, user, actions):
        # An owner publishes the listings they own (PropertyPagePermissionTester) without a
        # "publish" right on the index; asked "may publish", the policy answers the same, so
        # the aging-pages report lists an owner's own listings. Their own = what "add" lets
        # them change.
        actions = set(actions)
        if "publish" in actions and not sees_every_listing(user):
            actions.add("change")
        return actions

    def instances_user_has_any_permission_for(self, user, actions):
        pages = super().instances_user_has_any_permission_for(user, self._with_owners_publish(user, actions))
        return self._without_hidden_listings(user, pages)

    def explorable_instances(self, user):
        return self._without_hidden_listings(user, super().explorable_instances(user))

    def user_has_any_permission_for_instance(self, user, actions, instance):
        actions = self._with_owners_publish(user, actions)
        if not super().user_has_any_permission_for_instance(user, actions, instance):
            return False
        return not is_listing_hidden_from(user, instance.pk)


def _owners_add_listings(owners, staff) -> None:
    # Owners only add listings under the index. "publish" there would also reach the index
    # page itself (unpublish /stays/, privacy, reorder); owners publish their own listings
    # through PropertyPagePermissionTester instead.
    for index_page in ListingIndexPage.objects.all():
        add_page = Permission.objects.get(content_type__app_label="wagtailcore", codename="add_page")
        GroupPagePermission.objects.get_or_create(group=owners, page=index_page, permission=add_page)


# Owners manage their listings' blocked periods and imported calendars, and add listings;
# staff hold every right on the app's models.
ROLE_GRANTS = RoleGrants(
    owner_permissions=tuple(
        ("listings", f"{action}_{model}")
        for model in ("blockedperiod", "calendarfeed")
        for action in ("add", "change", "delete", "view")
    ),
    staff_apps=("listings",),
    page_permissions=_owners_add_listings,
)
