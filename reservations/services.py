"""Every write to bookings: create, cancel, expire holds, and the hooks payments use.

No double booking is decided by the database, not by the check in Python:
- PostgreSQL: the exclusion constraint of migration 0002 refuses a second active
  booking whose daterange overlaps; its IntegrityError becomes 409 dates_unavailable.
- SQLite: `transaction_mode: IMMEDIATE` makes `transaction.atomic()` take the write
  lock at BEGIN, so the overlap check and the insert run with no other writer between.
On SQLite the check before the insert gives the 409; on PostgreSQL the constraint
alone does (asking first cost more than the insert: reservations.selectors).
"""

import datetime as dt
import logging
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, models, transaction
from django.utils import timezone

from accounts import credit
from core.exceptions import ApplicationError
from core.notifications import collected, notify
from core.phones import to_msisdn
from core.services import audit_batch, audit_record
from listings.models import PropertyPage
from listings.selectors import blocked_periods_overlapping
from reservations.availability import active_bookings_overlapping
from reservations.invitations import booking_guest_invitation_request, booking_guest_invitations_enqueue
from reservations.models import (
    REFERENCE_ALPHABET,
    Booking,
    BookingGuest,
)
from reservations.selectors import property_booking_terms
from reservations.signals import booking_canceled
from reservations.status import BookingMoney, booking_status_derive

logger = logging.getLogger(__name__)

REFERENCE_PREFIX = "NX"
# 31^8 (about 8.5e11) references: a collision is rare, and retried when it happens.
REFERENCE_RANDOM_LENGTH = 8
REFERENCE_ATTEMPTS = 5
MAX_NIGHTS = 365
MAX_CO_GUESTS = 49
# Booking.total_price is a PositiveIntegerField: PostgreSQL's integer tops out here.
MAX_TOTAL_PRICE = 2_147_483_647
# SQLSTATEs (PostgreSQL docs, Appendix A): an exclusion constraint violation, a deadlock.
EXCLUSION_VIOLATION = "23P01"
DEADLOCK_DETECTED = "40P01"

DATES_UNAVAILABLE_MESSAGE = "Some of these nights are already taken. Choose other dates."


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


def _co_guest_rows(*, booking: Booking, co_guests: list[dict]) -> list[BookingGuest]:
    """BookingGuest rows for the co-guests: names on the booking, linked to no account.

    No account is looked up by email or phone: a co-guest is linked only by accepting the
    invitation sent to their email (reservations.invitations), and what the booker sees
    cannot depend on whether an address has an account.
    """
    rows = []
    for guest in co_guests:
        row = BookingGuest(booking=booking, is_primary=False, **guest)
        booking_guest_invitation_request(guest=row)
        rows.append(row)
    return rows


class _ReferenceTaken(Exception):
    """The random reference collided with an existing booking's: the transaction is retried."""


def _is_reference_collision(error: IntegrityError) -> bool:
    cause = error.__cause__
    constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)  # PostgreSQL
    if constraint is not None:
        return "reference" in constraint
    return "reservations_booking.reference" in str(error)  # SQLite names the column


class _InsertDeadlocked(Exception):
    """PostgreSQL aborted the insert to end a deadlock: the transaction is retried."""


def _insert_booking(booking: Booking) -> Booking:
    """Insert with a fresh reference. No savepoint: an overlap ends the transaction with 409
    anyway, and a reference collision (about 1 in 10^6 at a million bookings) restarts it.

    A deadlock restarts it too. The exclusion constraint also checks rows not yet committed:
    two inserts for overlapping nights, both in flight (say, both waiting for a cancellation
    of those nights to commit), then wait on each other until PostgreSQL aborts one. The
    retry sees how the other ended: its booking (409) or free nights."""
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
    except OperationalError as error:
        booking.pk = None
        if getattr(error.__cause__, "pgcode", None) == DEADLOCK_DETECTED:
            logger.info("booking insert deadlocked property=%s check_in=%s", booking.property_id, booking.check_in)
            raise _InsertDeadlocked from error
        raise
    return booking


def booking_create(*, user, property_id: int, check_in: dt.date, check_out: dt.date, guests: list[dict]) -> Booking:
    """Book a stay for `user` (the primary guest) and co-guests; the dates are held until
    BOOKING_HOLD_MINUTES from now unless a payment lands or is in flight.

    400 (ValidationError): unknown, unpublished or unavailable property; past dates,
    check_out <= check_in, under min_nights, over the listing's max_nights (default 30, at
    most 365: a long stay would hold a listing's dates on one deposit); party over max_guests;
    co-guest without a name or with a bad phone.
    409 dates_unavailable: a night overlaps an active booking or a blocked period.
    409 credit_score_too_low: the listing sets a minimum credit score above the guest's.

    The returned booking carries its guests in `guest_rows` (primary first) and its
    listing's title in `property_title`, so the answer needs no second read.
    """
    co_guests = _normalise_co_guests(guests)
    deadlocked = False
    for _ in range(REFERENCE_ATTEMPTS):
        try:
            with transaction.atomic():
                return _booking_create_in_transaction(
                    user=user, property_id=property_id, check_in=check_in, check_out=check_out, co_guests=co_guests
                )
        except _ReferenceTaken:
            continue
        except _InsertDeadlocked:
            deadlocked = True
            continue
    if deadlocked:  # others kept taking these nights while this one tried: they are not free
        raise _dates_unavailable()
    raise ApplicationError("Could not allocate a booking reference; please try again.", "reference_unavailable", 503)


def _booking_create_in_transaction(
    *, user, property_id: int, check_in: dt.date, check_out: dt.date, co_guests: list[dict]
) -> Booking:

    party_size = 1 + len(co_guests)
    nights = (check_out - check_in).days
    # One query: the listing's terms and whether the nights are blocked or (SQLite) taken. On
    # SQLite the transaction already holds the write lock, so the answer cannot change before
    # the insert; on PostgreSQL the exclusion constraint refuses a taken night at the insert.
    terms = property_booking_terms(property_id=property_id, check_in=check_in, check_out=check_out)
    errors: dict[str, list[str]] = {}
    if terms is None:
        errors["property"] = ["There is no published property with this id."]
    elif terms.availability_status != PropertyPage.AvailabilityStatus.AVAILABLE:
        errors["property"] = ["This property is not taking bookings at the moment."]
    if check_in < timezone.localdate():
        errors["check_in"] = ["Check-in cannot be in the past."]
    max_nights = terms.max_nights if terms is not None else MAX_NIGHTS
    if nights < 1:
        errors["check_out"] = ["Check-out must be after check-in."]
    elif nights > max_nights:
        errors["check_out"] = [f"This property takes stays of at most {max_nights} nights."]
    elif terms is not None and nights < terms.min_nights:
        errors["check_out"] = [f"This property takes stays of at least {terms.min_nights} nights."]
    if terms is not None and party_size > terms.max_guests:
        errors["guests"] = [
            (
                f"This property sleeps at most {terms.max_guests} guests; your party is {party_size} "
                "(you plus your co-guests)."
            )
        ]
    # The listing's nightly prices (season, weekend, base) less any length-of-stay discount:
    # listings.pricing, the one function the site's quote and the API use too.
    quote = terms.price_rules.quote(check_in, check_out) if terms is not None and "check_out" not in errors else None
    if quote is not None and quote.total > MAX_TOTAL_PRICE:
        errors["check_out"] = ["This stay is too long to book in one go."]
    if errors:
        raise ValidationError(errors)
    if terms.min_credit_score is not None and user.credit_score < terms.min_credit_score:
        raise ApplicationError(
            "This listing asks for a higher credit score than your account has.", "credit_score_too_low", 409
        )
    if terms.nights_blocked or terms.nights_taken:
        raise _dates_unavailable()

    total = quote.total
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
            nightly_prices=quote.nightly_json(),
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
        [primary, *_co_guest_rows(booking=booking, co_guests=co_guests)]
    )
    booking_guest_invitations_enqueue(guest_ids=[row.pk for row in booking.guest_rows if row.invited_at])
    # Its "created" audit entry and notifications are written by the worker from the
    # committed row (bookings_follow_up_created): the request writes the booking only.
    booking.property_title = terms.title  # for the answer, without loading the page
    booking.property_min_deposit_percent = terms.min_deposit_percent
    booking.property_cancellation_policy = terms.cancellation_policy
    return booking


# Bookings the follow-up leaves alone: older ones were followed up when they were made
# (migration 0013 marks every booking made before it), so a NULL there is not news.
FOLLOW_UP_LOOKBACK = dt.timedelta(days=2)
FOLLOW_UP_BATCH = 200


def bookings_follow_up_created(*, now: dt.datetime | None = None) -> int:
    """Write the "booking.created" audit entry (dated when the booking was made) and send the
    booking_created notifications of every booking not followed up yet; return how many.

    Scheduled every minute (migration 0013). Booking creation leaves both to the worker so
    that the request writes the booking and its guests and nothing else: the audit entry
    and the notification task were a third of a booking POST's cost (README.md, "Performance").
    The booking row itself is the record that the follow-up is due, committed with the
    booking, so a booking is never left without them; the cost is up to a minute before
    the "booking created" email or SMS goes out.

    Each batch is claimed under row locks (skip_locked: two workers share the work rather
    than wait on each other) and marked in the transaction that writes its audit entries
    and enqueues its notifications, so a booking is followed up exactly once.
    """
    now = now or timezone.now()
    followed_up = 0
    while True:
        with transaction.atomic(), audit_batch(), collected():
            batch = list(
                Booking.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(created_followed_up_at__isnull=True, booking_date__gte=now - FOLLOW_UP_LOOKBACK)
                .select_related("primary_guest")
                .annotate(property_title=models.F("property__title"))
                .order_by("pk")[:FOLLOW_UP_BATCH]
            )
            for booking in batch:
                audit_record(
                    obj=booking,
                    action="booking.created",
                    actor=booking.primary_guest,
                    summary=(
                        f"{booking.reference} {booking.property_title} "
                        f"{booking.check_in:%Y-%m-%d}..{booking.check_out:%Y-%m-%d}"
                    ),
                    after=_created_snapshot(booking),
                    at=booking.booking_date,
                )
                notify("booking_created", booking_id=booking.pk)
            Booking.objects.filter(pk__in=[booking.pk for booking in batch]).update(created_followed_up_at=now)
        followed_up += len(batch)
        if len(batch) < FOLLOW_UP_BATCH:
            return followed_up


def _created_snapshot(booking: Booking) -> dict:
    """The booking as booking_create made it (it may have been paid or cancelled since)."""
    return {
        "status": Booking.Status.PENDING,
        "amount_paid": 0,
        "balance_due": booking.total_price,
        "property": booking.property_id,
        "check_in": booking.check_in.isoformat(),
        "check_out": booking.check_out.isoformat(),
        "total_price": booking.total_price,
        "party_size": booking.party_size,
    }


def booking_guest_add(*, booking_id: int, actor, name: str, email: str = "", phone_number: str = "") -> BookingGuest:
    """Add one co-guest to an active booking (only its primary guest may); one with an email is
    sent an invitation, and is linked to an account only when it is accepted."""
    (guest,) = _normalise_co_guests([{"name": name, "email": email, "phone_number": phone_number}])
    with transaction.atomic():
        booking = Booking.objects.select_for_update().select_related("property", "primary_guest").get(pk=booking_id)
        if booking.primary_guest_id != getattr(actor, "pk", None):
            raise ApplicationError("Only the guest who made the booking can add guests.", "not_primary_guest", 403)
        if booking.status == Booking.Status.CANCELED:
            raise ApplicationError("This booking is cancelled.", "booking_canceled", 409)
        if booking.party_size + 1 > booking.property.max_guests:
            raise ValidationError({"guests": [f"This property sleeps at most {booking.property.max_guests} guests."]})
        (row,) = _co_guest_rows(booking=booking, co_guests=[guest])
        row.save()
        booking.party_size += 1
        booking.save(update_fields=["party_size", "updated_at"])
        audit_record(
            obj=booking,
            action="booking.guest_added",
            actor=actor,
            summary=f"{booking.reference} +{row.name}",
            after={"party_size": booking.party_size},
            data={"guest_id": row.pk, "invited": bool(row.invited_at)},
        )
        if row.invited_at:
            booking_guest_invitations_enqueue(guest_ids=[row.pk])
    return row


# --- The booking's side of money: the payments app reports, reservations decides -----------------
#
# The payments app (mpesa) never writes a Booking field. It locks the booking with
# booking_lock, settles its own rows, sums them into a BookingMoney and calls one of
# booking_money_changed / booking_payment_failed / booking_late_payment_received; the
# booking's amount_paid, balance, money in flight and status follow from that alone.
# Every cancellation goes through booking_mark_canceled, whose booking_canceled signal
# lets the payments app refund money still held (by policy, or all of it).


def booking_lock(*, booking_id: int) -> Booking:
    """Lock the booking row. Every money path locks the booking first, then payment rows:
    one lock order, so two paths never deadlock."""
    return Booking.objects.select_for_update().get(pk=booking_id)


def booking_mark_canceled(*, booking: Booking, kind: str, reason: str, actor=None) -> list:
    """The one place a booking becomes CANCELED: records why (`kind`, a Booking.CancelKind).

    Call inside a transaction holding the booking's row lock; the caller writes its own
    audit entry and notification. Only CancelKind.PAYMENT_FAILED may ever be revived
    (booking_is_revivable). hold_expires_at is saved as the caller left it. Returns what the
    booking_canceled receivers answered: the payments app lists the refunds it created,
    [{"refund_id", "payment_id", "amount", "method", "status"}] (mpesa.refunds_out).
    """
    booking.status = Booking.Status.CANCELED
    booking.canceled_at = timezone.now()
    booking.cancel_reason = reason[:200]
    booking.cancel_kind = Booking.CancelKind(kind)
    booking.save(
        update_fields=["status", "canceled_at", "cancel_reason", "cancel_kind", "hold_expires_at", "updated_at"]
    )
    answers = booking_canceled.send(sender=Booking, booking=booking, actor=actor, kind=booking.cancel_kind)
    return [item for _receiver, answer in answers for item in (answer or [])]


def booking_is_revivable(booking: Booking) -> bool:
    """True for a booking cancelled because its payment failed (docs/booking-rules.md): paying again may
    bring it back while its dates are free. A cancellation by the guest, the owner, staff,
    the hold or the balance deadline (or of unknown kind) is final: a late success on it is
    flagged for refund instead."""
    return booking.status == Booking.Status.CANCELED and booking.cancel_kind == Booking.CancelKind.PAYMENT_FAILED


def booking_prepare_for_payment(*, booking: Booking, actor) -> None:
    """Guard for a new payment, under the booking's row lock: a booking cancelled because its
    payment failed comes back to PENDING with a new hold ("Try again", the same for the API
    and the site); anything else must be PENDING or PROCESSING with a balance left.
    409 booking_not_payable / dates_unavailable."""
    if booking_is_revivable(booking):
        booking_revive_for_payment(booking=booking, actor=actor)
    if booking.status not in (Booking.Status.PENDING, Booking.Status.PROCESSING) or booking.balance_due <= 0:
        raise ApplicationError(
            "This booking cannot take payments: it is cancelled or already paid in full.",
            "booking_not_payable",
            409,
        )


def booking_payment_failed(*, booking: Booking, money: BookingMoney, reason: str, data: dict | None = None) -> None:
    """A payment of this booking failed (the booking row is locked). The seed's rule: a PENDING
    booking with nothing paid and no other payment in flight is cancelled (kind
    payment_failed, the one kind the same guests may revive by paying again). A failed
    payment never cancels a booking that holds money."""
    booking_money_changed(booking=booking, money=money)
    if booking.status != Booking.Status.PENDING or money.credited > 0 or money.in_flight > 0:
        return
    before = _snapshot(booking)
    booking_mark_canceled(booking=booking, kind=Booking.CancelKind.PAYMENT_FAILED, reason=f"Payment failed: {reason}")
    audit_record(
        obj=booking,
        action="booking.canceled",
        summary=f"{booking.reference} cancelled: its payment failed and nothing was paid",
        before=before,
        after=_snapshot(booking),
        data=data or {},
    )
    notify("booking_canceled", booking_id=booking.pk)


def booking_late_payment_received(*, booking: Booking, money: BookingMoney) -> bool:
    """A payment succeeded on a CANCELED booking (row locked). Restores it when its
    cancellation was a failed payment and its dates are still free (True); otherwise the
    booking stays cancelled and the caller flags the money for refund (False)."""
    if not booking_reactivate(booking=booking):
        booking_money_changed(booking=booking, money=money)
        return False
    booking_money_changed(booking=booking, money=money)
    return True


def booking_cancel(*, booking_id: int, actor, reason: str = "") -> Booking:
    """The guest cancels their booking, also when it holds money: what goes back follows the
    listing's cancellation policy at this moment (reservations.cancellation), and the
    payments app creates the refunds in this transaction (booking_canceled signal).

    409 payment_in_flight: a payment is on its way (its result could land after the cancel;
    wait for it). 409 booking_not_cancellable: already cancelled, or check-in has passed.
    Who may cancel is the caller's decision (the API lets the primary guest do it; staff
    tools their users). The returned booking carries `refunds_created`: what the payments
    app answered, [{"refund_id", "payment_id", "amount", "method", "status"}].
    """
    # Imported here: reservations.deadlines (which guest_cancellation reads) imports this module.
    from reservations.guest_cancellation import guest_cancellation_refusal

    with transaction.atomic(), collected():
        booking = Booking.objects.select_for_update().get(pk=booking_id)
        # The same refusals the API's and the site's cancellation preview show, decided
        # again here under the row lock.
        code, refusal = guest_cancellation_refusal(booking)
        if code is not None:
            raise ApplicationError(refusal, code, 409)
        before = _snapshot(booking)
        held = booking.amount_paid
        refunds = booking_mark_canceled(
            booking=booking, kind=Booking.CancelKind.GUEST, reason=reason.strip() or "Cancelled by the guest",
            actor=actor,
        )
        credit_delta = credit.CANCELED_AFTER_PAYING if held > 0 else 0
        if credit_delta:
            credit.credit_score_adjust(user_id=booking.primary_guest_id, delta=credit_delta)
        audit_record(
            obj=booking,
            action="booking.canceled",
            actor=actor,
            summary=f"{booking.reference} cancelled"
            + (f", KES {sum(r['amount'] for r in refunds):,} to refund" if refunds else ""),
            before=before,
            after=_snapshot(booking),
            data={"reason": booking.cancel_reason, "refunds": refunds, "credit_delta": credit_delta},
        )
        notify("booking_canceled", booking_id=booking.pk)
    booking.refunds_created = refunds
    return booking


def booking_expire_holds() -> int:
    """Cancel PENDING bookings whose hold expired with nothing paid and no payment in flight.

    Run every minute by django-q2 (schedule "booking_expire_holds"). Each booking is
    re-checked under its row lock: a payment created meanwhile (which locks the booking
    first) keeps the hold. Costs the guest HOLD_ABANDONED credit. Returns how many expired.
    """
    now = timezone.now()
    candidates = list(
        Booking.objects.filter(status=Booking.Status.PENDING, hold_expires_at__lt=now, amount_paid=0, amount_in_flight=0)
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
                or booking.amount_in_flight > 0
            ):
                continue
            before = _snapshot(booking)
            booking_mark_canceled(
                booking=booking, kind=Booking.CancelKind.HOLD_EXPIRED, reason="Hold expired before payment"
            )
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
    """Put a CANCELED booking back to active (a payment succeeded after it was cancelled, or
    the guest pays again after a failed payment).

    Call inside a transaction that already holds the booking's row lock. Returns True when
    the booking is active afterwards, False when it may not come back: its cancellation is
    final (booking_is_revivable: only a payment-failed cancellation is not), its nights were
    taken meanwhile (another booking or a block), or the listing no longer takes bookings.
    The caller then flags a late payment for refund. The final say is the database's: on
    PostgreSQL the exclusion constraint, checked in a savepoint; on SQLite the caller's
    IMMEDIATE transaction, which keeps other writers out between the check and the update.
    """
    if booking.status != Booking.Status.CANCELED:
        return True
    if not booking_is_revivable(booking):
        return False
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
    previous = (booking.status, booking.canceled_at, booking.cancel_reason, booking.cancel_kind)
    booking.status, booking.canceled_at = Booking.Status.PENDING, None
    booking.cancel_reason, booking.cancel_kind = "", ""
    try:
        with transaction.atomic():
            booking.save(update_fields=["status", "canceled_at", "cancel_reason", "cancel_kind", "updated_at"])
    except IntegrityError as error:
        if not _is_overlap_violation(error):
            raise
        booking.status, booking.canceled_at, booking.cancel_reason, booking.cancel_kind = previous
        return False
    audit_record(
        obj=booking,
        action="booking.reactivated",
        summary=f"{booking.reference} restored after a late payment",
        before=before,
        after=_snapshot(booking),
    )
    return True


def booking_revive_for_payment(*, booking: Booking, actor) -> None:
    """The guest pays again on a booking that a failed payment cancelled ("Try again"): put
    it back to PENDING with a new hold, so the new payment has dates to pay for. The API and
    the site both come here through booking_prepare_for_payment.

    Call inside the payment's transaction, holding the booking's row lock: if the payment is
    then refused (bad amount, busy phone) the transaction rolls back and the booking stays
    cancelled. 409 booking_not_payable for a cancellation that is final; 409
    dates_unavailable when its nights were taken meanwhile.
    """
    if not booking_is_revivable(booking):
        raise ApplicationError(
            "This booking was cancelled and cannot take payments. Please make a new booking.",
            "booking_not_payable",
            409,
        )
    before = {"status": booking.status, "hold_expires_at": _iso(booking.hold_expires_at)}
    if not booking_reactivate(booking=booking):
        raise ApplicationError(
            "Sorry, while the payment was failing someone else booked some of these nights, so this booking "
            "can't be restored. Please pick other dates.",
            "dates_unavailable",
            409,
        )
    booking.hold_expires_at = timezone.now() + dt.timedelta(minutes=settings.BOOKING_HOLD_MINUTES)
    booking.save(update_fields=["hold_expires_at", "updated_at"])
    audit_record(
        obj=booking,
        action="booking.restored_for_retry",
        actor=actor,
        summary=f"{booking.reference} back on hold for a new payment attempt",
        before=before,
        after={"status": booking.status, "hold_expires_at": _iso(booking.hold_expires_at)},
    )


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def booking_money_changed(*, booking: Booking, money: BookingMoney, actor=None) -> None:
    """Store what the booking's money now is, and the status that follows from it.

    `money` is the payments app's sum of the booking's rows (reservations.status.booking_money);
    call inside a transaction holding the booking's row lock, after a payment or refund
    changed. amount_paid = what successful payments credit (each at most what it asked
    for) - successful refunds; the status is reservations.status.booking_status_derive's:
    PROCESSING while a balance is left (also after a partial refund of a CONFIRMED
    booking, so the guest can pay again), CONFIRMED when nothing is left and no amount is
    disputed, CANCELED (kind staff, by `actor`) when refunds took back everything paid.
    Becoming CONFIRMED is where the guest's BOOKING_FULLY_PAID credit and the
    "booking_confirmed" notification happen (callers must not add them again).
    A CANCELED booking keeps its status (see booking_reactivate); its money still follows.
    """
    if booking.status == Booking.Status.CANCELED:
        if (booking.amount_paid, booking.amount_in_flight) != (money.held, money.in_flight):
            booking.amount_paid, booking.amount_in_flight = money.held, money.in_flight
            booking.save(update_fields=["amount_paid", "amount_in_flight", "updated_at"])
        return
    paid = money.held
    balance = max(booking.total_price - paid, 0)
    status = booking_status_derive(
        total_price=booking.total_price,
        paid=money.credited,
        refunded=money.refunded,
        canceled=False,
        amount_disputed=money.disputed,
    )
    if booking.amount_in_flight != money.in_flight:
        booking.amount_in_flight = money.in_flight
        booking.save(update_fields=["amount_in_flight", "updated_at"])
    if (paid, balance, status) == (booking.amount_paid, booking.balance_due, booking.status):
        return
    before = _snapshot(booking)
    booking.amount_paid, booking.balance_due = paid, balance
    became_confirmed = status == Booking.Status.CONFIRMED and booking.status != Booking.Status.CONFIRMED
    fields = ["amount_paid", "balance_due", "updated_at"]
    if status == Booking.Status.PENDING and booking.status != Booking.Status.PENDING:
        # Back to unpaid: the dates are held like a new booking's, no longer.
        booking.hold_expires_at = timezone.now() + dt.timedelta(minutes=settings.BOOKING_HOLD_MINUTES)
        fields.append("hold_expires_at")
    if status == Booking.Status.CANCELED:
        booking.save(update_fields=fields)
        booking_mark_canceled(
            booking=booking,
            kind=Booking.CancelKind.STAFF,
            reason="Cancelled by Nexus: every payment was refunded",
            actor=actor,
        )
    else:
        booking.status = status
        booking.save(update_fields=[*fields, "status"])
    audit_record(
        obj=booking,
        action="booking.canceled_by_refund" if status == Booking.Status.CANCELED else "booking.totals_recomputed",
        actor=actor,
        summary=f"{booking.reference} paid {paid} of {booking.total_price}",
        before=before,
        after=_snapshot(booking),
        data={"credited": money.credited, "refunded": money.refunded, "amount_disputed": money.disputed},
    )
    if status == Booking.Status.CANCELED:
        notify("booking_canceled", booking_id=booking.pk)
    if became_confirmed:
        credit.credit_score_adjust(user_id=booking.primary_guest_id, delta=credit.BOOKING_FULLY_PAID)
        notify("booking_confirmed", booking_id=booking.pk)

