import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from core.models import SentNotification
from core.notifications import notification_loader

logger = logging.getLogger(__name__)


def notification_send(event: str, booking_id: int, payment_id: int | None = None) -> int:
    """Send one notification email. Safe to run twice: the SentNotification key is claimed first.

    What the email shows and who gets it come from the app that registered the event
    (core/notifications.py)."""
    letter = notification_loader(event)(booking_id, payment_id)
    key = f"{event}:booking={booking_id}:payment={payment_id or '-'}"
    recipients = letter.recipients
    if not recipients:
        return 0
    try:
        with transaction.atomic():
            SentNotification.objects.create(key=key)
            context = {**letter.context, "site_url": settings.WAGTAILADMIN_BASE_URL}
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
