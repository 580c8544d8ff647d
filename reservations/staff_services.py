"""Booking actions taken by staff in the Wagtail admin."""

import logging

from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from core.notifications import notify
from core.services import audit_record
from reservations.models import Booking

logger = logging.getLogger(__name__)


def booking_staff_cancel(*, booking_id: int, actor, reason: str) -> Booking:
    """Cancel a booking on behalf of the business, even when it holds money.

    Unlike the guest's cancel, money does not block it: every successful payment
    that is not refunded in full is marked needs_refund and flagged, so it shows
    up for staff until the refund is recorded (mpesa.refunds.payment_record_refund).
    A payment still in flight does block it: its callback could land after the
    cancel and restore the booking, so staff re-check that payment first.
    """
    from mpesa.models import Payment
    from mpesa.refunds import payment_refundable_amount

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
        payments = list(Payment.objects.select_for_update().filter(booking=booking).order_by("pk"))
        if any(p.in_flight for p in payments):
            raise ApplicationError(
                "A payment for this booking is still in progress. Re-check it with M-Pesa first.", "payment_in_flight"
            )
        before = {"status": booking.status, "amount_paid": booking.amount_paid}
        booking.status = Booking.Status.CANCELED
        booking.canceled_at = timezone.now()
        booking.cancel_reason = f"Cancelled by Nexus: {reason}"[:200]
        booking.hold_expires_at = None
        booking.save(update_fields=["status", "canceled_at", "cancel_reason", "hold_expires_at", "updated_at"])

        to_refund = []
        for payment in payments:
            refundable = payment_refundable_amount(payment=payment)
            if refundable == 0:
                continue
            payment.needs_refund = True
            payment.flagged = True
            payment.flag_reason = f"Booking {booking.reference} cancelled by staff: refund KES {refundable}"[:255]
            payment.flag_resolved_at = None
            payment.flag_resolved_by = None
            payment.flag_resolution_note = ""
            payment.save(
                update_fields=[
                    "needs_refund",
                    "flagged",
                    "flag_reason",
                    "flag_resolved_at",
                    "flag_resolved_by",
                    "flag_resolution_note",
                    "updated_at",
                ]
            )
            audit_record(
                obj=payment,
                action="payment.refund_due",
                actor=actor,
                summary=f"Refund of KES {refundable} due: booking cancelled by staff",
                after={"needs_refund": True, "flagged": True},
                data={"booking_id": booking.pk, "refundable": refundable},
            )
            to_refund.append({"payment_id": payment.pk, "refundable": refundable})

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
