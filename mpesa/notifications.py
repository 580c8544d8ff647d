"""The payment emails: what each shows and who gets it (core/notifications.py sends them).

Registered at start-up (MpesaConfig.ready()) for the events the payments app raises.
"""

from core.notifications import Letter, notification_register
from mpesa.models import Payment
from reservations.models import Booking


def payment_received_letter(booking_id: int, payment_id: int | None = None) -> Letter:
    """To the payer, with the receipt; to the primary guest when the payer is unknown."""
    booking = Booking.objects.select_related("property__owner", "primary_guest").get(pk=booking_id)
    payment = Payment.objects.select_related("initiated_by").get(pk=payment_id) if payment_id else None
    payer = payment.initiated_by if payment else None
    recipients = [payer.email] if payer and payer.email else [booking.primary_guest.email]
    return Letter(context={"booking": booking, "payment": payment}, recipients=recipients)


def payment_notifications_register() -> None:
    notification_register("payment_received", payment_received_letter)
