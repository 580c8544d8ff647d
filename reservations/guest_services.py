"""What a guest does on the booking page beyond the booking core's services: removing a
co-guest. (Adding one is reservations.services.booking_guest_add; paying, including paying
again after a failed payment cancelled the booking, is mpesa.start.payment_start.)
"""

from django.db import transaction

from core.exceptions import ApplicationError
from core.services import audit_record
from reservations.models import Booking, BookingGuest


def booking_guest_remove(*, booking_id: int, guest_id: int, actor) -> BookingGuest:
    """Take a co-guest off a booking. Only the primary guest may, and only before any payment:
    once money is on a booking (or on its way) the party it was paid for stays, and a
    co-guest who may have paid cannot be dropped. Party size is recounted from the rows."""
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking_id)
        if booking.primary_guest_id != getattr(actor, "pk", None):
            raise ApplicationError("Only the guest who made the booking can remove guests.", "not_primary_guest", 403)
        if booking.status != Booking.Status.PENDING or booking.amount_paid > 0:
            raise ApplicationError("Guests can only be removed before anything is paid.", "booking_guests_locked", 409)
        if booking.amount_in_flight > 0:
            raise ApplicationError(
                "A payment is in progress: wait for it to finish before changing the guests.", "payment_in_flight", 409
            )
        guest = booking.guests.filter(pk=guest_id, is_primary=False).first()
        if guest is None:
            raise ApplicationError("That guest is not on this booking.", "guest_not_found", 404)
        before = booking.party_size
        guest.delete()
        booking.party_size = booking.guests.count()
        booking.save(update_fields=["party_size", "updated_at"])
        audit_record(
            obj=booking,
            action="booking.guest_removed",
            actor=actor,
            summary=f"{booking.reference} -{guest.name}",
            before={"party_size": before},
            after={"party_size": booking.party_size},
            data={"guest_name": guest.name, "guest_user": guest.user_id},
        )
    return guest
