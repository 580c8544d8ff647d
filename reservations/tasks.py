"""django-q2 entry points for bookings. Safe to run twice: the services re-check state under locks."""

from reservations import deadlines, invitations, services


def booking_expire_holds() -> int:
    """Scheduled every minute (migration 0003): cancel unpaid bookings whose hold expired."""
    return services.booking_expire_holds()


def booking_enforce_balance_deadlines() -> int:
    """Scheduled every 5 minutes (migration 0008): cancel partly paid bookings past their balance deadline."""
    return deadlines.booking_enforce_balance_deadlines()


def booking_guest_invitations_send(guest_ids: list[int]) -> int:
    """Email co-guests their invitation links (enqueued when a co-guest with an email is added)."""
    return invitations.booking_guest_invitations_send(guest_ids=guest_ids)
