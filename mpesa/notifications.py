"""The payment notifications: what each email and SMS shows and who gets it (core/notifications.py
sends them; docs/notifications.md has the table).

Registered at start-up (MpesaConfig.ready()) for the events the payments app raises.
"""

from core.notifications import Letter, Sms, notification_register
from mpesa.models import Payment
from reservations.models import Booking


def payment_received_letter(booking_id: int, payment_id: int | None = None) -> Letter:
    """To the payer, with the receipt (email, and SMS unless they turned it off); to the
    primary guest when the payer is unknown."""
    booking = Booking.objects.select_related("property__owner", "primary_guest").get(pk=booking_id)
    payment = Payment.objects.select_related("initiated_by").get(pk=payment_id) if payment_id else None
    payer = payment.initiated_by if payment and payment.initiated_by_id else booking.primary_guest
    number = payer.sms_number()
    return Letter(
        context={"booking": booking, "payment": payment},
        recipients=[payer.email] if payer.email else [booking.primary_guest.email],
        texts=[Sms(to=number, template="payment_received")] if number else [],
    )


def payment_notifications_register() -> None:
    notification_register("payment_received", payment_received_letter)
