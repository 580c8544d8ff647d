import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from core.models import SentNotification

logger = logging.getLogger(__name__)


def _recipients(event: str, booking, payment) -> list[str]:
    if event == "booking_created":
        return [booking.property.owner.email] if booking.property.owner_id and booking.property.owner.email else []
    if event == "booking_confirmed":
        # The booker and the co-guests who accepted their invitation, at their accounts'
        # addresses. An address the booker typed proves nothing: until its owner accepts,
        # the co-guest is a name on the booking and is told nothing more about it.
        return sorted({g.user.email.lower() for g in booking.guests.select_related("user") if g.user_id and g.user.email})
    if event == "booking_canceled":
        return [booking.primary_guest.email]
    if event == "payment_received":
        payer = payment.initiated_by if payment else None
        return [payer.email] if payer and payer.email else [booking.primary_guest.email]
    return []


def notification_send(event: str, booking_id: int, payment_id: int | None = None) -> int:
    """Send one notification email. Safe to run twice: the SentNotification key is claimed first."""
    from mpesa.models import Payment
    from reservations.models import Booking

    booking = Booking.objects.select_related("property__owner", "primary_guest").get(pk=booking_id)
    payment = Payment.objects.select_related("initiated_by").get(pk=payment_id) if payment_id else None
    key = f"{event}:booking={booking_id}:payment={payment_id or '-'}"
    recipients = _recipients(event, booking, payment)
    if not recipients:
        return 0
    try:
        with transaction.atomic():
            SentNotification.objects.create(key=key)
            context = {"booking": booking, "payment": payment, "site_url": settings.WAGTAILADMIN_BASE_URL}
            subject = render_to_string(f"emails/{event}_subject.txt", context).strip()
            message = EmailMultiAlternatives(
                subject=subject,
                body=render_to_string(f"emails/{event}.txt", context),
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=recipients,
            )
            message.attach_alternative(render_to_string(f"emails/{event}.html", context), "text/html")
            message.send()
    except IntegrityError:
        logger.info("notification already sent key=%s", key)
        return 0
    logger.info("notification sent key=%s to=%d", key, len(recipients))
    return len(recipients)


def notifications_send(events: list) -> int:
    """The task core.notifications enqueues: every (event, booking_id, payment_id) of one transaction.

    Each is sent independently; if any fails the task raises after trying the rest, so
    django-q2 retries it and the SentNotification keys keep the sent ones from repeating.
    """
    sent, failures = 0, []
    for event, booking_id, payment_id in events:
        try:
            sent += notification_send(event, booking_id, payment_id)
        except Exception as error:  # noqa: BLE001 - one bad email must not stop the others
            logger.exception("notification failed event=%s booking_id=%s", event, booking_id)
            failures.append(error)
    if failures:
        raise failures[0]
    return sent
