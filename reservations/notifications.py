"""The booking emails: what each shows and who gets it (core/notifications.py sends them).

Registered at start-up (ReservationsConfig.ready()) for the events reservations raises.
"""

from core.notifications import Letter, notification_register
from reservations.models import Booking


def _booking(booking_id: int) -> Booking:
    return Booking.objects.select_related("property__owner", "primary_guest").get(pk=booking_id)


def _letter(booking: Booking, recipients: list[str]) -> Letter:
    return Letter(context={"booking": booking, "payment": None}, recipients=recipients)


def booking_created_letter(booking_id: int, payment_id: int | None = None) -> Letter:
    """To the owner: a new booking of their property."""
    booking = _booking(booking_id)
    owner = booking.property.owner
    return _letter(booking, [owner.email] if booking.property.owner_id and owner.email else [])


def booking_confirmed_letter(booking_id: int, payment_id: int | None = None) -> Letter:
    """To the booker and the co-guests who accepted their invitation, at their accounts'
    addresses. An address the booker typed proves nothing: until its owner accepts, the
    co-guest is a name on the booking and is told nothing more about it."""
    booking = _booking(booking_id)
    guests = booking.guests.select_related("user")
    return _letter(booking, sorted({g.user.email.lower() for g in guests if g.user_id and g.user.email}))


def booking_canceled_letter(booking_id: int, payment_id: int | None = None) -> Letter:
    """To the primary guest (a cancellation, or a hold that expired)."""
    booking = _booking(booking_id)
    return _letter(booking, [booking.primary_guest.email])


def booking_notifications_register() -> None:
    notification_register("booking_created", booking_created_letter)
    notification_register("booking_confirmed", booking_confirmed_letter)
    notification_register("booking_canceled", booking_canceled_letter)
