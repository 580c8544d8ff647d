"""Co-guest invitations: the only way a co-guest's row gets linked to an account (docs/booking-rules.md).

The booker types a co-guest's name and, optionally, an email and a phone number. Anyone can
type anyone's address, so a matching email or phone proves nothing and never links. Instead
a link with a long random secret goes to that address (and by SMS to that number); whoever
opens it while logged in and accepts becomes that co-guest (sees the booking, may pay toward it).

- The secret (secrets.token_urlsafe(32), 256 bits) is made by the worker at the moment it
  sends the email, and only its SHA-256 is stored: a leaked database, task queue or log
  holds no working link. A re-sent invitation replaces the hash, so older links stop working.
- A link is one-time (the hash is cleared on acceptance) and expires after
  BOOKING_INVITATION_TTL_DAYS.
- Adding a co-guest never looks up accounts, so nothing the booker sees (text, timing,
  the `user` field) depends on whether the address has an account.
"""

import datetime as dt
import hashlib
import logging
import secrets

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core.exceptions import ApplicationError
from core.notifications import Sms
from core.services import audit_record
from core.sms import sms_send
from core.tasks import email_render, sms_render
from reservations.models import Booking, BookingGuest

logger = logging.getLogger(__name__)

TASK = "reservations.tasks.booking_guest_invitations_send"
TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters; anything much longer is not one of ours and is not hashed.
MAX_TOKEN_LENGTH = 128
# The booker may send an invitation again after this long: a lost email is worth a retry,
# a stream of emails to somebody else's inbox is not.
RESEND_AFTER = dt.timedelta(minutes=10)

INVALID_MESSAGE = "This invitation link is not valid. It may have been used already; ask the guest who booked to send it again."
EXPIRED_MESSAGE = "This invitation link has expired. Ask the guest who booked to send it again."


def invitation_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _invalid(message: str = INVALID_MESSAGE) -> ApplicationError:
    return ApplicationError(message, "invalid_invitation", 400)


def booking_guest_invitations_enqueue(*, guest_ids: list[int]) -> None:
    """Send the invitation emails of these co-guests once the current transaction commits."""
    ids = list(guest_ids)
    if not ids:
        return

    def enqueue() -> None:
        from django_q.tasks import async_task

        async_task(TASK, ids, task_name=f"invite-{ids[0]}")

    transaction.on_commit(enqueue)


def booking_guest_invitation_request(*, guest: BookingGuest) -> None:
    """Mark an unsaved or locked co-guest row as invited (the worker mints the link and sends it).

    A row with neither an email nor a phone number gets no invitation. Any earlier link
    stops working. The caller saves the row and enqueues the send.
    """
    if guest.is_primary or not (guest.email or guest.phone_number) or guest.user_id is not None:
        return
    guest.invited_at = timezone.now()
    guest.invitation_token_hash = ""
    guest.invitation_expires_at = None


def booking_guest_invitations_send(*, guest_ids: list[int]) -> int:
    """Email each invited co-guest a fresh link (the django-q2 task). Returns how many were sent.

    Safe to run twice: a row whose link was already minted (hash set), accepted, removed or
    whose booking was cancelled is skipped under its row lock. Minting and sending happen in
    one transaction, so a failed send stores no hash and the retry sends a working link.
    """
    sent, failures = 0, []
    for guest_id in guest_ids:
        try:
            sent += _invitation_send(guest_id)
        except Exception as error:  # noqa: BLE001 - one bad address must not stop the others
            logger.exception("invitation email failed guest_id=%s", guest_id)
            failures.append(error)
    if failures:
        raise failures[0]
    return sent


def _invitation_send(guest_id: int) -> int:
    with transaction.atomic():
        guest = (
            BookingGuest.objects.select_for_update(of=("self",))
            .select_related("booking__property", "booking__primary_guest")
            .filter(pk=guest_id)
            .first()
        )
        if (
            guest is None
            or guest.is_primary
            or guest.user_id is not None
            or not guest.invited_at
            or guest.invitation_token_hash
            or not (guest.email or guest.phone_number)
            or guest.booking.status == Booking.Status.CANCELED
        ):
            return 0
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = timezone.now()
        guest.invitation_token_hash = invitation_token_hash(token)
        guest.invitation_expires_at = now + dt.timedelta(days=settings.BOOKING_INVITATION_TTL_DAYS)
        guest.save(update_fields=["invitation_token_hash", "invitation_expires_at"])
        booking = guest.booking
        audit_record(
            obj=booking,
            action="booking.guest_invited",
            summary=f"{booking.reference} invitation sent to {guest.name}",
            data={
                "guest_id": guest.pk,
                "email": guest.email,
                "phone_number": guest.phone_number,
                "expires_at": guest.invitation_expires_at.isoformat(),
            },
        )
        if guest.email:
            _email(guest=guest, token=token)
        else:
            # The SMS is the only way the link reaches this co-guest: a failure rolls the
            # link back and the task is retried.
            _sms(guest=guest, token=token)
    if guest.email and guest.phone_number:
        # Also by SMS, once the emailed link is stored. Not retried: a retry would have to mint
        # a new link and so void the one already emailed; the booker can send it again.
        try:
            _sms(guest=guest, token=token)
        except Exception:  # noqa: BLE001 - the email carries the same link
            logger.exception("invitation sms failed guest_id=%s", guest_id)
    logger.info("invitation sent guest_id=%s booking=%s", guest_id, booking.reference)
    return 1


def _email(*, guest: BookingGuest, token: str) -> None:
    site_url = settings.WAGTAILADMIN_BASE_URL.rstrip("/")
    context = {
        "booking": guest.booking,
        "guest": guest,
        "inviter": guest.booking.primary_guest,
        "accept_url": site_url + reverse("invitation_accept", args=[token]),
        "expires_at": guest.invitation_expires_at,
        "site_url": site_url,
    }
    # In the booker's language: the co-guest has no account (so no language of their own)
    # until they accept, and was invited by someone who writes to them in it.
    subject, text, html = email_render("invitation", context, guest.booking.primary_guest.language)
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[guest.email])
    message.attach_alternative(html, "text/html")
    message.send()


def _sms(*, guest: BookingGuest, token: str) -> None:
    """The invitation link by SMS to the number the booker typed (the co-guest has no account
    yet, so there is no SMS setting to honour)."""
    context = {
        "booking": guest.booking,
        "inviter": guest.booking.primary_guest,
        "accept_url": settings.WAGTAILADMIN_BASE_URL.rstrip("/") + reverse("invitation_accept", args=[token]),
    }
    language = guest.booking.primary_guest.language  # the booker's, as for the email
    sms_send(to=guest.phone_number, message=sms_render(Sms(to=guest.phone_number, template="invitation", language=language), context))


def invitation_get(*, token: str) -> BookingGuest:
    """The co-guest row a still-usable link belongs to (its booking and booker loaded), or
    ApplicationError invalid_invitation. Changes nothing: the confirm page shows it."""
    token = (token or "").strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise _invalid()
    guest = (
        BookingGuest.objects.select_related("booking__property", "booking__primary_guest")
        .filter(invitation_token_hash=invitation_token_hash(token), user__isnull=True, is_primary=False)
        .first()
    )
    if guest is None:
        raise _invalid()
    if guest.invitation_expires_at is None or guest.invitation_expires_at <= timezone.now():
        raise _invalid(EXPIRED_MESSAGE)
    if guest.booking.status == Booking.Status.CANCELED:
        raise _invalid("This booking has been cancelled, so the invitation can no longer be accepted.")
    return guest


def booking_invitation_accept(*, token: str, user) -> Booking:
    """`user` (logged in) accepts the invitation whose link carries `token`: they become that
    co-guest. 400 invalid_invitation for an unknown, used or expired link, a cancelled booking,
    the booker's own booking, or someone already on the booking.

    The accepting account's email need not equal the invited address: the link reached
    that mailbox, which is the proof, and people often sign up with another address. Who
    accepted, and with which address, goes to the audit trail.
    """
    found = invitation_get(token=token)
    with transaction.atomic():
        # Booking first, then the guest row: the lock order every booking write uses.
        booking = Booking.objects.select_for_update().get(pk=found.booking_id)
        guest = BookingGuest.objects.select_for_update().filter(pk=found.pk).first()
        if (
            guest is None
            or guest.user_id is not None
            or guest.invitation_token_hash != invitation_token_hash(token.strip())
        ):
            raise _invalid()
        if guest.invitation_expires_at is None or guest.invitation_expires_at <= timezone.now():
            raise _invalid(EXPIRED_MESSAGE)
        if booking.status == Booking.Status.CANCELED:
            raise _invalid("This booking has been cancelled, so the invitation can no longer be accepted.")
        if booking.primary_guest_id == user.pk:
            raise _invalid("You made this booking: this invitation is for the guest you invited.")
        if booking.guests.filter(user=user).exists():
            raise _invalid("You are already a guest on this booking.")
        guest.user = user
        guest.invitation_accepted_at = timezone.now()
        guest.invitation_token_hash = ""
        guest.invitation_expires_at = None
        guest.save(update_fields=["user", "invitation_accepted_at", "invitation_token_hash", "invitation_expires_at"])
        audit_record(
            obj=booking,
            action="booking.guest_invitation_accepted",
            actor=user,
            summary=f"{booking.reference} {guest.name} accepted as {user.email}",
            data={
                "guest_id": guest.pk,
                "invited_email": guest.email,
                "accepted_by": user.pk,
                "accepted_by_email": user.email,
            },
        )
    logger.info("invitation accepted guest_id=%s booking=%s user=%s", guest.pk, booking.reference, user.pk)
    return booking


def booking_guest_invitation_resend(*, booking_id: int, guest_id: int, actor) -> BookingGuest:
    """The booker sends a co-guest's invitation again (lost or expired email); earlier links stop working."""
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking_id)
        if booking.primary_guest_id != getattr(actor, "pk", None):
            raise ApplicationError("Only the guest who made the booking can send invitations.", "not_primary_guest", 403)
        if booking.status == Booking.Status.CANCELED:
            raise ApplicationError("This booking is cancelled.", "booking_canceled", 409)
        guest = booking.guests.select_for_update().filter(pk=guest_id, is_primary=False).first()
        if guest is None:
            raise ApplicationError("That guest is not on this booking.", "guest_not_found", 404)
        if guest.user_id is not None:
            raise ApplicationError(f"{guest.name} has already accepted.", "invitation_accepted", 409)
        if not (guest.email or guest.phone_number):
            raise ApplicationError(
                f"Add an email or a phone number for {guest.name} to invite them.", "guest_without_email", 409
            )
        if guest.invited_at and timezone.now() < guest.invited_at + RESEND_AFTER:
            raise ApplicationError(
                f"An invitation went to {guest.name} a few minutes ago. You can send it again in a little while.",
                "invitation_recently_sent",
                429,
            )
        booking_guest_invitation_request(guest=guest)
        guest.save(update_fields=["invited_at", "invitation_token_hash", "invitation_expires_at"])
        audit_record(
            obj=booking,
            action="booking.guest_invitation_resent",
            actor=actor,
            summary=f"{booking.reference} invitation for {guest.name} sent again",
            data={"guest_id": guest.pk},
        )
        booking_guest_invitations_enqueue(guest_ids=[guest.pk])
    return guest
