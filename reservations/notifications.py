"""The booking notifications: what each email and SMS shows and who gets it (core/notifications.py
sends them; docs/notifications.md has the table).

Registered at start-up (ReservationsConfig.ready()) for the events reservations raises.
SMS go to the numbers on the accounts (User.sms_number(): empty when the user turned SMS off).
"""

from django.conf import settings
from django.urls import reverse

from core.notifications import Letter, Sms, notification_register
from reservations.deadlines import booking_balance_due_by
from reservations.models import Booking


def _booking(booking_id: int) -> Booking:
    return Booking.objects.select_related("property__owner", "primary_guest").get(pk=booking_id)


def _letter(booking: Booking, recipients: list[str], texts: list[Sms] | None = None) -> Letter:
    return Letter(context={"booking": booking, "payment": None}, recipients=recipients, texts=texts or [])


def _texts(pairs) -> list[Sms]:
    """One Sms per distinct number, in order, skipping users without one (or with SMS off).
    `pairs` is (user or None, template, extra context)."""
    texts, seen = [], set()
    for user, template, context in pairs:
        number = user.sms_number() if user is not None else ""
        if number and number not in seen:
            seen.add(number)
            texts.append(Sms(to=number, template=template, context=context))
    return texts


def _owner(booking: Booking):
    return booking.property.owner if booking.property.owner_id else None


def booking_detail_url(booking: Booking) -> str:
    return settings.WAGTAILADMIN_BASE_URL.rstrip("/") + reverse("reservations:booking_detail", args=[booking.pk])


def booking_created_letter(booking_id: int, payment_id: int | None = None) -> Letter:
    """Email to the owner: a new booking of their property. SMS to the booker (the hold and
    what to pay) and to the owner."""
    booking = _booking(booking_id)
    owner = _owner(booking)
    texts = _texts(
        [
            (booking.primary_guest, "booking_created_guest", {}),
            (owner, "booking_created_owner", {}),
        ]
    )
    return _letter(booking, [owner.email] if owner and owner.email else [], texts)


def booking_confirmed_letter(booking_id: int, payment_id: int | None = None) -> Letter:
    """To the booker and the co-guests who accepted their invitation, at their accounts'
    addresses and numbers. An address the booker typed proves nothing: until its owner
    accepts, the co-guest is a name on the booking and is told nothing more about it.
    The owner gets an SMS too."""
    booking = _booking(booking_id)
    guests = [g for g in booking.guests.select_related("user") if g.user_id]
    guests.sort(key=lambda g: not g.is_primary)
    url = {"url": booking_detail_url(booking)}
    texts = _texts(
        [(g.user, "booking_confirmed_guest", url) for g in guests]
        + [(_owner(booking), "booking_confirmed_owner", {})]
    )
    return _letter(booking, sorted({g.user.email.lower() for g in guests if g.user.email}), texts)


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
    letter = _letter(booking, [booking.primary_guest.email], texts)
    letter.context.update(money)
    return letter


def balance_due_reminder_letter(booking_id: int, payment_id: int | None = None) -> Letter:
    """To the primary guest: the balance still due and by when (reservations/reminders.py)."""
    booking = _booking(booking_id)
    due_by = booking_balance_due_by(check_in=booking.check_in, booking_date=booking.booking_date)
    extra = {"due_by": due_by, "url": booking_detail_url(booking)}
    letter = _letter(booking, [booking.primary_guest.email], _texts([(booking.primary_guest, "balance_due_reminder", extra)]))
    letter.context.update(extra)
    return letter


def booking_notifications_register() -> None:
    notification_register("booking_created", booking_created_letter)
    notification_register("booking_confirmed", booking_confirmed_letter)
    notification_register("booking_canceled", booking_canceled_letter)
    notification_register("balance_due_reminder", balance_due_reminder_letter)
