"""Owner payouts: the owner's share of a stay, sent by B2C (or B2B) after check-in (docs/money-out.md).

- `payouts_plan` keeps one SCHEDULED Payout per booking that will pay its owner: a stay
  that was not cancelled, or a guest's (or balance-deadline) cancellation that kept money
  under the policy. gross = what the booking holds (reservations' amount_paid, from the
  rows) less refunds still owed (open, or failed and not retried); commission =
  PLATFORM_COMMISSION_PERCENT of gross, half up; amount = gross - commission. Due at
  check_in_at(check_in) + PAYOUT_DELAY_HOURS (for a cancellation: the original check-in).
  A cancellation that refunds everything pays nothing: its planned row is dropped.
- `payouts_release_due` (schedule every 5 minutes, and `manage.py release_payouts`)
  plans, then releases each due SCHEDULED payout under the booking's row lock: figures
  recomputed, the owner's destination copied, SCHEDULED -> QUEUED with a conditional
  UPDATE (two runs at once release it once), then mpesa.transfers sends it on commit.
  One that cannot go yet (a refund of the booking still open, a payment in flight, no
  payout number) stays SCHEDULED with a `note` saying why.
- Staff hold (SCHEDULED/unsent QUEUED -> HELD), release (HELD -> SCHEDULED, and out at
  once when due) and retry a FAILED payout (a new row, `retry_of`).
- `payout_settled` is called by mpesa.transfers when Daraja's result settles a payout.

Lock order as every money path: the booking row, then the payout row.
"""

import datetime as dt
import logging
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from core.exceptions import ApplicationError
from core.notifications import notify
from core.services import audit_record
from mpesa.models import Payout, Refund
from mpesa.selectors import booking_money_of
from mpesa.transfers import new_originator_conversation_id, transfer_enqueue_on_commit
from reservations.deadlines import check_in_at
from reservations.models import Booking
from reservations.services import booking_lock

logger = logging.getLogger(__name__)

# Cancellations after which the owner is still paid their share of what the guest did not
# get back (reservations.cancellation): the guest's own, and the balance deadline's.
OWNER_PAID_CANCEL_KINDS = (Booking.CancelKind.GUEST, Booking.CancelKind.BALANCE_DEADLINE)
# A booking whose payout is past planning: being sent, sent, or failed and not retried.
SETTLED_OR_SENDING = (Payout.Status.QUEUED, Payout.Status.PENDING, Payout.Status.SUCCESS)
# Daraja refuses a B2C below this (result 2, "less than the minimum transaction amount").
B2C_MIN_AMOUNT = 10
OPEN_REFUND_STATUSES = (Refund.Status.QUEUED, Refund.Status.AWAITING_APPROVAL, Refund.Status.PENDING)

NOTE_NO_DESTINATION = "Waiting for the owner to set a payout M-Pesa number (or paybill/till) in their account."
NOTE_REFUND_OPEN = "Waiting for a refund of this booking to be settled."
NOTE_IN_FLIGHT = "Waiting for a payment of this booking that is still in flight."
NOTE_BELOW_MINIMUM = f"Below M-Pesa's minimum B2C amount (KES {B2C_MIN_AMOUNT}): waiting for staff."


def payout_commission(gross: int, percent: int | None = None) -> int:
    """`percent` (default PLATFORM_COMMISSION_PERCENT) of `gross`, rounded half up to whole
    shillings (Decimal, no float)."""
    if percent is None:
        percent = settings.PLATFORM_COMMISSION_PERCENT
    return int((Decimal(int(gross)) * Decimal(int(percent)) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def payout_due_at(check_in: dt.date) -> dt.datetime:
    """When a stay's payout is due: PAYOUT_DELAY_HOURS after check-in at CHECK_IN_TIME, Nairobi."""
    return check_in_at(check_in) + dt.timedelta(hours=settings.PAYOUT_DELAY_HOURS)


def payout_new_originator_id() -> str:
    """The payout's OriginatorConversationID, made with the row: its idempotency key at Daraja."""
    return new_originator_conversation_id("payout")


def payout_snapshot(payout: Payout) -> dict:
    return {
        "status": payout.status,
        "gross": payout.gross,
        "commission": payout.commission,
        "amount": payout.amount,
        "method": payout.method,
        "phone_number": payout.phone_number,
        "business_number": payout.business_number,
        "due_at": payout.due_at.astimezone(dt.timezone.utc).isoformat() if payout.due_at else None,
        "note": payout.note,
    }


# --- What a booking owes its owner -------------------------------------------------------------------


def refunds_owed(*, booking_id: int) -> int:
    """Refunds of the booking not settled yet: open ones, and failed ones nobody retried (the
    money is still the guest's until staff decide)."""
    owed = Refund.objects.filter(booking_id=booking_id).filter(
        Q(status__in=OPEN_REFUND_STATUSES) | Q(status=Refund.Status.FAILED, retried_by__isnull=True)
    )
    return owed.aggregate(total=Sum("amount"))["total"] or 0


def _pays_owner(booking: Booking) -> bool:
    if booking.status == Booking.Status.CANCELED:
        return booking.cancel_kind in OWNER_PAID_CANCEL_KINDS
    return booking.status in (Booking.Status.CONFIRMED, Booking.Status.PROCESSING)


def booking_payout_gross(*, booking: Booking) -> int:
    """What the owner's payout of this booking is cut from now: the money held less refunds
    still owed; 0 when the booking pays its owner nothing."""
    if not _pays_owner(booking):
        return 0
    held = booking_money_of(booking_id=booking.pk).held
    return max(held - refunds_owed(booking_id=booking.pk), 0)


def _destination(owner) -> dict | None:
    """The owner's payout destination as Payout fields, or None when they have not given one."""
    method = getattr(owner, "payout_method", "mpesa") or "mpesa"
    if method in ("paybill", "till"):
        number = (owner.payout_business_number or "").strip()
        if not number or (method == "paybill" and not (owner.payout_account_reference or "").strip()):
            return None
        return {
            "method": Payout.Method.PAYBILL if method == "paybill" else Payout.Method.TILL,
            "phone_number": "",
            "business_number": number,
            "account_reference": (owner.payout_account_reference or "").strip() if method == "paybill" else "",
        }
    phone = (owner.payout_phone_number or "").strip()
    if not phone:
        return None
    return {"method": Payout.Method.B2C, "phone_number": phone, "business_number": "", "account_reference": ""}


def _set_figures(payout: Payout, gross: int) -> None:
    """The split at today's rate: a payout not sent yet follows PLATFORM_COMMISSION_PERCENT;
    once released its figures (and its rate) stay as they were."""
    payout.gross = gross
    payout.commission_percent = settings.PLATFORM_COMMISSION_PERCENT
    payout.commission = payout_commission(gross, payout.commission_percent)
    payout.amount = gross - payout.commission


# --- Planning --------------------------------------------------------------------------------------------


def _plan_candidates() -> list[int]:
    """Bookings that may pay their owner and whose payout is still only a plan (or missing)."""
    past_planning = Payout.objects.filter(
        Q(status__in=SETTLED_OR_SENDING) | Q(status=Payout.Status.FAILED, retried_by__isnull=True)
    ).values("booking_id")
    paying = Booking.objects.filter(
        Q(status__in=(Booking.Status.CONFIRMED, Booking.Status.PROCESSING))
        | Q(status=Booking.Status.CANCELED, cancel_kind__in=OWNER_PAID_CANCEL_KINDS),
        amount_paid__gt=0,
    ).exclude(pk__in=past_planning)
    planned = Payout.objects.filter(status=Payout.Status.SCHEDULED).values_list("booking_id", flat=True)
    return sorted(set(paying.values_list("pk", flat=True)) | set(planned))


def _plan_decide(booking: Booking, live: Payout | None) -> tuple[str, Payout | None]:
    """What the plan must do for this booking: ("", None) nothing, ("drop", live), ("create",
    a new unsaved row) or ("update", live with its new figures set, unsaved). No writes."""
    if live is not None and live.status not in (Payout.Status.SCHEDULED, Payout.Status.HELD):
        return "", None
    if live is None and Payout.objects.filter(
        booking=booking, status=Payout.Status.FAILED, retried_by__isnull=True
    ).exists():
        return "", None  # a failed payout waits for staff's retry, not for a new plan
    owner = booking.property.owner if booking.property.owner_id else None
    gross = booking_payout_gross(booking=booking) if owner is not None else 0
    if gross - payout_commission(gross) < 1:
        if live is not None and live.status == Payout.Status.SCHEDULED:
            return "drop", live
        return "", None
    due_at = payout_due_at(booking.check_in)
    destination = _destination(owner) or {}
    if live is None:
        payout = Payout(
            booking=booking,
            owner=owner,
            originator_conversation_id=payout_new_originator_id(),
            status=Payout.Status.SCHEDULED,
            due_at=due_at,
            **destination,
        )
        _set_figures(payout, gross)
        return "create", payout
    before = payout_snapshot(live)
    _set_figures(live, gross)
    live.due_at = due_at
    if live.status == Payout.Status.SCHEDULED and destination:
        for field, value in destination.items():
            setattr(live, field, value)
    if payout_snapshot(live) == before:
        return "", None
    live._plan_before = before
    return "update", live


def _plan_one(*, booking_id: int) -> str:
    """Bring the booking's planned payout in line with its money; 'created', 'updated',
    'dropped' or ''. Decided first without locks (the common case: nothing changed, no lock
    taken), then again and written under the booking's row lock."""
    booking = Booking.objects.select_related("property").filter(pk=booking_id).first()
    if booking is None:
        return ""
    live = Payout.objects.filter(booking=booking).exclude(status=Payout.Status.FAILED).first()
    if not _plan_decide(booking, live)[0]:
        return ""
    with transaction.atomic():
        booking = booking_lock(booking_id=booking_id)
        live = Payout.objects.select_for_update().filter(booking=booking).exclude(status=Payout.Status.FAILED).first()
        action, payout = _plan_decide(booking, live)
        if action == "drop":
            _drop(payout, why="the booking no longer pays its owner anything")
            return "dropped"
        if action == "create":
            try:
                with transaction.atomic():
                    payout.save()
            except IntegrityError:  # planned meanwhile by another run (one live payout per booking)
                return ""
            audit_record(
                obj=payout,
                action="payout.scheduled",
                summary=f"Payout of KES {payout.amount:,} to the owner scheduled for "
                f"{timezone.localtime(payout.due_at):%d %b %Y %H:%M}",
                after=payout_snapshot(payout),
                data={"booking_id": booking.pk},
            )
            return "created"
        if action == "update":
            payout.save()
            audit_record(
                obj=payout,
                action="payout.replanned",
                summary=f"Payout now KES {payout.amount:,} (of KES {payout.gross:,} held)",
                before=payout._plan_before,
                after=payout_snapshot(payout),
            )
            return "updated"
        return ""


def _drop(payout: Payout, *, why: str, actor=None) -> None:
    """A planned payout that will never be sent (nothing left for the owner): deleted, audited."""
    before = payout_snapshot(payout)
    audit_record(
        obj=payout,
        action="payout.dropped",
        actor=actor,
        summary=f"Planned payout dropped: {why}",
        before=before,
        data={"booking_id": payout.booking_id},
    )
    payout.delete()


def payouts_plan(*, now: dt.datetime | None = None) -> int:
    """A SCHEDULED payout for every booking that will pay its owner, figures kept current,
    planned ones dropped when the booking pays nothing any more. Returns how many changed.
    Safe to run twice and concurrently (`now` is accepted for symmetry with the release)."""
    changed = 0
    for booking_id in _plan_candidates():
        if _plan_one(booking_id=booking_id):
            changed += 1
    return changed


# --- Release ----------------------------------------------------------------------------------------------


def _waiting_reason(*, booking: Booking, payout: Payout, destination: dict | None) -> str:
    if Refund.objects.filter(booking=booking, status__in=OPEN_REFUND_STATUSES).exists():
        return NOTE_REFUND_OPEN
    if booking_money_of(booking_id=booking.pk).in_flight > 0:
        return NOTE_IN_FLIGHT
    if destination is None:
        return NOTE_NO_DESTINATION
    if destination["method"] == Payout.Method.B2C and payout.amount < B2C_MIN_AMOUNT:
        return NOTE_BELOW_MINIMUM
    return ""


def _release_locked(*, payout: Payout, booking: Booking, now: dt.datetime, actor=None) -> tuple[bool, str]:
    """SCHEDULED and due -> QUEUED (enqueued on commit), or stays with a note. Caller holds
    the booking's and the payout's row locks. Returns (released, note)."""
    if payout.status != Payout.Status.SCHEDULED or payout.due_at > now:
        return False, ""
    gross = booking_payout_gross(booking=booking)
    if gross - payout_commission(gross) < 1:
        _drop(payout, why="the booking no longer pays its owner anything", actor=actor)
        return False, "dropped: nothing left for the owner"
    before = payout_snapshot(payout)
    _set_figures(payout, gross)
    destination = _destination(payout.owner)
    note = _waiting_reason(booking=booking, payout=payout, destination=destination)
    if note:
        if payout.note != note or payout_snapshot(payout) != before:
            payout.note = note
            payout.save(update_fields=["gross", "commission", "commission_percent", "amount", "note", "updated_at"])
            audit_record(obj=payout, action="payout.waiting", actor=actor, summary=note, before=before,
                         after=payout_snapshot(payout))
        return False, note
    for field, value in destination.items():
        setattr(payout, field, value)
    # The claim: only a row still SCHEDULED moves, so a second run (another worker, a
    # concurrent `release_payouts`) that got here too releases nothing.
    claimed = Payout.objects.filter(pk=payout.pk, status=Payout.Status.SCHEDULED).update(
        status=Payout.Status.QUEUED,
        released_at=now,
        note="",
        gross=payout.gross,
        commission=payout.commission,
        commission_percent=payout.commission_percent,
        amount=payout.amount,
        updated_at=timezone.now(),
        **destination,
    )
    if not claimed:
        return False, ""
    payout.status, payout.released_at, payout.note = Payout.Status.QUEUED, now, ""
    audit_record(
        obj=payout,
        action="payout.released",
        actor=actor,
        summary=f"Payout of KES {payout.amount:,} released to {payout.phone_number or payout.business_number}",
        before=before,
        after=payout_snapshot(payout),
        data={"booking_id": booking.pk},
    )
    transfer_enqueue_on_commit(payout)
    logger.info(
        "payout released payout_id=%s booking_id=%s amount=%s method=%s",
        payout.pk, booking.pk, payout.amount, payout.method,
    )
    return True, ""


def _release_one(*, payout_id: int, now: dt.datetime, actor=None) -> tuple[bool, str]:
    booking_id = Payout.objects.filter(pk=payout_id).values_list("booking_id", flat=True).first()
    if booking_id is None:
        return False, ""
    with transaction.atomic():
        booking = booking_lock(booking_id=booking_id)
        payout = Payout.objects.select_for_update().select_related("owner").filter(pk=payout_id).first()
        if payout is None:
            return False, ""
        return _release_locked(payout=payout, booking=booking, now=now, actor=actor)


def payouts_release_due_detail(*, now: dt.datetime | None = None) -> list[dict]:
    """payouts_release_due, saying what happened to each due payout:
    [{"payout_id", "booking_id", "amount", "released": bool, "note"}]."""
    now = now or timezone.now()
    payouts_plan(now=now)
    due = list(
        Payout.objects.filter(status=Payout.Status.SCHEDULED, due_at__lte=now)
        .order_by("due_at", "pk")
        .values_list("pk", "booking_id")
    )
    report = []
    for payout_id, booking_id in due:
        released, note = _release_one(payout_id=payout_id, now=now)
        amount = Payout.objects.filter(pk=payout_id).values_list("amount", flat=True).first()
        report.append(
            {"payout_id": payout_id, "booking_id": booking_id, "amount": amount, "released": released, "note": note}
        )
    return report


def payouts_release_due(*, now: dt.datetime | None = None) -> int:
    """Plan, then release every SCHEDULED payout that is due. Returns how many were released.
    Concurrency-safe: two runs at once release each payout once."""
    released = sum(1 for row in payouts_release_due_detail(now=now) if row["released"])
    if released:
        logger.info("payouts released count=%d", released)
    return released


# --- Staff actions -----------------------------------------------------------------------------------------


def _require_staff(actor) -> None:
    if not getattr(actor, "is_staff", False):
        raise ApplicationError("Only staff can do this to a payout.", "staff_only", status=403)


def _lock_payout(payout_id: int) -> tuple[Booking, Payout]:
    booking_id = Payout.objects.filter(pk=payout_id).values_list("booking_id", flat=True).first()
    if booking_id is None:
        raise ApplicationError("Payout not found.", "not_found", status=404)
    booking = booking_lock(booking_id=booking_id)
    return booking, Payout.objects.select_for_update().select_related("owner").get(pk=payout_id)


def payout_hold(*, payout_id: int, actor, reason: str) -> Payout:
    """Staff stop a payout that is not sent yet (SCHEDULED, or QUEUED and not sent): HELD
    until staff release it. 409 not_holdable otherwise."""
    _require_staff(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("A reason for holding the payout is required.", "reason_required", status=400)
    with transaction.atomic():
        _booking, payout = _lock_payout(payout_id)
        holdable = payout.status == Payout.Status.SCHEDULED or (
            payout.status == Payout.Status.QUEUED and payout.sent_at is None
        )
        if not holdable:
            raise ApplicationError(
                f"A payout that is {payout.get_status_display().lower()} cannot be held.", "not_holdable"
            )
        before = payout_snapshot(payout)
        # Conditional, like the release: a QUEUED payout the sender takes meanwhile is not held.
        held = Payout.objects.filter(pk=payout.pk, status=payout.status, sent_at__isnull=True).update(
            status=Payout.Status.HELD,
            held_by=actor,
            held_at=timezone.now(),
            hold_reason=reason[:255],
            updated_at=timezone.now(),
        )
        if not held:
            raise ApplicationError("The payout is being sent and cannot be held.", "not_holdable")
        payout.refresh_from_db()
        audit_record(
            obj=payout,
            action="payout.held",
            actor=actor,
            summary=f"Payout held: {reason}"[:255],
            before=before,
            after=payout_snapshot(payout),
            data={"reason": reason},
        )
    return payout


def payout_release(*, payout_id: int, actor) -> Payout:
    """Staff release a HELD payout: SCHEDULED again, and sent at once when it is due (or it
    waits with a note, like any due payout). 409 not_held otherwise."""
    _require_staff(actor)
    now = timezone.now()
    with transaction.atomic():
        booking, payout = _lock_payout(payout_id)
        if payout.status != Payout.Status.HELD:
            raise ApplicationError("Only a held payout can be released.", "not_held")
        before = payout_snapshot(payout)
        payout.status = Payout.Status.SCHEDULED
        payout.save(update_fields=["status", "updated_at"])
        audit_record(
            obj=payout,
            action="payout.hold_lifted",
            actor=actor,
            summary="Hold lifted by staff",
            before={**before, "hold_reason": payout.hold_reason},
            after=payout_snapshot(payout),
        )
        _released, note = _release_locked(payout=payout, booking=booking, now=now, actor=actor)
    if not note.startswith("dropped"):
        payout.refresh_from_db()
    return payout


def payout_retry(*, payout_id: int, actor) -> Payout:
    """Staff send a FAILED payout again: a new row (retry_of) for the booking's money now,
    released at once when possible. 409 not_retryable for anything else or a second retry."""
    _require_staff(actor)
    now = timezone.now()
    with transaction.atomic():
        booking, failed = _lock_payout(payout_id)
        if failed.status != Payout.Status.FAILED or Payout.objects.filter(retry_of=failed).exists():
            raise ApplicationError("Only a failed payout not retried yet can be retried.", "not_retryable")
        if Payout.objects.filter(booking=booking).exclude(status=Payout.Status.FAILED).exists():
            raise ApplicationError("This booking already has a payout under way.", "not_retryable")
        gross = booking_payout_gross(booking=booking)
        if gross - payout_commission(gross) < 1:
            raise ApplicationError("The booking holds nothing to pay its owner now.", "nothing_to_pay")
        retry = Payout(
            booking=booking,
            owner=failed.owner,
            originator_conversation_id=payout_new_originator_id(),
            status=Payout.Status.SCHEDULED,
            due_at=min(failed.due_at, now),
            retry_of=failed,
            **(_destination(failed.owner) or {}),
        )
        _set_figures(retry, gross)
        retry.save()
        audit_record(
            obj=retry,
            action="payout.retried",
            actor=actor,
            summary=f"Retry of failed payout {failed.pk}: KES {retry.amount:,}",
            after=payout_snapshot(retry),
            data={"retry_of": failed.pk, "failure_reason": failed.failure_reason or failed.result_desc},
        )
        _release_locked(payout=retry, booking=booking, now=now, actor=actor)
    retry.refresh_from_db()
    return retry


# --- Settled -------------------------------------------------------------------------------------------------


def payout_settled(*, payout: Payout, succeeded: bool) -> None:
    """Called by mpesa.transfers once Daraja's result (or a status query) settled the payout
    (once per payout): the owner is told a payout was sent (email and SMS, once: the
    notification is keyed by the payout); a failure is for staff (admin "Payouts", retry)."""
    if succeeded:
        audit_record(
            obj=payout,
            action="payout.owner_notified",
            summary=f"Owner told: KES {payout.amount:,} sent"
            + (f" (M-Pesa {payout.mpesa_transaction_id})" if payout.mpesa_transaction_id else ""),
            data={"booking_id": payout.booking_id},
        )
        # Registered by mpesa.payout_notifications (MpesaConfig.ready); the second id is the payout's.
        notify("payout_sent", booking_id=payout.booking_id, payment_id=payout.pk)
        logger.info("payout sent payout_id=%s amount=%s receipt=%s", payout.pk, payout.amount,
                    payout.mpesa_transaction_id)
    else:
        audit_record(
            obj=payout,
            action="payout.needs_staff",
            summary=f"Payout failed: {payout.failure_reason or payout.result_desc or payout.result_code}"[:255],
            data={"booking_id": payout.booking_id, "result_code": payout.result_code},
        )
        logger.warning("payout failed payout_id=%s result_code=%s", payout.pk, payout.result_code)


# --- Reads ------------------------------------------------------------------------------------------------------


def payout_list_for_owner(*, user) -> QuerySet[Payout]:
    """The user's own payouts (every state), newest due first: earnings, upcoming and history.
    Only the owner's own, whoever asks (staff list every payout in the admin)."""
    return (
        Payout.objects.filter(owner=user)
        .select_related("booking", "booking__property", "owner")
        .order_by("-due_at", "-id")
    )
