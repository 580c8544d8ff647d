"""Who may see and act on payments, refunds and payouts in the Wagtail admin.

The owner-scoped policy (core/permissions.py) applied to the payments app's money rows:
staff see every row; an owner sees the payments and refunds of their own properties'
bookings, and the payouts made (or to be made) to them. Registered with Wagtail in
MpesaConfig.ready(), before any view or hook asks the registry for these models.

Refunds and payouts have staff actions of their own (approve / retry a refund, hold /
release / retry a payout: mpesa/money_out_admin_views.py); owners never get them.
"""

from django.db.models import Q
from wagtail.permissions import register_permission_policy

from accounts.roles import RoleGrants
from core.permissions import OwnerScopedPermissionPolicy, user_is_back_office_staff
from mpesa.models import Payment, Payout, Refund

payment_permission_policy = OwnerScopedPermissionPolicy(Payment, owner_field_path="booking__property__owner")


class MoneyOutPermissionPolicy(OwnerScopedPermissionPolicy):
    """The owner-scoped policy with the money-going-out actions, for staff only (they need
    the model's "change" permission, like the payment review actions)."""

    MONEY_OUT_ACTIONS = frozenset({"approve", "retry", "hold", "release"})

    def user_has_permission(self, user, action):
        if action in self.MONEY_OUT_ACTIONS:
            return user_is_back_office_staff(user) and user.has_perm(self._get_permission_name("change"))
        return super().user_has_permission(user, action)

    def users_with_any_permission(self, actions):
        actions = set(actions)
        users = super().users_with_any_permission(actions - self.MONEY_OUT_ACTIONS)
        if actions & self.MONEY_OUT_ACTIONS:
            staff = self._get_users_with_any_permission_codenames(self._get_permission_codenames({"change"}))
            users = users | staff.filter(Q(role="staff") | Q(is_superuser=True))
        return users.distinct()


refund_permission_policy = MoneyOutPermissionPolicy(Refund, owner_field_path="booking__property__owner")
# A payout belongs to the owner it pays (who owned the property when it was planned).
payout_permission_policy = MoneyOutPermissionPolicy(Payout, owner_field_path="owner")

# Owners read their properties' payments and refunds and their own payouts; staff hold
# every right on the app's models.
ROLE_GRANTS = RoleGrants(
    owner_permissions=(("mpesa", "view_payment"), ("mpesa", "view_refund"), ("mpesa", "view_payout")),
    staff_apps=("mpesa",),
)


def payment_permission_policy_register() -> None:
    """Registers the policies of every owner-scoped money row (payments, refunds, payouts)."""
    register_permission_policy(Payment, payment_permission_policy, exact_class=True)
    register_permission_policy(Refund, refund_permission_policy, exact_class=True)
    register_permission_policy(Payout, payout_permission_policy, exact_class=True)
