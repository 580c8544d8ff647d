"""Unmatched M-Pesa payments: the staff queue's two actions.

A success callback that matched no payment and that no unanswered push could adopt stays
UNMATCHED in the callback ledger (mpesa.settle.callback_apply): the guest's money left
their phone and only a person can say whose it is. Staff either attach it to a booking
(it becomes that booking's payment, settled by the one applier, so the booking's money
and status follow the same way as for any callback) or mark it for refund (the money is
sent back by hand until refunds go through Daraja).

Both lock the ledger row and re-check that it is still UNMATCHED, so two staff members
acting on the same row at once cannot both succeed; the loser gets a 409
callback_not_unmatched. Lock order is the money path's: booking row first, then the
ledger row, then the payment row (docs/booking-rules.md).
"""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from core.services import audit_record
from mpesa.models import CallbackRecord, Payment
from mpesa.settle import Outcome, payment_settle
from reservations.models import Booking
from reservations.services import booking_lock

logger = logging.getLogger(__name__)

NOTE_MAX_LENGTH = 2000


def _clean_note(note: str) -> str:
    note = (note or "").strip()
    if not note:
        raise ApplicationError("Say why in a note: it goes into the audit trail.", "note_required", 400)
    return note[:NOTE_MAX_LENGTH]


def _booking_id_for(booking_reference_or_id: str | int) -> int:
    """A booking's id from its id (int) or its reference as staff type it (any case, spaces
    allowed: "nx7f 3k2q"). 404 booking_not_found otherwise."""
    if isinstance(booking_reference_or_id, int):
        lookup = {"pk": booking_reference_or_id}
        shown = f"#{booking_reference_or_id}"
    else:
        reference = "".join(str(booking_reference_or_id or "").split()).upper()
        lookup = {"reference": reference}
        shown = reference or "(empty)"
    booking_id = Booking.objects.filter(**lookup).values_list("pk", flat=True).first()
    if booking_id is None:
        raise ApplicationError(f"No booking has the reference {shown}.", "booking_not_found", 404)
    return booking_id


def _lock_unmatched(record_id: int) -> CallbackRecord:
    """The ledger row, locked, if it is still UNMATCHED; 404 / 409 otherwise."""
    record = CallbackRecord.objects.select_for_update().filter(pk=record_id).first()
    if record is None:
        raise ApplicationError("No such M-Pesa callback.", "not_found", 404)
    if record.state != CallbackRecord.State.UNMATCHED:
        raise ApplicationError(
            f"This M-Pesa payment is no longer unmatched: it is now “{record.get_state_display()}”"
            " (another staff member or the payments worker dealt with it). Nothing was changed.",
            "callback_not_unmatched",
            409,
        )
    return record


def _record_snapshot(record: CallbackRecord) -> dict:
    return {
        "state": record.state,
        "payment": record.payment_id,
        "resolved_by": record.resolved_by_id,
        "resolution_note": record.resolution_note,
    }


def _resolve(record: CallbackRecord, *, actor, note: str, **fields) -> None:
    record.resolved_by = actor if getattr(actor, "pk", None) else None
    record.resolved_at = timezone.now()
    record.resolution_note = note
    for name, value in fields.items():
        setattr(record, name, value)
    record.save(update_fields=["resolved_by", "resolved_at", "resolution_note", *fields])


def callback_attach_to_booking(
    *, record_id: int, booking_reference_or_id: str | int, actor, note: str
) -> Payment:
    """Make an unmatched success a payment of the booking and settle it.

    The new Payment carries the callback's CheckoutRequestID and amount, and goes through
    payment_settle like any callback (source "staff"): the booking's amount_paid, balance
    and status follow, a CANCELED booking is restored or the payment flagged for refund
    by the applier itself. The ledger row ends ATTACHED, pointing at the payment.
    Returns the settled payment. 400 note_required, 404 booking_not_found / not_found,
    409 callback_not_unmatched / receipt_already_recorded / checkout_request_id_taken.
    """
    note = _clean_note(note)
    booking_id = _booking_id_for(booking_reference_or_id)
    with transaction.atomic():
        booking = booking_lock(booking_id=booking_id)
        record = _lock_unmatched(record_id)
        before = _record_snapshot(record)
        holder = Payment.objects.filter(mpesa_receipt_number=record.receipt).values_list("pk", flat=True).first()
        if holder is not None:
            raise ApplicationError(
                f"Receipt {record.receipt} is already recorded on payment {holder}: it cannot be credited twice.",
                "receipt_already_recorded",
                409,
            )
        # The booking asks for at most its balance: a surplus is credited no further and is
        # flagged "surplus to refund" by the applier's amount rule, like any over-payment.
        asked = record.amount
        if booking.status != booking.Status.CANCELED and 0 < booking.balance_due < record.amount:
            asked = booking.balance_due
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    booking=booking,
                    kind=Payment.Kind.PAYMENT,
                    amount=asked,
                    phone_number=record.phone_number,
                    checkout_request_id=record.checkout_request_id,
                    merchant_request_id=record.merchant_request_id,
                    status=Payment.Status.PENDING,
                    sent_at=timezone.now(),
                    initiated_by=None,
                    note=f"Unmatched M-Pesa payment (callback {record.pk}) attached by staff: {note}",
                )
        except IntegrityError:
            # The unique CheckoutRequestID: a push's answer carrying it was saved meanwhile,
            # so the worker will apply the callback to that payment.
            raise ApplicationError(
                f"A payment with CheckoutRequestID {record.checkout_request_id} now exists:"
                " the callback will be applied to it. Nothing was changed.",
                "checkout_request_id_taken",
                409,
            ) from None
        payment = payment_settle(
            payment_id=payment.pk,
            outcome=Outcome.from_callback(record, source="staff"),
            actor=actor,
            callback_record_id=record.pk,
            record_state=CallbackRecord.State.ATTACHED,
        )
        record.refresh_from_db()
        if record.state != CallbackRecord.State.ATTACHED:
            # The applier refused it (e.g. the receipt turned up on another payment meanwhile):
            # undo the payment rather than leave one that holds nothing.
            raise ApplicationError(
                f"The payment could not be settled ({record.outcome_note or record.get_state_display()})."
                " Nothing was changed.",
                "callback_not_applied",
                409,
            )
        _resolve(record, actor=actor, note=note)
        booking.refresh_from_db()
        audit_record(
            obj=record,
            action="callback.attached",
            actor=actor,
            summary=f"KES {record.amount:,} receipt {record.receipt} attached to booking {booking.reference}",
            before=before,
            after=_record_snapshot(record),
            data={"booking": booking.pk, "reference": booking.reference, "payment": payment.pk, "note": note},
        )
        audit_record(
            obj=payment,
            action="payment.attached_by_staff",
            actor=actor,
            summary=f"Created from unmatched M-Pesa payment {record.receipt} (callback {record.pk})",
            data={"callback_record": record.pk, "note": note, "booking_status": booking.status},
        )
    logger.info(
        "unmatched mpesa payment attached record_id=%s receipt=%s booking_id=%s payment_id=%s actor_id=%s",
        record.pk,
        record.receipt,
        booking.pk,
        payment.pk,
        getattr(actor, "pk", None),
    )
    return payment


def callback_mark_for_refund(*, record_id: int, actor, note: str) -> CallbackRecord:
    """Take an unmatched success off the queue as money to send back (REFUND_MARKED).

    Until refunds go through Daraja, staff send it back by hand (M-Pesa reversal or
    B2C from the business account) and say so in the note. 400 note_required,
    404 not_found, 409 callback_not_unmatched.
    """
    note = _clean_note(note)
    with transaction.atomic():
        record = _lock_unmatched(record_id)
        before = _record_snapshot(record)
        _resolve(record, actor=actor, note=note, state=CallbackRecord.State.REFUND_MARKED)
        audit_record(
            obj=record,
            action="callback.refund_marked",
            actor=actor,
            summary=f"KES {record.amount:,} receipt {record.receipt} from {record.phone_number or '-'}"
            " marked for refund",
            before=before,
            after=_record_snapshot(record),
            data={"note": note},
        )
    logger.info(
        "unmatched mpesa payment marked for refund record_id=%s receipt=%s actor_id=%s",
        record.pk,
        record.receipt,
        getattr(actor, "pk", None),
    )
    return record
