"""User bulk actions that respect the role (accounts.forms says why the role rules).

Wagtail's "Assign role" bulk action adds users to any group: groups follow the role, so
it is refused for everyone. "Set active state" reaches only the users the actor may
manage (accounts.selectors.user_is_manageable_by). Registered after Wagtail's own, which
they replace (same action type).
"""

from wagtail import hooks
from wagtail.users.views.bulk_actions.assign_role import AssignRoleBulkAction
from wagtail.users.views.bulk_actions.set_active_state import SetActiveStateBulkAction

from accounts.selectors import personal_data_last_run, user_is_manageable_by
from core.admin_views import DashboardPanel


class GroupsFollowRoleAssignRoleBulkAction(AssignRoleBulkAction):
    def check_perm(self, obj):
        return False


class ScopedSetActiveStateBulkAction(SetActiveStateBulkAction):
    def check_perm(self, obj):
        return super().check_perm(obj) and user_is_manageable_by(actor=self.request.user, user=obj)


hooks.register("register_bulk_action", GroupsFollowRoleAssignRoleBulkAction, order=1)
hooks.register("register_bulk_action", ScopedSetActiveStateBulkAction, order=1)


# --- Personal data retention: when the daily pass last ran (staff only) ------------------------


class PersonalDataPanel(DashboardPanel):
    name = "nexus_personal_data"
    template_name = "accounts/dashboard_personal_data.html"
    order = 90


@hooks.register("construct_homepage_panels")
def add_personal_data_panel(request, panels):
    if request.user.is_staff:
        panels.append(PersonalDataPanel(personal_data_last_run()))
