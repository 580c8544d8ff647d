import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from core.models import SentNotification
from core.notifications import Sms, notification_loader
from core.sms import sms_fold, sms_send

logger = logging.getLogger(__name__)


def notification_send(event: str, booking_id: int, payment_id: int | None = None) -> int:
    """Send one event's email and SMS. Returns how many messages went out (email addresses + SMS).

    Safe to run twice: each message claims its SentNotification key in the transaction that
    sends it, so a failed send claims nothing and the retry sends it, and a sent one is never
    repeated. Keys: "<event>:booking=<id>:payment=<id|->" for the email (one email to all its
    addresses), and that key prefixed "sms:" and followed by ":to=<E.164>" for each SMS.
    An SMS that fails does not stop the others; the first failure is raised at the end.
    What the messages say and who gets them come from the app that registered the event
    (core/notifications.py).
    """
    letter = notification_loader(event)(booking_id, payment_id)
    key = f"{event}:booking={booking_id}:payment={payment_id or '-'}"
    context = {**letter.context, "site_url": settings.WAGTAILADMIN_BASE_URL}
    messages = []
    if letter.recipients:
        messages.append((key, len(letter.recipients), lambda: _email(event, context, letter.recipients)))
    for text in letter.texts:
        messages.append((f"sms:{key}:to={text.to}", 1, lambda text=text: _sms(text, context)))
    sent, failures = 0, []
    for message_key, count, send in messages:
        try:
            if _claim_and_send(message_key, send):
                logger.info("notification sent key=%s to=%d", message_key, count)
                sent += count
        except Exception as error:  # noqa: BLE001 - one failed channel or phone must not stop the others
            logger.exception("notification failed key=%s", message_key)
            failures.append(error)
    if failures:
        raise failures[0]
    return sent


def _claim_and_send(key: str, send) -> bool:
    """Claim `key` and send in one transaction: False when it was claimed (sent) before."""
    try:
        with transaction.atomic():
            SentNotification.objects.create(key=key)
            send()
    except IntegrityError:
        logger.info("notification already sent key=%s", key)
        return False
    return True


def _email(event: str, context: dict, recipients: list[str]) -> None:
    subject = render_to_string(f"emails/{event}_subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{event}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
    )
    message.attach_alternative(render_to_string(f"emails/{event}.html", context), "text/html")
    message.send()


def sms_render(text: Sms, context: dict) -> str:
    """An SMS's text: its template with the letter's and its own context, in the GSM alphabet."""
    return sms_fold(render_to_string(f"sms/{text.template}.txt", {**context, **text.context}))


def _sms(text: Sms, context: dict) -> None:
    sms_send(to=text.to, message=sms_render(text, context))


def notifications_send(events: list) -> int:
    """The task core.notifications enqueues: every (event, booking_id, payment_id) of one transaction.

    Each is sent independently; if any fails the task raises after trying the rest, so
    django-q2 retries it and the SentNotification keys keep the sent ones from repeating.
    """
    sent, failures = 0, []
    for event, booking_id, payment_id in events:
        try:
            sent += notification_send(event, booking_id, payment_id)
        except Exception as error:  # noqa: BLE001 - one bad message must not stop the others
            logger.exception("notification failed event=%s booking_id=%s", event, booking_id)
            failures.append(error)
    if failures:
        raise failures[0]
    return sent
