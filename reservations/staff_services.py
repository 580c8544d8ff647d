"""Booking actions taken by staff in the Wagtail admin."""

import logging

from django.db import transaction

from core.exceptions import ApplicationError
from core.notifications import notify
from core.services import audit_record
from reservations.models import Booking
from reservations.services import booking_mark_canceled

logger = logging.getLogger(__name__)


def booking_staff_cancel(*, booking_id: int, actor, reason: str) -> Booking:
    """Cancel a booking on behalf of the business, even when it holds money.

    Unlike the guest's cancel, money does not block it: every successful payment
    that is not refunded in full is marked needs_refund and flagged (by the payments
    app, answering the booking_canceled signal), so it shows up for staff until the
    refund is recorded.
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
        before = {"status": booking.status, "amount_paid": booking.amount_paid}
        booking.hold_expires_at = None
        to_refund = booking_mark_canceled(
            booking=booking, kind=Booking.CancelKind.STAFF, reason=f"Cancelled by Nexus: {reason}", actor=actor
        )

        audit_record(
            obj=booking,
            action="booking.canceled_by_staff",
            actor=actor,
            summary=f"Cancelled by staff: {reason}",
            before=before,
            after={"status": booking.status},
            data={"reason": reason, "refunds_due": to_refund},
        )
        notify("booking_canceled", booking_id=booking.pk)
    logger.info("booking canceled by staff booking_id=%s refunds_due=%d", booking.pk, len(to_refund))
    return booking
