"""Owners edit only their own listings in the Wagtail admin.

Owners hold "add" and "publish" on the listings index (accounts/roles.py). Wagtail's
"add" already limits editing to pages the user owns, but "publish" on an index applies
to every page below it: with it alone, owner A could unpublish, reschedule, move or
read the revisions of owner B's listing. This tester drops every permission an owner
would hold on someone else's PropertyPage, so every admin view that asks
`page.permissions_for_user(user)` refuses. Staff hold "change" and keep everything.
"""

from wagtail.models import PagePermissionTester


class PropertyPagePermissionTester(PagePermissionTester):
    def __init__(self, user, page):
        super().__init__(user, page)
        if user.is_active and not user.is_superuser and "change" not in self.permissions and page.owner_id != user.pk:
            self.permissions = set()
