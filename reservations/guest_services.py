"""What a guest does on the booking page beyond the booking core's services:
removing a co-guest, and paying again after a failed payment cancelled the booking.
(Adding a co-guest is reservations.services.booking_guest_add.)
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from core.services import audit_record
from mpesa.selectors import payment_list_for_booking
from mpesa.services import payment_create
from reservations.models import Booking, BookingGuest
from reservations.selectors import booking_list_for_user
from reservations.services import booking_reactivate

IN_FLIGHT_STATUSES = ("QUEUED", "PENDING")


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
        if booking.payments.filter(kind="PAYMENT", status__in=IN_FLIGHT_STATUSES).exists():
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


def booking_canceled_by_failed_payment(*, booking: Booking, payments) -> bool:
    """True when the booking was cancelled because its payment failed with nothing paid
    (SPEC §4), and so a new attempt may put it back. `payments` newest first."""
    if booking.status != Booking.Status.CANCELED or booking.amount_paid > 0 or not booking.canceled_at:
        return False
    attempts = [p for p in payments if p.kind == "PAYMENT"]
    if not attempts or any(p.status == "SUCCESS" for p in attempts):
        return False
    latest = attempts[0]
    return latest.status == "FAILED" and latest.created_at <= booking.canceled_at


def booking_payment_start(*, booking_id: int, user, phone_number: str, amount: int):
    """Pay toward a booking (mpesa.services.payment_create), first putting the booking back
    when a failed payment has just cancelled it, so "try again" works for the guest.

    The booking comes back only if its nights are still free (booking_reactivate: the
    database constraint decides); otherwise 409 dates_unavailable in plain words. The
    hold restarts, since the guest is paying now. All in one transaction: if the new
    payment is refused (bad amount, phone busy), the booking stays cancelled.
    """
    with transaction.atomic():
        if not booking_list_for_user(user=user).filter(pk=booking_id).exists():
            raise ApplicationError("No booking with this id.", "not_found", 404)
        booking = Booking.objects.select_for_update().get(pk=booking_id)
        if booking_canceled_by_failed_payment(booking=booking, payments=list(payment_list_for_booking(booking=booking))):
            before = {"status": booking.status, "hold_expires_at": _iso(booking.hold_expires_at)}
            if not booking_reactivate(booking=booking):
                raise ApplicationError(
                    "Sorry, while the payment was failing someone else booked some of these nights, so this booking "
                    "can't be restored. Please pick other dates.",
                    "dates_unavailable",
                    409,
                )
            booking.hold_expires_at = timezone.now() + dt.timedelta(minutes=settings.BOOKING_HOLD_MINUTES)
            booking.save(update_fields=["hold_expires_at", "updated_at"])
            audit_record(
                obj=booking,
                action="booking.restored_for_retry",
                actor=user,
                summary=f"{booking.reference} back on hold for a new payment attempt",
                before=before,
                after={"status": booking.status, "hold_expires_at": _iso(booking.hold_expires_at)},
            )
        return payment_create(booking_id=booking.pk, user=user, phone_number=phone_number, amount=amount)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
