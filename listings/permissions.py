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
- `PropertyPagePermissionTester` drops every permission an owner would hold on someone
  else's PropertyPage, so every per-page view that asks `page.permissions_for_user(user)`
  refuses. (listings.admin_scope turns those refusals into 404s.)
"""

from wagtail.models import PagePermissionTester
from wagtail.permission_policies.pages import PagePermissionPolicy


def sees_every_listing(user) -> bool:
    return user.is_superuser or user.is_staff


def listings_hidden_from(user):
    """Primary keys of the listings this user must not see in the admin: other owners'."""
    from listings.models import PropertyPage

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


class PropertyPagePermissionTester(PagePermissionTester):
    """Owners hold only "add" on the index (accounts/roles.py): "publish" there would reach
    the index page itself. Publishing is granted here instead, per listing, to its owner."""

    def __init__(self, user, page):
        super().__init__(user, page)
        if not user.is_active or user.is_superuser or "change" in self.permissions:
            return
        if page.owner_id != user.pk:
            self.permissions = set()
        elif "add" in self.permissions:
            self.permissions = self.permissions | {"publish"}


class ListingIndexPagePermissionTester(PagePermissionTester):
    """An owner adds listings under the index and may publish the one being created (it will
    be theirs), but holds no other right over the index itself: not edit, publish, unpublish,
    privacy, reorder, move, delete, copy or lock. Those follow Wagtail's rules from the
    rights the user's groups hold, and the Owners group holds only "add" here."""

    def can_publish_subpage(self):
        if super().can_publish_subpage():
            return True
        return self.user.is_active and "add" in self.permissions and bool(self.page.specific_class.creatable_subpage_models())
