"""The owner's "payout sent" email and SMS (core/notifications.py sends them; docs/notifications.md).

notify("payout_sent", booking_id=..., payment_id=<the payout's id>): the second id names
the Payout, so each payout is announced once (core.tasks keys messages by both ids).
Registered at start-up (MpesaConfig.ready()).
"""

from core.notifications import Letter, Sms, notification_register
from mpesa.models import Payout


def payout_sent_letter(booking_id: int, payment_id: int | None = None) -> Letter:
    """To the owner paid: email, and SMS unless they turned it off."""
    payout = Payout.objects.select_related("owner", "booking__property").get(pk=payment_id, booking_id=booking_id)
    owner = payout.owner
    number = owner.sms_number()
    return Letter(
        context={"booking": payout.booking, "payment": None, "payout": payout, "owner": owner},
        recipients=[owner.email] if owner.email else [],
        texts=[Sms(to=number, template="payout_sent_owner", language=owner.language)] if number else [],
        # In the owner's language (User.language), like every message (core.tasks renders it).
        languages={owner.email: owner.language} if owner.email else {},
    )


def payout_notifications_register() -> None:
    notification_register("payout_sent", payout_sent_letter)
