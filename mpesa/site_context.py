"""The booking page's payment parts, worked out in Python so the templates only lay them out:
the pay card (templates/mpesa/includes/pay.html), the list of payments
(templates/mpesa/includes/payments.html), the refunds of a cancelled booking
(templates/mpesa/includes/refunds.html) and where a payment or refund has got to, in plain
words, for the live panel (mpesa.site_views.booking_status).

Registered with reservations.site_context at start-up (MpesaConfig.ready()), so the
booking page shows them without reservations importing the payments app. Reads only.
"""

from django.urls import reverse

from mpesa.forms import PaymentForm
from mpesa.models import Refund
from mpesa.money_out_selectors import refund_list_for_booking
from mpesa.selectors import payment_list_for_booking
from reservations.site_context import BookingPagePart

# Daraja STK result codes a guest can cause or meet (docs/daraja.md), in plain words.
RESULT_CODE_PHASES = {
    "1032": (
        "cancelled",
        "Payment cancelled",
        "The M-Pesa prompt was cancelled on the phone, so no money was taken. You can try again.",
    ),
    "2001": (
        "wrong_pin",
        "Wrong M-Pesa PIN",
        "The PIN entered on the phone was wrong, so no money was taken. Try again and enter your M-Pesa PIN carefully.",
    ),
    "1037": (
        "timeout",
        "No answer from the phone",
        "The M-Pesa prompt timed out before anyone answered it. Check the phone is on and unlocked, then try again.",
    ),
    "1": (
        "insufficient",
        "Not enough money on M-Pesa",
        "The M-Pesa balance was too low for this payment. Top up or pay a smaller amount, then try again.",
    ),
    "1001": (
        "busy",
        "M-Pesa is busy on that phone",
        "That phone is in the middle of another M-Pesa transaction. Wait a minute, then try again.",
    ),
    "1025": ("failed", "M-Pesa couldn't send the prompt", "M-Pesa could not reach the phone. Try again in a minute."),
    "1019": ("timeout", "The payment expired", "The payment took too long and expired. Please try again."),
}


def national_phone(value) -> str:
    """+254712345678 -> 0712345678, the way Kenyans type their number."""
    text = str(value or "")
    for prefix in ("+254", "254"):
        if text.startswith(prefix) and len(text) == len(prefix) + 9:
            return "0" + text[len(prefix):]
    return text


def masked_phone(msisdn: str) -> str:
    national = national_phone(msisdn)
    return f"{national[:4]}•••{national[-3:]}" if len(national) == 10 else national


def payment_progress(payment) -> dict:
    """Where one payment has got to, for the live panel."""
    amount = f"KES {payment.amount:,}"
    base = {"id": payment.pk, "status": payment.status, "amount": payment.amount, "receipt": payment.mpesa_receipt_number or ""}
    if payment.status == payment.Status.QUEUED:
        return {**base, "phase": "sending", "final": False, "title": "Sending the M-Pesa request…",
                "message": f"We're asking M-Pesa to send a prompt for {amount} to {masked_phone(payment.phone_number)}."}
    if payment.status == payment.Status.PENDING:
        return {**base, "phase": "waiting", "final": False, "title": "Check your phone",
                "message": f"An M-Pesa prompt for {amount} was sent to {masked_phone(payment.phone_number)}. "
                           "Enter your M-Pesa PIN on the phone to pay."}
    if payment.status == payment.Status.SUCCESS:
        paid = payment.received_amount if payment.received_amount is not None else payment.amount
        receipt = f" M-Pesa receipt {payment.mpesa_receipt_number}." if payment.mpesa_receipt_number else ""
        return {**base, "phase": "paid", "final": True, "title": "Payment received",
                "message": f"KES {paid:,} paid. Thank you!{receipt}"}
    code = (payment.result_code or "").strip()
    if code in RESULT_CODE_PHASES:
        phase, title, message = RESULT_CODE_PHASES[code]
    else:
        reason = payment.failure_reason or payment.result_desc
        if "timeout" in reason.lower() or "timed out" in reason.lower():
            phase, title = "timeout", "The payment timed out"
            message = "We didn't hear back from M-Pesa in time, so the payment was stopped. No money was taken. Please try again."
        else:
            phase, title = "failed", "The payment didn't go through"
            message = f"M-Pesa said: {reason}. No money was taken. Please try again." if reason else (
                "M-Pesa did not accept the payment. No money was taken. Please try again."
            )
    return {**base, "phase": phase, "final": True, "title": title, "message": message}


REFUND_METHOD_WORDS = {
    Refund.Method.REVERSAL: "M-Pesa reversal of your payment",
    Refund.Method.B2C: "M-Pesa payment",
}


def refund_progress(refund: Refund) -> dict:
    """Where one refund has got to, in plain words (the booking page and its live status)."""
    amount = f"KES {refund.amount:,}"
    phone = masked_phone(refund.phone_number)
    base = {
        "id": refund.pk,
        "status": refund.status,
        "amount": refund.amount,
        "amount_text": amount,
        "phone": phone,
        "method": REFUND_METHOD_WORDS.get(refund.method, refund.method),
        "receipt": refund.mpesa_transaction_id or "",
        "final": not refund.is_open,
    }
    if refund.status == Refund.Status.SUCCESS:
        receipt = f" M-Pesa receipt {refund.mpesa_transaction_id}." if refund.mpesa_transaction_id else ""
        return {**base, "phase": "refunded", "title": "Refunded",
                "message": f"{amount} was sent back to {phone}.{receipt}"}
    if refund.status == Refund.Status.FAILED:
        return {**base, "phase": "failed", "title": "Refund not sent yet",
                "message": f"M-Pesa could not send {amount} to {phone}. Our team has been told and will send it again."}
    if refund.status == Refund.Status.AWAITING_APPROVAL:
        return {**base, "phase": "approval", "title": "Being approved",
                "message": f"{amount} will go back to {phone} once a second member of our team approves it "
                           "(we check large refunds twice)."}
    return {**base, "phase": "sending", "title": "On its way",
            "message": f"{amount} is on its way back to {phone}. M-Pesa usually takes a few minutes."}


def refunds_summary(refunds: list[dict]) -> dict | None:
    """One line over the list: how much goes back, to which phones, how much has arrived."""
    live = [r for r in refunds if r["status"] != Refund.Status.FAILED or not r.get("retried")]
    if not live:
        return None
    total = sum(r["amount"] for r in live)
    sent = sum(r["amount"] for r in live if r["status"] == Refund.Status.SUCCESS)
    phones = sorted({r["phone"] for r in live})
    return {
        "total": total,
        "sent": sent,
        "phones": ", ".join(phones),
        "open": any(not r["final"] for r in live),
        "done": sent == total,
    }


def booking_refunds(booking) -> list[dict]:
    refunds = list(refund_list_for_booking(booking=booking))
    retried = {r.retry_of_id for r in refunds if r.retry_of_id}
    return [{**refund_progress(r), "retried": r.pk in retried} for r in refunds]


def booking_page_payments(*, request, booking, status: dict, payment_form=None, **_options) -> BookingPagePart:
    """The pay card and the payments list. The live panel shows ?payment=<id> (where the pay
    form without JavaScript lands) or else the payment still in flight, if any."""
    payments = list(payment_list_for_booking(booking=booking))
    shown_payment_id = request.GET.get("payment")
    shown = None
    if shown_payment_id:
        shown = next((p for p in payments if str(p.pk) == str(shown_payment_id)), None)
    if shown is None:
        shown = next((p for p in payments if p.in_flight), None)
    if payment_form is None:
        payment_form = PaymentForm(
            initial={"phone_number": national_phone(request.user.phone_number), "amount": status["max_payable"]}
        )
    payment_form.fields["amount"].widget.attrs.update({"min": status["min_payable"] or 1, "max": status["max_payable"] or 1})
    refunds = booking_refunds(booking)
    summary = refunds_summary(refunds)
    return BookingPagePart(
        context={
            "payments": [(p, payment_progress(p)) for p in payments if p.kind == p.Kind.PAYMENT],
            "payment_form": payment_form,
            "shown_payment": payment_progress(shown) if shown else None,
            "refunds": refunds,
            "refunds_summary": summary,
        },
        main=("mpesa/includes/refunds.html", "mpesa/includes/payments.html"),
        side=("mpesa/includes/pay.html",),
        script_config={
            "statusUrl": reverse("payments:booking_status", args=[booking.pk]),
            "shownPaymentId": shown.pk if shown and shown.in_flight else None,
            "refundsOpen": bool(summary and summary["open"]),
        },
    )
