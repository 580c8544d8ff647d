"""The bookings' share of a user's personal data (accounts.privacy): the export's bookings and
booking emails, when erasing an account must wait, and the anonymised guest rows.

Registered at start-up (ReservationsConfig.ready()).
"""

import datetime as dt
import re
from collections.abc import Iterable

from django.db.models import Max, Q

from accounts.privacy import DELETED_NAME, PersonalDataPart, date_iso, nairobi_iso, personal_data_register
from core.models import SentNotification
from listings.models import PropertyPage
from reservations.models import ACTIVE_STATUSES, Booking, BookingGuest
from reservations.selectors import booking_list_for_user

# core.tasks keys each sent notification "<event>:booking=<id>:payment=<id or ->" (the email)
# and "sms:<that>:to=<E.164>" (each SMS): the ids say what it was about, `to` whom an SMS went.
NOTIFICATION_KEY = re.compile(
    r"^(?:(?P<sms>sms):)?(?P<event>[a-z_]+):booking=(?P<booking>\d+):payment=(?P<payment>\d+|-)(?::to=(?P<to>.*))?$"
)

# The events sent to a property's owner (reservations.notifications); booking_confirmed goes to
# every linked guest and booking_canceled to the booker.
OWNER_EVENTS = ("booking_created",)


def _notification_row(sent: SentNotification) -> dict | None:
    match = NOTIFICATION_KEY.match(sent.key)
    if not match:
        return None
    row = {
        "event": match["event"],
        "channel": "sms" if match["sms"] else "email",
        "booking_id": int(match["booking"]),
        "payment_id": None if match["payment"] == "-" else int(match["payment"]),
        "sent_at": nairobi_iso(sent.sent_at),
    }
    if match["sms"]:
        row["to"] = match["to"]
    return row


def sent_notifications(*, prefixes: Iterable[str]) -> list[dict]:
    """The emails logged in SentNotification whose key starts with one of `prefixes`, as export rows."""
    prefixes = list(prefixes)
    rows = []
    for start in range(0, len(prefixes), 200):
        query = Q()
        for prefix in prefixes[start : start + 200]:
            query |= Q(key__startswith=prefix)
        for sent in SentNotification.objects.filter(query).order_by("sent_at", "id"):
            row = _notification_row(sent)
            if row is not None:
                rows.append(row)
    return rows


def user_e164(user) -> str:
    return str(user.phone_number) if user.phone_number else ""


def sms_sent_to(user, *, booking_ids: set[int]) -> list[dict]:
    """The SMS sent to the user's number about the bookings in `booking_ids`."""
    phone = user_e164(user)
    if not phone or not booking_ids:
        return []
    sent = SentNotification.objects.filter(key__startswith="sms:", key__endswith=f":to={phone}")
    sent = sent.order_by("sent_at", "id")
    rows = [_notification_row(row) for row in sent]
    return [row for row in rows if row is not None and row["booking_id"] in booking_ids]


def _booking_row(booking: Booking, *, as_primary: bool) -> dict:
    return {
        "id": booking.pk,
        "reference": booking.reference,
        "role": "primary_guest" if as_primary else "co_guest",
        "property": {"id": booking.property_id, "title": booking.property.title},
        "status": booking.status,
        "check_in": date_iso(booking.check_in),
        "check_out": date_iso(booking.check_out),
        "nights": booking.nights,
        "party_size": booking.party_size,
        "total_price": booking.total_price,
        "amount_paid": booking.amount_paid,
        "balance_due": booking.balance_due,
        "booked_at": nairobi_iso(booking.booking_date),
        "canceled_at": nairobi_iso(booking.canceled_at),
        "cancel_reason": booking.cancel_reason,
    }


def bookings_export(user) -> dict[str, list]:
    """The user's bookings (as booker or linked co-guest), their own guest details on each,
    and the booking emails sent to them. Other guests' details are theirs, not this user's."""
    bookings = list(booking_list_for_user(user=user))
    own_rows = {row.booking_id: row for row in BookingGuest.objects.filter(user=user)}
    rows = []
    for booking in bookings:
        row = _booking_row(booking, as_primary=booking.primary_guest_id == user.pk)
        guest = own_rows.get(booking.pk)
        if guest is not None:
            row["your_guest_details"] = {
                "name": guest.name,
                "email": guest.email,
                "phone_number": guest.phone_number,
                "invitation_accepted_at": nairobi_iso(guest.invitation_accepted_at),
            }
        rows.append(row)

    prefixes = []
    for booking in bookings:
        prefixes.append(f"booking_confirmed:booking={booking.pk}:")
        if booking.primary_guest_id == user.pk:
            prefixes.append(f"booking_canceled:booking={booking.pk}:")
    owned = list(Booking.objects.filter(property__owner=user).values_list("pk", flat=True)) if user.is_owner else []
    prefixes.extend(f"{event}:booking={pk}:" for pk in owned for event in OWNER_EVENTS)
    texts = sms_sent_to(user, booking_ids={booking.pk for booking in bookings} | set(owned))
    return {"bookings": rows, "notifications": sent_notifications(prefixes=prefixes) + texts}


def bookings_erasure_refusal(user, today: dt.date) -> str | None:
    """A booker keeps their account until their stays are over or cancelled (the host, the
    co-guests and any refund need someone to reach); an owner until their listings are off
    the site and no booked guest is still to come."""
    upcoming = (
        Booking.objects.filter(primary_guest=user, status__in=ACTIVE_STATUSES, check_out__gt=today)
        .order_by("check_in")
        .values_list("reference", flat=True)
    )
    references = list(upcoming[:5])
    if references:
        return (
            f"You have bookings that are not over yet ({', '.join(references)}): "
            "cancel them, or delete your account after check-out."
        )
    live = list(PropertyPage.objects.filter(owner=user, live=True).values_list("title", flat=True)[:5])
    if live:
        return f"You have live listings ({', '.join(live)}): unpublish them or ask staff to transfer them first."
    hosted = Booking.objects.filter(property__owner=user, status__in=ACTIVE_STATUSES, check_out__gt=today)
    if hosted.exists():
        return "Guests are booked at your properties: their stays must be over or cancelled first."
    return None


def bookings_erase(user) -> dict[str, int]:
    """Anonymise the guest rows that are this user: the booking keeps its place, dates and
    money, and says "Deleted user". Co-guest rows the user typed for others are theirs and stay."""
    rows = BookingGuest.objects.filter(user=user)
    count = rows.update(
        name=DELETED_NAME,
        email="",
        phone_number="",
        invitation_token_hash="",
        invitation_expires_at=None,
    )
    # The SMS log's keys carry the number each SMS went to (core.tasks): the user's number goes,
    # the key stays unique (one number per user) and still says which event was sent.
    phone = user_e164(user)
    texts = 0
    if phone:
        for sent in SentNotification.objects.filter(key__startswith="sms:", key__endswith=f":to={phone}"):
            sent.key = sent.key[: -len(phone)] + f"deleted-user-{user.pk}"
            sent.save(update_fields=["key"])
            texts += 1
    return {"booking_guests": count, "sms_log_entries": texts}


def users_last_check_out(user_ids: Iterable[int]) -> dict[int, dt.date]:
    """The latest check-out of any booking (any status) each user booked or was linked to."""
    ids = list(user_ids)
    last: dict[int, dt.date] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        as_primary = (
            Booking.objects.filter(primary_guest_id__in=chunk)
            .values("primary_guest_id")
            .annotate(last=Max("check_out"))
            .values_list("primary_guest_id", "last")
        )
        as_guest = (
            BookingGuest.objects.filter(user_id__in=chunk)
            .values("user_id")
            .annotate(last=Max("booking__check_out"))
            .values_list("user_id", "last")
        )
        for user_id, day in [*as_primary, *as_guest]:
            if day and (user_id not in last or day > last[user_id]):
                last[user_id] = day
    return last


def booking_personal_data_register() -> None:
    personal_data_register(
        PersonalDataPart(
            name="bookings",
            export=bookings_export,
            refusal=bookings_erasure_refusal,
            erase=bookings_erase,
            last_stays=users_last_check_out,
        )
    )
