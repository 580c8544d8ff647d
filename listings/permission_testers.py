"""Per-page permission testers for the listings page types (see listings/permissions.py).

Kept apart from listings.permissions, which reads the listings models: the models ask
these testers for a page's permissions, so this module must not import them.
"""

from wagtail.models import PagePermissionTester


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
