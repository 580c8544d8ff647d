"""The payment notifications: what each email and SMS shows and who gets it (core/notifications.py
sends them; docs/notifications.md has the table).

Registered at start-up (MpesaConfig.ready()) for the events the payments app raises.
Each message is written in its recipient's language (User.language; core.tasks renders it).
"""

from core.notifications import Letter, Sms, notification_register
from mpesa.models import Payment, Refund
from reservations.models import Booking


def payment_received_letter(booking_id: int, payment_id: int | None = None) -> Letter:
    """To the payer, with the receipt (email, and SMS unless they turned it off); to the
    primary guest when the payer is unknown."""
    booking = Booking.objects.select_related("property__owner", "primary_guest").get(pk=booking_id)
    payment = Payment.objects.select_related("initiated_by").get(pk=payment_id) if payment_id else None
    payer = payment.initiated_by if payment and payment.initiated_by_id else booking.primary_guest
    number = payer.sms_number()
    reader = payer if payer.email else booking.primary_guest
    return Letter(
        context={"booking": booking, "payment": payment},
        recipients=[reader.email],
        texts=[Sms(to=number, template="payment_received", language=payer.language)] if number else [],
        languages={reader.email: reader.language},
    )


def refund_sent_letter(booking_id: int, refund_id: int | None = None) -> Letter:
    """A refund reached the phone that paid (mpesa.transfers): to the payer of the refunded
    payment (the primary guest when unknown), with the amount and M-Pesa's id. The second
    argument of a loader is the refund's id here (core.notifications keys messages by it)."""
    booking = Booking.objects.select_related("property", "primary_guest").get(pk=booking_id)
    refund = Refund.objects.select_related("payment__initiated_by").get(pk=refund_id, booking_id=booking_id)
    payer = refund.payment.initiated_by if refund.payment.initiated_by_id else booking.primary_guest
    number = payer.sms_number()
    reader = payer if payer.email else booking.primary_guest
    return Letter(
        context={"booking": booking, "refund": refund, "payer": payer},
        recipients=[reader.email] if reader.email else [],
        texts=[Sms(to=number, template="refund_sent", language=payer.language)] if number else [],
        languages={reader.email: reader.language} if reader.email else {},
    )


def payment_notifications_register() -> None:
    notification_register("payment_received", payment_received_letter)
    notification_register("refund_sent", refund_sent_letter)
