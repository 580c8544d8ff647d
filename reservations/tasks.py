"""django-q2 entry points for bookings. Safe to run twice: the services re-check state under locks."""

from reservations import services


def booking_expire_holds() -> int:
    """Scheduled every minute (migration 0003): cancel unpaid bookings whose hold expired."""
    return services.booking_expire_holds()
