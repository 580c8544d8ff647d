"""Booking actions taken in the Wagtail admin by staff, and by owners on their own properties' bookings."""

import logging

from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from core.notifications import notify
from core.services import audit_record
from listings.models import PropertyPage
from reservations.deadlines import check_in_at
from reservations.models import Booking
from reservations.services import booking_mark_canceled

logger = logging.getLogger(__name__)


# How each side of the business is named in the booking's reason and its audit entry.
_CANCELLED_BY = {
    "staff": ("Cancelled by Nexus", "Cancelled by staff"),
    "owner": ("Cancelled by the host", "Cancelled by the owner"),
}


def _cancel_for_the_business(*, booking: Booking, actor, kind: str, reason: str, who: str) -> list:
    """Cancel a locked booking for staff or its owner: everything paid is refunded (the
    payments app answers booking_canceled with the refunds it created, returned here), an
    audit entry and the guest's notification follow."""
    guest_words, audit_words = _CANCELLED_BY[who]
    before = {"status": booking.status, "amount_paid": booking.amount_paid}
    booking.hold_expires_at = None
    refunds = booking_mark_canceled(booking=booking, kind=kind, reason=f"{guest_words}: {reason}", actor=actor)
    audit_record(
        obj=booking,
        action=f"booking.canceled_by_{who}",
        actor=actor,
        summary=f"{audit_words}: {reason}",
        before=before,
        after={"status": booking.status},
        data={"reason": reason, "refunds": refunds},
    )
    notify("booking_canceled", booking_id=booking.pk)
    return refunds


def booking_staff_cancel(*, booking_id: int, actor, reason: str) -> Booking:
    """Cancel a booking on behalf of the business, even when it holds money.

    Everything the booking holds goes back whatever the listing's policy: the payments app,
    answering the booking_canceled signal, creates the refunds (a Reversal per whole
    payment, a B2C for part of one; above REFUND_APPROVAL_THRESHOLD they wait for a second
    staff member) and sends them after commit. A payment it cannot refund automatically
    (no M-Pesa receipt) is flagged needs_refund for staff instead.
    A payment still in flight does block it: its callback could land after the
    cancel and restore the booking, so staff re-check that payment first.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("A reason for the cancellation is required.", "reason_required", 400)
    with transaction.atomic():
        try:
            booking = Booking.objects.select_for_update().get(pk=booking_id)
        except Booking.DoesNotExist:
            raise ApplicationError("Booking not found.", "not_found", status=404) from None
        if booking.status == Booking.Status.CANCELED:
            raise ApplicationError("This booking is already cancelled.", "already_canceled")
        if booking.amount_in_flight > 0:
            raise ApplicationError(
                "A payment for this booking is still in progress. Re-check it with M-Pesa first.", "payment_in_flight"
            )
        to_refund = _cancel_for_the_business(
            booking=booking, actor=actor, kind=Booking.CancelKind.STAFF, reason=reason, who="staff"
        )
    logger.info("booking canceled by staff booking_id=%s refunds_due=%d", booking.pk, len(to_refund))
    return booking


def booking_owner_cancel(*, booking_id: int, actor, reason: str) -> tuple[Booking, list]:
    """The owner of the property cancels a booking from the admin (kind "owner").

    An owner's cancellation gives the guest back everything paid (reservations.cancellation):
    the payments app answers booking_canceled with the refunds it created, returned here
    with the booking. Same rules as the staff cancel (a payment in flight blocks it) and two
    more: only the property's owner may (anyone else: 404, so ids cannot be probed), and not
    once the stay has begun (check-in passed): the owner's payout falls due then, so a
    cancellation after it is for Nexus staff to sort out.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("A reason for the cancellation is required.", "reason_required", 400)
    with transaction.atomic():
        booking = Booking.objects.select_for_update().filter(pk=booking_id).first()
        owner_id = (
            PropertyPage.objects.filter(pk=booking.property_id).values_list("owner_id", flat=True).first()
            if booking is not None
            else None
        )
        if booking is None or actor is None or owner_id != actor.pk:
            raise ApplicationError("Booking not found.", "not_found", status=404)
        if booking.status == Booking.Status.CANCELED:
            raise ApplicationError("This booking is already cancelled.", "already_canceled")
        if check_in_at(booking.check_in) <= timezone.now():
            raise ApplicationError(
                "The stay has already begun: ask Nexus staff to cancel it.", "booking_not_cancellable"
            )
        if booking.amount_in_flight > 0:
            raise ApplicationError(
                "A payment for this booking is still in progress. Wait for M-Pesa's answer first.",
                "payment_in_flight",
            )
        refunds = _cancel_for_the_business(
            booking=booking, actor=actor, kind=Booking.CancelKind.OWNER, reason=reason, who="owner"
        )
    logger.info("booking canceled by owner booking_id=%s refunds=%d", booking.pk, len(refunds))
    return booking, refunds
