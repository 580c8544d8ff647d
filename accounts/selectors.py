from collections.abc import Callable

from accounts.models import User

# Whether an owner hosts a guest is a booking question, and bookings live in a higher app
# (reservations), which registers its answer at start-up (reservations.apps) so accounts
# never imports it. With nothing registered, no owner sees any guest's ID photo.
OwnerHostsGuest = Callable[..., bool]
_owner_hosts_guest_checks: list[OwnerHostsGuest] = []


def id_photo_register_owner_check(check: OwnerHostsGuest) -> None:
    """Register `check(owner=..., guest=...) -> bool`: may this owner see this guest's ID photo?"""
    if check not in _owner_hosts_guest_checks:
        _owner_hosts_guest_checks.append(check)


def user_can_view_id_photo(*, viewer: User, subject: User) -> bool:
    """The user, staff, and owners of a property the subject booked and paid for, not through
    a booking the owner made (the registered owner check decides that part)."""
    if not viewer.is_authenticated:
        return False
    if viewer.pk == subject.pk or viewer.is_staff:
        return True
    if viewer.is_owner:
        return any(check(owner=viewer, guest=subject) for check in _owner_hosts_guest_checks)
    return False


def user_is_manageable_by(*, actor: User, user: User) -> bool:
    """May `actor` edit `user`'s account in the admin (details, password, active state)?

    Superusers manage everyone. Anyone else with the user admin manages guests and owners
    only, and their own account: setting a colleague's or a superuser's password would be
    a way to become them.
    """
    if actor.is_superuser or actor.pk == user.pk:
        return True
    return not user.is_superuser and user.role != User.Role.STAFF


def personal_data_last_run():
    """The latest personal data retention run (accounts.services.id_photos_retention_erase), or None."""
    from accounts.models import PersonalDataRun

    return PersonalDataRun.objects.order_by("-started_at", "-id").first()
