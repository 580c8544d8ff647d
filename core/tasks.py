import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import translation

from core.models import SentNotification
from core.notifications import Email, Letter, Sms, notification_loader
from core.sms import sms_fold, sms_send

logger = logging.getLogger(__name__)


def notification_send(event: str, booking_id: int, payment_id: int | None = None) -> int:
    """Send one event's email and SMS. Returns how many messages went out (email addresses + SMS).

    Safe to run twice: each message claims its SentNotification key in the transaction that
    sends it, so a failed send claims nothing and the retry sends it, and a sent one is never
    repeated. Keys: "<event>:booking=<id>:payment=<id|->" for the email (one email to all its
    addresses of one language; the addresses of any further language get ":lang=<code>"
    after it), that key prefixed "email:" and followed by ":to=<address>" for each Email of
    its own, and prefixed "sms:" and followed by ":to=<E.164>" for each SMS.
    Each message is rendered in its recipient's language (translation.override).
    An SMS that fails does not stop the others; the first failure is raised at the end.
    What the messages say and who gets them come from the app that registered the event
    (core/notifications.py).
    """
    letter = notification_loader(event)(booking_id, payment_id)
    key = f"{event}:booking={booking_id}:payment={payment_id or '-'}"
    context = {**letter.context, "site_url": settings.WAGTAILADMIN_BASE_URL}
    messages = []
    for index, (language, recipients) in enumerate(_by_language(letter)):
        email_key = key if index == 0 else f"{key}:lang={language}"
        messages.append(
            (email_key, len(recipients), lambda language=language, recipients=recipients: _email(event, context, recipients, language))
        )
    for email in letter.emails:
        messages.append((f"email:{key}:to={email.to}", 1, lambda email=email: _own_email(email, context)))
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


def _by_language(letter: Letter) -> list[tuple[str, list[str]]]:
    """The event email's addresses grouped by language, the first address's language first."""
    groups: dict[str, list[str]] = {}
    for address in letter.recipients:
        groups.setdefault(letter.languages.get(address, ""), []).append(address)
    return list(groups.items())


def message_language(language: str) -> str:
    """The language a message is written in: the recipient's, else the site's default."""
    return language or settings.LANGUAGE_CODE


def email_render(template: str, context: dict, language: str = "") -> tuple[str, str, str]:
    """(subject, text, html) of emails/<template>*, in `language` (dates and numbers too)."""
    with translation.override(message_language(language)):
        return (
            " ".join(render_to_string(f"emails/{template}_subject.txt", context).split()),
            render_to_string(f"emails/{template}.txt", context),
            render_to_string(f"emails/{template}.html", context),
        )


def _send_email(template: str, context: dict, recipients: list[str], language: str) -> None:
    subject, text, html = email_render(template, context, language)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=recipients
    )
    message.attach_alternative(html, "text/html")
    message.send()


def _email(event: str, context: dict, recipients: list[str], language: str = "") -> None:
    _send_email(event, context, recipients, language)


def _own_email(email: Email, context: dict) -> None:
    _send_email(email.template, {**context, **email.context}, [email.to], email.language)


def sms_render(text: Sms, context: dict) -> str:
    """An SMS's text: its template with the letter's and its own context, in the recipient's
    language and the GSM alphabet."""
    with translation.override(message_language(text.language)):
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
