"""The payments' share of a user's personal data (accounts.privacy): the export's payments and
receipt emails, when erasing an account must wait, and the masked phone numbers.

Erasing never touches money: amounts, receipts, dates and statuses stay exactly as Daraja
and staff left them; only the payer's phone number is masked (2547******78) wherever the
payment, its callbacks and its audit entries carry it. Registered by MpesaConfig.ready().
"""

import datetime as dt
import json

from django.db.models import Q

from accounts.privacy import PersonalDataPart, mask_phone, nairobi_iso, personal_data_register
from core.models import AuditEntry
from core.phones import to_msisdn
from mpesa.models import CallbackRecord, Payment, Refund
from reservations.privacy import sent_notifications


def _user_msisdn(user) -> str | None:
    try:
        return to_msisdn(str(user.phone_number)) if user.phone_number else None
    except Exception:  # noqa: BLE001 - an old, non-Kenyan number simply matches no payment
        return None


def payments_of(user):
    """The payments this user made: those they started, and on their own bookings those paid
    from their phone (a payment matched by staff has no initiator)."""
    query = Q(initiated_by=user)
    msisdn = _user_msisdn(user)
    if msisdn:
        query |= Q(booking__primary_guest=user) & (Q(phone_number=msisdn) | Q(received_phone=msisdn))
    return Payment.objects.filter(query, kind=Payment.Kind.PAYMENT)


def _payment_row(payment: Payment) -> dict:
    return {
        "id": payment.pk,
        "kind": payment.kind,
        "booking_reference": payment.booking.reference,
        "amount": payment.amount,
        "received_amount": payment.received_amount,
        "status": payment.status,
        "phone_number": payment.phone_number,
        "mpesa_receipt_number": payment.mpesa_receipt_number,
        "transaction_date": nairobi_iso(payment.transaction_date),
        "created_at": nairobi_iso(payment.created_at),
        "refund_of": payment.refund_of_id,
        "refund_reference": payment.refund_reference,
    }


def payments_export(user) -> dict[str, list]:
    payments = list(payments_of(user).select_related("booking").order_by("created_at", "id"))
    ids = [payment.pk for payment in payments]
    refunds = list(
        Payment.objects.filter(refund_of_id__in=ids, kind=Payment.Kind.REFUND)
        .select_related("booking")
        .order_by("created_at", "id")
    )
    prefixes = [f"payment_received:booking={payment.booking_id}:payment={payment.pk}" for payment in payments]
    # "payment=12" is also the start of "payment=123": keep the rows of this user's payments only.
    own = set(ids)
    notifications = [row for row in sent_notifications(prefixes=prefixes) if row["payment_id"] in own]
    sent_back = list(Refund.objects.filter(payment_id__in=ids).select_related("booking").order_by("created_at", "id"))
    return {
        "payments": [_payment_row(p) for p in [*payments, *refunds]],
        "mpesa_refunds": [_refund_row(refund) for refund in sent_back],
        "notifications": notifications,
    }


def _refund_row(refund: Refund) -> dict:
    """A refund sent through M-Pesa (a Reversal or a B2C) to the phone that paid."""
    return {
        "id": refund.pk,
        "booking_reference": refund.booking.reference,
        "payment": refund.payment_id,
        "amount": refund.amount,
        "method": refund.method,
        "status": refund.status,
        "phone_number": refund.phone_number,
        "mpesa_transaction_id": refund.mpesa_transaction_id,
        "created_at": nairobi_iso(refund.created_at),
        "completed_at": nairobi_iso(refund.completed_at),
    }


def payments_erasure_refusal(user, today: dt.date) -> str | None:
    """Money on its way, or owed back to the user's phone, needs the number until it settles."""
    mine = payments_of(user)
    if mine.filter(status__in=(Payment.Status.QUEUED, Payment.Status.PENDING)).exists():
        return "A payment of yours is still being processed: try again once it has gone through."
    if mine.filter(needs_refund=True).exists() or Refund.objects.filter(
        payment__in=mine, status__in=("QUEUED", "AWAITING_APPROVAL", "PENDING")
    ).exists():
        return "A refund to your M-Pesa number is still due: we need the number until it is sent."
    return None


def _scrub(value, phones: dict[str, str]):
    """`value` (JSON data) with each phone number in `phones` replaced by its masked form."""
    if isinstance(value, dict):
        return {key: _scrub(item, phones) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, phones) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and str(value) in phones:
        return phones[str(value)]
    if isinstance(value, str):
        for phone, masked in phones.items():
            value = value.replace(phone, masked)
    return value


def payments_erase(user) -> dict[str, int]:
    mine = payments_of(user)
    payments = list(Payment.objects.filter(Q(pk__in=mine) | Q(refund_of__in=mine)))
    if not payments:
        return {"payments_masked": 0}
    phones: dict[str, str] = {}
    for payment in payments:
        for number in (payment.phone_number, payment.received_phone):
            digits = "".join(ch for ch in number if ch.isdigit())
            if len(digits) >= 9:
                phones[digits] = mask_phone(digits)
    msisdn = _user_msisdn(user)
    if msisdn:
        phones[msisdn] = mask_phone(msisdn)

    for payment in payments:
        payment.phone_number = mask_phone(payment.phone_number)
        payment.received_phone = mask_phone(payment.received_phone)
        payment.raw_callback = _scrub(payment.raw_callback, phones)
        payment.last_query_result = _scrub(payment.last_query_result, phones)
    # bulk_update, not save(): updated_at says when the money last changed, not the privacy pass.
    Payment.objects.bulk_update(payments, ["phone_number", "received_phone", "raw_callback", "last_query_result"])

    ids = [payment.pk for payment in payments]
    refunds = list(Refund.objects.filter(payment_id__in=ids))
    for refund in refunds:
        refund.phone_number = mask_phone(refund.phone_number)
        refund.raw_response = _scrub(refund.raw_response, phones)
        refund.raw_result = _scrub(refund.raw_result, phones)
    Refund.objects.bulk_update(refunds, ["phone_number", "raw_response", "raw_result"])
    callbacks = list(CallbackRecord.objects.filter(Q(payment_id__in=ids) | Q(refund__in=refunds)))
    for record in callbacks:
        record.phone_number = mask_phone(record.phone_number)
        record.raw_body = _scrub(record.raw_body, phones)
    CallbackRecord.objects.bulk_update(callbacks, ["phone_number", "raw_body"])

    entries = [
        entry
        for entry in AuditEntry.objects.filter(
            content_type__app_label="mpesa", content_type__model="payment", object_id__in=[str(pk) for pk in ids]
        )
        if any(phone in json.dumps([entry.summary, entry.before, entry.after, entry.data]) for phone in phones)
    ]
    for entry in entries:
        entry.summary = _scrub(entry.summary, phones)
        entry.before = _scrub(entry.before, phones)
        entry.after = _scrub(entry.after, phones)
        entry.data = _scrub(entry.data, phones)
    AuditEntry.objects.bulk_update(entries, ["summary", "before", "after", "data"])
    return {
        "payments_masked": len(payments),
        "refunds_masked": len(refunds),
        "callbacks_masked": len(callbacks),
        "audit_entries_masked": len(entries),
    }


def payment_personal_data_register() -> None:
    personal_data_register(
        PersonalDataPart(
            name="payments",
            export=payments_export,
            refusal=payments_erasure_refusal,
            erase=payments_erase,
        )
    )
