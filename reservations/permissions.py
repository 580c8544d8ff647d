"""Who may see and act on bookings in the Wagtail admin, and which listings' bookings they see.

The owner-scoped policy (core/permissions.py) applied to Booking: staff see every
booking, an owner those of their own properties. Registered with Wagtail in
ReservationsConfig.ready(), before any view or hook asks the registry for Booking.
"""

from wagtail.permissions import register_permission_policy

from accounts.roles import RoleGrants
from core.permissions import OwnerScopedPermissionPolicy, user_is_back_office_staff
from listings.models import PropertyPage
from reservations.models import Booking

booking_permission_policy = OwnerScopedPermissionPolicy(Booking, owner_field_path="property__owner")

# Owners read their properties' bookings; staff hold every right on the app's models.
ROLE_GRANTS = RoleGrants(owner_permissions=(("reservations", "view_booking"),), staff_apps=("reservations",))


def booking_permission_policy_register() -> None:
    register_permission_policy(Booking, booking_permission_policy, exact_class=True)


def properties_visible_to(user):
    """The listings whose bookings and payments `user` may see in the back office (filters, panels)."""
    if not booking_permission_policy.user_has_permission(user, "view"):
        return PropertyPage.objects.none()
    if user_is_back_office_staff(user):
        return PropertyPage.objects.all()
    return PropertyPage.objects.filter(owner=user)
