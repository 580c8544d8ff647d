"""The booking notifications: what each email and SMS shows and who gets it (core/notifications.py
sends them; docs/notifications.md has the table).

Registered at start-up (ReservationsConfig.ready()) for the events reservations raises.
SMS go to the numbers on the accounts (User.sms_number(): empty when the user turned SMS off).
Every message is written in its recipient's language (User.language; core.tasks renders it
under translation.override). The check-in details (address, directions, host's phone,
instructions) go only into the messages of a confirmed booking (reservations.check_in).
"""

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from core.notifications import Email, Letter, Sms, notification_register
from reservations.check_in import booking_check_in_details
from reservations.deadlines import booking_balance_due_by
from reservations.models import Booking
from reservations.site_context import payment_limits


def _booking(booking_id: int) -> Booking:
    return Booking.objects.select_related("property__owner", "primary_guest").get(pk=booking_id)


def _letter(booking: Booking, users: list, texts: list[Sms] | None = None) -> Letter:
    """The event's email to `users` (each in their language, without duplicate addresses)."""
    recipients, languages = [], {}
    for user in users:
        if user is not None and user.email and user.email.lower() not in {r.lower() for r in recipients}:
            recipients.append(user.email)
            languages[user.email] = _language(user)
    return Letter(context={"booking": booking, "payment": None}, recipients=recipients, texts=texts or [], languages=languages)


def _language(user) -> str:
    return getattr(user, "language", "") or ""


def _texts(pairs) -> list[Sms]:
    """One Sms per distinct number, in order, skipping users without one (or with SMS off).
    `pairs` is (user or None, template, extra context)."""
    texts, seen = [], set()
    for user, template, context in pairs:
        number = user.sms_number() if user is not None else ""
        if number and number not in seen:
            seen.add(number)
            texts.append(Sms(to=number, template=template, context=context, language=_language(user)))
    return texts


def _owner(booking: Booking):
    return booking.property.owner if booking.property.owner_id else None


def booking_detail_url(booking: Booking, language: str = "") -> str:
    """The booking page's address, in `language`'s URLs (the Kiswahili site is under /sw/)."""
    with translation.override(language or settings.LANGUAGE_CODE):
        path = reverse("reservations:booking_detail", args=[booking.pk])
    return settings.WAGTAILADMIN_BASE_URL.rstrip("/") + path


def booking_created_letter(booking_id: int, payment_id: int | None = None) -> Letter:
    """Email and SMS to the owner: a new booking of their property. Email and SMS to the
    booker: what they booked, how long the dates are held and where to pay.

    Sent by the minute's follow-up task (services.bookings_follow_up_created), so the booking
    may already be paid or cancelled when this runs: the guest is then told nothing here
    (the confirmation or cancellation message tells them), since "pay by 14:20" would be wrong."""
    booking = _booking(booking_id)
    owner = _owner(booking)
    guest = booking.primary_guest
    still_to_pay = booking.status in (Booking.Status.PENDING, Booking.Status.PROCESSING)
    # The deposit only for a listing that takes one (None when it wants the whole amount).
    pay = {"url": booking_detail_url(booking, _language(guest)), "deposit_amount": payment_limits(booking)["deposit_amount"]}
    texts = _texts(
        ([(guest, "booking_created_guest", pay)] if still_to_pay else [])
        + [(owner, "booking_created_owner", {})]
    )
    letter = _letter(booking, [owner], texts)
    if still_to_pay and guest.email and not (owner and owner.email.lower() == guest.email.lower()):
        letter.emails.append(Email(to=guest.email, template="booking_created_guest", context=pay, language=_language(guest)))
    return letter


def booking_confirmed_letter(booking_id: int, payment_id: int | None = None) -> Letter:
    """To the booker and the co-guests who accepted their invitation, at their accounts'
    addresses and numbers. An address the booker typed proves nothing: until its owner
    accepts, the co-guest is a name on the booking and is told nothing more about it.
    The owner gets an SMS too."""
    booking = _booking(booking_id)
    guests = [g for g in booking.guests.select_related("user") if g.user_id]
    guests.sort(key=lambda g: not g.is_primary)
    # None (no details) if the booking was cancelled between the event and this task.
    check_in = booking_check_in_details(booking=booking)
    extra = {"url": booking_detail_url(booking), "check_in_details": check_in}
    texts = _texts(
        [(g.user, "booking_confirmed_guest", {**extra, "url": booking_detail_url(booking, _language(g.user))}) for g in guests]
        + [(_owner(booking), "booking_confirmed_owner", {})]
    )
    letter = _letter(booking, sorted((g.user for g in guests if g.user.email), key=lambda u: u.email.lower()), texts)
    letter.context.update(extra)
    return letter


def _money_back(booking: Booking) -> dict:
    """What the cancellation gives back: `refund_total`, the refunds on their way or sent (the
    payments app's rows, read through the booking's reverse relation, so reservations imports
    nothing of it), and `kept`, what the policy keeps of the money paid."""
    related = getattr(booking, "refunds", None)
    refunds = list(related.all()) if related is not None else []
    refund_total = sum(r.amount for r in refunds if r.status != "FAILED")
    # amount_paid already excludes refunds that landed: add them back for what was paid.
    paid = booking.amount_paid + sum(r.amount for r in refunds if r.status == "SUCCESS")
    return {"refund_total": refund_total, "kept": max(paid - refund_total, 0), "paid_total": paid}


def booking_canceled_letter(booking_id: int, payment_id: int | None = None) -> Letter:
    """To the primary guest (a cancellation, or a hold that expired): what comes back to their
    M-Pesa under the cancellation policy, and what is kept; an SMS to the owner too."""
    booking = _booking(booking_id)
    money = _money_back(booking)
    texts = _texts(
        [
            (booking.primary_guest, "booking_canceled_guest", money),
            (_owner(booking), "booking_canceled_owner", {}),
        ]
    )
    letter = _letter(booking, [booking.primary_guest], texts)
    letter.context.update(money)
    return letter


def balance_due_reminder_letter(booking_id: int, payment_id: int | None = None) -> Letter:
    """To the primary guest: the balance still due and by when (reservations/reminders.py)."""
    booking = _booking(booking_id)
    due_by = booking_balance_due_by(check_in=booking.check_in, booking_date=booking.booking_date)
    extra = {"due_by": due_by, "url": booking_detail_url(booking, _language(booking.primary_guest))}
    letter = _letter(booking, [booking.primary_guest], _texts([(booking.primary_guest, "balance_due_reminder", extra)]))
    letter.context.update(extra)
    return letter


def booking_notifications_register() -> None:
    notification_register("booking_created", booking_created_letter)
    notification_register("booking_confirmed", booking_confirmed_letter)
    notification_register("booking_canceled", booking_canceled_letter)
    notification_register("balance_due_reminder", balance_due_reminder_letter)
