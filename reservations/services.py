"""Every write to bookings: create, cancel, expire holds, and the hooks payments use.

No double booking is decided by the database, not by the check in Python:
- PostgreSQL: the exclusion constraint of migration 0002 refuses a second active
  booking whose daterange overlaps; its IntegrityError becomes 409 dates_unavailable.
- SQLite: `transaction_mode: IMMEDIATE` makes `transaction.atomic()` take the write
  lock at BEGIN, so the overlap check and the insert run with no other writer between.
The checks before the insert give the clear error in the common case; the
constraint (or the lock) is what makes a race impossible.
"""

import datetime as dt
import logging
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts import credit
from accounts.models import User
from core.exceptions import ApplicationError
from core.notifications import notify
from core.phones import to_msisdn
from core.services import audit_record
from reservations.models import (
    REFERENCE_ALPHABET,
    Booking,
    BookingGuest,
)

logger = logging.getLogger(__name__)

REFERENCE_PREFIX = "NX"
# 31^8 (about 8.5e11) references: a collision is rare, and retried when it happens.
REFERENCE_RANDOM_LENGTH = 8
REFERENCE_ATTEMPTS = 5
MAX_NIGHTS = 365
MAX_CO_GUESTS = 49
# Booking.total_price is a PositiveIntegerField: PostgreSQL's integer tops out here.
MAX_TOTAL_PRICE = 2_147_483_647
# SQLSTATE of an exclusion constraint violation (PostgreSQL docs, Appendix A).
EXCLUSION_VIOLATION = "23P01"

DATES_UNAVAILABLE_MESSAGE = "Some of these nights are already taken. Choose other dates."
IN_FLIGHT_STATUSES = ("QUEUED", "PENDING")


def booking_reference_new() -> str:
    """A short, human reference (also the M-Pesa AccountReference, <= 12 characters)."""
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_RANDOM_LENGTH))


def _is_overlap_violation(error: IntegrityError) -> bool:
    return getattr(error.__cause__, "pgcode", None) == EXCLUSION_VIOLATION


def _dates_unavailable() -> ApplicationError:
    return ApplicationError(DATES_UNAVAILABLE_MESSAGE, "dates_unavailable", 409)


def _snapshot(booking: Booking) -> dict:
    return {
        "status": booking.status,
        "amount_paid": booking.amount_paid,
        "balance_due": booking.balance_due,
    }


def _normalise_co_guests(guests: list[dict]) -> list[dict]:
    """Names required; email lower-cased; phone as E.164 (+2547...). Raises ValidationError on 'guests'."""
    if len(guests) > MAX_CO_GUESTS:
        raise ValidationError({"guests": [f"At most {MAX_CO_GUESTS} co-guests."]})
    cleaned, problems = [], []
    for position, guest in enumerate(guests, start=1):
        name = str(guest.get("name") or "").strip()
        email = str(guest.get("email") or "").strip().lower()
        phone = str(guest.get("phone_number") or "").strip()
        if not name:
            problems.append(f"Guest {position}: enter a name.")
        if phone:
            try:
                phone = "+" + to_msisdn(phone)
            except ValidationError:
                problems.append(f"Guest {position}: enter a Kenyan mobile number such as 0712 345 678.")
        cleaned.append({"name": name[:150], "email": email, "phone_number": phone})
    if problems:
        raise ValidationError({"guests": problems})
    return cleaned


def _co_guest_rows(*, booking: Booking, primary: User, co_guests: list[dict]) -> list[BookingGuest]:
    """BookingGuest rows for the co-guests, linked to a User whose email (any case) or phone matches.

    The booker is never linked twice, nor is one user linked to two rows of a booking.
    """
    emails = {g["email"] for g in co_guests if g["email"]}
    phones = {g["phone_number"] for g in co_guests if g["phone_number"]}
    by_email, by_phone = {}, {}
    if emails or phones:
        match = Q(pk__in=[])
        for email in emails:
            match |= Q(email__iexact=email)
        if phones:
            match |= Q(phone_number__in=phones)
        for user in User.objects.filter(match, is_active=True).exclude(pk=primary.pk):
            by_email.setdefault(user.email.lower(), user)
            if user.phone_number:
                by_phone.setdefault(str(user.phone_number), user)
    linked = {primary.pk}
    rows = []
    for guest in co_guests:
        user = by_email.get(guest["email"]) or by_phone.get(guest["phone_number"])
        if user is not None and user.pk in linked:
            user = None
        if user is not None:
            linked.add(user.pk)
        rows.append(BookingGuest(booking=booking, user=user, is_primary=False, **guest))
    return rows


class _ReferenceTaken(Exception):
    """The random reference collided with an existing booking's: the transaction is retried."""


def _is_reference_collision(error: IntegrityError) -> bool:
    cause = error.__cause__
    constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)  # PostgreSQL
    if constraint is not None:
        return "reference" in constraint
    return "reservations_booking.reference" in str(error)  # SQLite names the column


def _insert_booking(booking: Booking) -> Booking:
    """Insert with a fresh reference. No savepoint: an overlap ends the transaction with 409
    anyway, and a reference collision (about 1 in 10^6 at a million bookings) restarts it."""
    booking.reference = booking_reference_new()
    try:
        booking.save(force_insert=True)
    except IntegrityError as error:
        booking.pk = None
        if _is_overlap_violation(error):
            raise _dates_unavailable() from error
        if _is_reference_collision(error):
            logger.info("booking reference collision reference=%s", booking.reference)
            raise _ReferenceTaken from error
        raise
    return booking


def booking_create(*, user, property_id: int, check_in: dt.date, check_out: dt.date, guests: list[dict]) -> Booking:
    """Book a stay for `user` (the primary guest) and co-guests; the dates are held until
    BOOKING_HOLD_MINUTES from now unless a payment lands or is in flight.

    400 (ValidationError): unknown, unpublished or unavailable property; past dates,
    check_out <= check_in, under min_nights, over a year; party over max_guests;
    co-guest without a name or with a bad phone.
    409 dates_unavailable: a night overlaps an active booking or a blocked period.
    409 credit_score_too_low: the listing sets a minimum credit score above the guest's.

    The returned booking carries its guests in `guest_rows` (primary first) and its
    listing's title in `property_title`, so the answer needs no second read.
    """
    co_guests = _normalise_co_guests(guests)
    for _ in range(REFERENCE_ATTEMPTS):
        try:
            with transaction.atomic():
                return _booking_create_in_transaction(
                    user=user, property_id=property_id, check_in=check_in, check_out=check_out, co_guests=co_guests
                )
        except _ReferenceTaken:
            continue
    raise ApplicationError("Could not allocate a booking reference; please try again.", "reference_unavailable", 503)


def _booking_create_in_transaction(
    *, user, property_id: int, check_in: dt.date, check_out: dt.date, co_guests: list[dict]
) -> Booking:
    from listings.models import PropertyPage
    from reservations.selectors import property_booking_terms

    party_size = 1 + len(co_guests)
    nights = (check_out - check_in).days
    # One query: the listing's terms and whether the nights are blocked or taken. On SQLite
    # the transaction already holds the write lock, so the answer cannot change before the
    # insert; on PostgreSQL the exclusion constraint decides a race, this gives the clear error.
    terms = property_booking_terms(property_id=property_id, check_in=check_in, check_out=check_out)
    errors: dict[str, list[str]] = {}
    if terms is None:
        errors["property"] = ["There is no published property with this id."]
    elif terms.availability_status != PropertyPage.AvailabilityStatus.AVAILABLE:
        errors["property"] = ["This property is not taking bookings at the moment."]
    if check_in < timezone.localdate():
        errors["check_in"] = ["Check-in cannot be in the past."]
    if nights < 1:
        errors["check_out"] = ["Check-out must be after check-in."]
    elif nights > MAX_NIGHTS:
        errors["check_out"] = [f"A stay can be at most {MAX_NIGHTS} nights."]
    elif terms is not None and nights < terms.min_nights:
        errors["check_out"] = [f"This property takes stays of at least {terms.min_nights} nights."]
    if terms is not None and party_size > terms.max_guests:
        errors["guests"] = [
            (
                f"This property sleeps at most {terms.max_guests} guests; your party is {party_size} "
                "(you plus your co-guests)."
            )
        ]
    if terms is not None and "check_out" not in errors and nights * terms.price_per_night > MAX_TOTAL_PRICE:
        errors["check_out"] = ["This stay is too long to book in one go."]
    if errors:
        raise ValidationError(errors)
    if terms.min_credit_score is not None and user.credit_score < terms.min_credit_score:
        raise ApplicationError(
            "This listing asks for a higher credit score than your account has.", "credit_score_too_low", 409
        )
    if terms.nights_blocked or terms.nights_taken:
        raise _dates_unavailable()

    total = nights * terms.price_per_night
    booking = _insert_booking(
        Booking(
            property_id=terms.property_id,
            primary_guest=user,
            status=Booking.Status.PENDING,
            check_in=check_in,
            check_out=check_out,
            nights=nights,
            party_size=party_size,
            price_per_night=terms.price_per_night,
            total_price=total,
            amount_paid=0,
            balance_due=total,
            hold_expires_at=timezone.now() + dt.timedelta(minutes=settings.BOOKING_HOLD_MINUTES),
        )
    )
    primary = BookingGuest(
        booking=booking,
        user=user,
        is_primary=True,
        name=user.name or user.email,
        email=user.email,
        phone_number=str(user.phone_number) if user.phone_number else "",
    )
    booking.guest_rows = BookingGuest.objects.bulk_create(
        [primary, *_co_guest_rows(booking=booking, primary=user, co_guests=co_guests)]
    )
    audit_record(
        obj=booking,
        action="booking.created",
        actor=user,
        summary=f"{booking.reference} {terms.title} {check_in:%Y-%m-%d}..{check_out:%Y-%m-%d}",
        after={
            **_snapshot(booking),
            "property": terms.property_id,
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "total_price": total,
            "party_size": party_size,
        },
    )
    notify("booking_created", booking_id=booking.pk)
    booking.property_title = terms.title  # for the answer, without loading the page
    return booking


def booking_guest_add(*, booking_id: int, actor, name: str, email: str = "", phone_number: str = "") -> BookingGuest:
    """Add one co-guest to an active booking (only its primary guest may), linking a matching user."""
    (guest,) = _normalise_co_guests([{"name": name, "email": email, "phone_number": phone_number}])
    with transaction.atomic():
        booking = Booking.objects.select_for_update().select_related("property", "primary_guest").get(pk=booking_id)
        if booking.primary_guest_id != getattr(actor, "pk", None):
            raise ApplicationError("Only the guest who made the booking can add guests.", "not_primary_guest", 403)
        if booking.status == Booking.Status.CANCELED:
            raise ApplicationError("This booking is cancelled.", "booking_canceled", 409)
        if booking.party_size + 1 > booking.property.max_guests:
            raise ValidationError({"guests": [f"This property sleeps at most {booking.property.max_guests} guests."]})
        (row,) = _co_guest_rows(booking=booking, primary=booking.primary_guest, co_guests=[guest])
        if row.user_id and booking.guests.filter(user_id=row.user_id).exists():
            row.user = None
        row.save()
        booking.party_size += 1
        booking.save(update_fields=["party_size", "updated_at"])
        audit_record(
            obj=booking,
            action="booking.guest_added",
            actor=actor,
            summary=f"{booking.reference} +{row.name}",
            after={"party_size": booking.party_size, "guest_user": row.user_id},
        )
    return row


def _money_held(booking: Booking) -> int:
    """Shillings the booking holds, from the payment rows: successful payments minus refunds."""
    # Summed here rather than with SUM() FILTER: a booking has a handful of payments, and
    # building the aggregate query cost more than the rows (every callback runs this).
    held = 0
    for kind, received, amount in booking.payments.filter(status="SUCCESS").values_list(
        "kind", "received_amount", "amount"
    ):
        if kind == "PAYMENT":
            held += received or 0
        elif kind == "REFUND":
            held -= amount
    return held


def _payment_in_flight(booking: Booking) -> bool:
    return booking.payments.filter(kind="PAYMENT", status__in=IN_FLIGHT_STATUSES).exists()


def _mark_canceled(booking: Booking, *, reason: str) -> None:
    booking.status = Booking.Status.CANCELED
    booking.canceled_at = timezone.now()
    booking.cancel_reason = reason[:200]
    booking.save(update_fields=["status", "canceled_at", "cancel_reason", "updated_at"])


def booking_cancel(*, booking_id: int, actor, reason: str = "") -> Booking:
    """Cancel a booking that holds no money and has no payment in flight (409 has_payments otherwise).

    Cancelling twice is a no-op. Who may cancel is the caller's decision (the API lets the
    primary guest do it; staff tools their users).
    """
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking_id)
        if booking.status == Booking.Status.CANCELED:
            return booking
        if booking.amount_paid > 0 or _money_held(booking) > 0 or _payment_in_flight(booking):
            raise ApplicationError(
                "This booking holds a payment (or one is in progress), so it cannot be cancelled here. "
                "Contact us for a refund.",
                "has_payments",
                409,
            )
        before = _snapshot(booking)
        _mark_canceled(booking, reason=reason.strip() or "Cancelled by the guest")
        audit_record(
            obj=booking,
            action="booking.canceled",
            actor=actor,
            summary=f"{booking.reference} cancelled",
            before=before,
            after=_snapshot(booking),
            data={"reason": booking.cancel_reason},
        )
        notify("booking_canceled", booking_id=booking.pk)
    return booking


def booking_expire_holds() -> int:
    """Cancel PENDING bookings whose hold expired with nothing paid and no payment in flight.

    Run every minute by django-q2 (schedule "booking_expire_holds"). Each booking is
    re-checked under its row lock: a payment created meanwhile (which locks the booking
    first) keeps the hold. Costs the guest HOLD_ABANDONED credit. Returns how many expired.
    """
    from mpesa.models import Payment

    now = timezone.now()
    in_flight = Payment.objects.filter(booking=OuterRef("pk"), kind="PAYMENT", status__in=IN_FLIGHT_STATUSES)
    candidates = list(
        Booking.objects.filter(status=Booking.Status.PENDING, hold_expires_at__lt=now, amount_paid=0)
        .exclude(Exists(in_flight))
        .order_by("hold_expires_at")
        .values_list("pk", flat=True)
    )
    expired = 0
    for booking_id in candidates:
        with transaction.atomic():
            booking = Booking.objects.select_for_update().filter(pk=booking_id).first()
            if (
                booking is None
                or booking.status != Booking.Status.PENDING
                or booking.hold_expires_at is None
                or booking.hold_expires_at >= now
                or booking.amount_paid > 0
                or _money_held(booking) > 0
                or _payment_in_flight(booking)
            ):
                continue
            before = _snapshot(booking)
            _mark_canceled(booking, reason="Hold expired before payment")
            credit.credit_score_adjust(user_id=booking.primary_guest_id, delta=credit.HOLD_ABANDONED)
            audit_record(
                obj=booking,
                action="booking.hold_expired",
                summary=f"{booking.reference} hold expired",
                before=before,
                after=_snapshot(booking),
                data={"hold_expires_at": booking.hold_expires_at.isoformat(), "credit_delta": credit.HOLD_ABANDONED},
            )
            notify("booking_canceled", booking_id=booking.pk)
            expired += 1
    if expired:
        logger.info("booking holds expired count=%d", expired)
    return expired


def booking_reactivate(*, booking: Booking) -> bool:
    """Put a CANCELED booking back to active (a payment succeeded after it was cancelled).

    Call inside a transaction that already holds the booking's row lock. Returns True when
    the booking is active afterwards, False when its nights were taken meanwhile (another
    booking or a block) or the listing no longer takes bookings: the caller then flags the
    payment for refund. The final say is the database's: on PostgreSQL the exclusion
    constraint, checked in a savepoint; on SQLite the caller's IMMEDIATE transaction,
    which keeps other writers out between the check and the update.
    """
    from listings.models import PropertyPage
    from listings.selectors import (
        active_bookings_overlapping,
        blocked_periods_overlapping,
    )

    if booking.status != Booking.Status.CANCELED:
        return True
    property_open = (
        PropertyPage.objects.live()
        .filter(pk=booking.property_id, availability_status=PropertyPage.AvailabilityStatus.AVAILABLE)
        .exists()
    )
    window = {"property_id": booking.property_id, "check_in": booking.check_in, "check_out": booking.check_out}
    if (
        not property_open
        or blocked_periods_overlapping(**window).exists()
        or active_bookings_overlapping(**window).exclude(pk=booking.pk).exists()
    ):
        return False
    before = {**_snapshot(booking), "canceled_at": booking.canceled_at.isoformat() if booking.canceled_at else None}
    previous = (booking.status, booking.canceled_at, booking.cancel_reason)
    booking.status, booking.canceled_at, booking.cancel_reason = Booking.Status.PENDING, None, ""
    try:
        with transaction.atomic():
            booking.save(update_fields=["status", "canceled_at", "cancel_reason", "updated_at"])
    except IntegrityError as error:
        if not _is_overlap_violation(error):
            raise
        booking.status, booking.canceled_at, booking.cancel_reason = previous
        return False
    audit_record(
        obj=booking,
        action="booking.reactivated",
        summary=f"{booking.reference} restored after a late payment",
        before=before,
        after=_snapshot(booking),
    )
    booking_recompute_totals(booking=booking)
    return True


def booking_recompute_totals(*, booking: Booking) -> None:
    """Derive amount_paid, balance_due and the status from the payment rows.

    Call inside a transaction holding the booking's row lock, after a payment or refund
    changed. amount_paid = successful payments' received amounts - successful refunds;
    PENDING -> PROCESSING once money is in with a balance left; -> CONFIRMED when the
    balance is 0. Becoming CONFIRMED is where the guest's BOOKING_FULLY_PAID credit and
    the "booking_confirmed" notification happen (callers must not add them again).
    CANCELED bookings are left alone (see booking_reactivate).
    """
    if booking.status == Booking.Status.CANCELED:
        return
    paid = max(_money_held(booking), 0)
    balance = max(booking.total_price - paid, 0)
    status = booking.status
    if balance == 0:
        status = Booking.Status.CONFIRMED
    elif paid > 0:
        status = Booking.Status.PROCESSING
    if (paid, balance, status) == (booking.amount_paid, booking.balance_due, booking.status):
        return
    before = _snapshot(booking)
    booking.amount_paid, booking.balance_due = paid, balance
    became_confirmed = status == Booking.Status.CONFIRMED and booking.status != Booking.Status.CONFIRMED
    booking.status = status
    booking.save(update_fields=["amount_paid", "balance_due", "status", "updated_at"])
    audit_record(
        obj=booking,
        action="booking.totals_recomputed",
        summary=f"{booking.reference} paid {paid} of {booking.total_price}",
        before=before,
        after=_snapshot(booking),
    )
    if became_confirmed:
        credit.credit_score_adjust(user_id=booking.primary_guest_id, delta=credit.BOOKING_FULLY_PAID)
        notify("booking_confirmed", booking_id=booking.pk)


def booking_guest_link_user(*, user) -> int:
    """Link co-guest entries whose email or phone matches `user` (e.g. after they sign up).

    Returns how many entries were linked. A booking never lists the same user twice.
    """
    match = Q(email__iexact=user.email) if user.email else Q(pk__in=[])
    if user.phone_number:
        match |= Q(phone_number=str(user.phone_number))
    linked_bookings: set[int] = set()
    for guest in BookingGuest.objects.filter(match, user__isnull=True).exclude(booking__guests__user=user):
        if guest.booking_id in linked_bookings:
            continue
        guest.user = user
        guest.save(update_fields=["user"])
        linked_bookings.add(guest.booking_id)
    return len(linked_bookings)
