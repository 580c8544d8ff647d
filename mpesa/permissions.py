"""Who may see and act on payments in the Wagtail admin.

The owner-scoped policy (core/permissions.py) applied to Payment: staff see every
payment, an owner those of their own properties' bookings. Registered with Wagtail in
MpesaConfig.ready(), before any view or hook asks the registry for Payment.
"""

from wagtail.permissions import register_permission_policy

from accounts.roles import RoleGrants
from core.permissions import OwnerScopedPermissionPolicy
from mpesa.models import Payment

payment_permission_policy = OwnerScopedPermissionPolicy(Payment, owner_field_path="booking__property__owner")

# Owners read their properties' payments; staff hold every right on the app's models.
ROLE_GRANTS = RoleGrants(owner_permissions=(("mpesa", "view_payment"),), staff_apps=("mpesa",))


def payment_permission_policy_register() -> None:
    register_permission_policy(Payment, payment_permission_policy, exact_class=True)
