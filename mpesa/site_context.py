"""The booking page's payment parts, worked out in Python so the templates only lay them out:
the pay card (templates/mpesa/includes/pay.html), the list of payments
(templates/mpesa/includes/payments.html), the refunds of a cancelled booking
(templates/mpesa/includes/refunds.html) and where a payment or refund has got to, in plain
words, for the live panel (mpesa.site_views.booking_status).

Registered with reservations.site_context at start-up (MpesaConfig.ready()), so the
booking page shows them without reservations importing the payments app. Reads only.
"""

from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _, gettext_lazy

from mpesa.forms import PaymentForm
from mpesa.models import Refund
from mpesa.money_out_selectors import refund_list_for_booking
from mpesa.selectors import payment_list_for_booking
from reservations.site_context import BookingPagePart

# Daraja STK result codes a guest can cause or meet (docs/daraja.md), in plain words.
RESULT_CODE_PHASES = {
    "1032": (
        "cancelled",
        gettext_lazy("Payment cancelled"),
        gettext_lazy("The M-Pesa prompt was cancelled on the phone, so no money was taken. You can try again."),
    ),
    "2001": (
        "wrong_pin",
        gettext_lazy("Wrong M-Pesa PIN"),
        gettext_lazy("The PIN entered on the phone was wrong, so no money was taken. Try again and enter your M-Pesa PIN carefully."),
    ),
    "1037": (
        "timeout",
        gettext_lazy("No answer from the phone"),
        gettext_lazy("The M-Pesa prompt timed out before anyone answered it. Check the phone is on and unlocked, then try again."),
    ),
    "1": (
        "insufficient",
        gettext_lazy("Not enough money on M-Pesa"),
        gettext_lazy("The M-Pesa balance was too low for this payment. Top up or pay a smaller amount, then try again."),
    ),
    "1001": (
        "busy",
        gettext_lazy("M-Pesa is busy on that phone"),
        gettext_lazy("That phone is in the middle of another M-Pesa transaction. Wait a minute, then try again."),
    ),
    "1025": ("failed", gettext_lazy("M-Pesa couldn't send the prompt"), gettext_lazy("M-Pesa could not reach the phone. Try again in a minute.")),
    "1019": ("timeout", gettext_lazy("The payment expired"), gettext_lazy("The payment took too long and expired. Please try again.")),
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
    """Where one payment has got to, for the live panel and the payments list."""
    amount = f"KES {payment.amount:,}"
    phone = masked_phone(payment.phone_number)
    base = {
        "id": payment.pk, "status": payment.status, "amount": payment.amount, "amount_text": amount,
        "receipt": payment.mpesa_receipt_number or "",
        "when": dateformat.format(timezone.localtime(payment.created_at), "j M, H:i") if payment.created_at else "",
    }
    if payment.status == payment.Status.QUEUED:
        return {**base, "phase": "sending", "final": False, "title": _("Sending the M-Pesa request…"),
                "message": _("We're asking M-Pesa to send a prompt for %(amount)s to %(phone)s.") % {"amount": amount, "phone": phone}}
    if payment.status == payment.Status.PENDING:
        return {**base, "phase": "waiting", "final": False, "title": _("Check your phone"),
                "message": _("An M-Pesa prompt for %(amount)s was sent to %(phone)s. Enter your M-Pesa PIN on the phone to pay.")
                % {"amount": amount, "phone": phone}}
    if payment.status == payment.Status.SUCCESS:
        paid = payment.received_amount if payment.received_amount is not None else payment.amount
        if payment.mpesa_receipt_number:
            message = _("KES %(paid)s paid. Thank you! M-Pesa receipt %(receipt)s.") % {
                "paid": f"{paid:,}", "receipt": payment.mpesa_receipt_number}
        else:
            message = _("KES %(paid)s paid. Thank you!") % {"paid": f"{paid:,}"}
        return {**base, "phase": "paid", "final": True, "title": _("Payment received"), "message": message}
    code = (payment.result_code or "").strip()
    if code in RESULT_CODE_PHASES:
        phase, title, message = RESULT_CODE_PHASES[code]
    else:
        reason = payment.failure_reason or payment.result_desc
        if "timeout" in reason.lower() or "timed out" in reason.lower():
            phase, title = "timeout", _("The payment timed out")
            message = _("We didn't hear back from M-Pesa in time, so the payment was stopped. No money was taken. Please try again.")
        else:
            phase, title = "failed", _("The payment didn't go through")
            message = _("M-Pesa said: %(reason)s. No money was taken. Please try again.") % {"reason": reason} if reason else _(
                "M-Pesa did not accept the payment. No money was taken. Please try again."
            )
    return {**base, "phase": phase, "final": True, "title": str(title), "message": str(message)}


REFUND_METHOD_WORDS = {
    Refund.Method.REVERSAL: gettext_lazy("M-Pesa reversal of your payment"),
    Refund.Method.B2C: gettext_lazy("M-Pesa payment"),
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
        "method": str(REFUND_METHOD_WORDS.get(refund.method, refund.method)),
        "receipt": refund.mpesa_transaction_id or "",
        "final": not refund.is_open,
    }
    if refund.status == Refund.Status.SUCCESS:
        words = {"amount": amount, "phone": phone, "receipt": refund.mpesa_transaction_id}
        if refund.mpesa_transaction_id:
            message = _("%(amount)s was sent back to %(phone)s. M-Pesa receipt %(receipt)s.") % words
        else:
            message = _("%(amount)s was sent back to %(phone)s.") % words
        return {**base, "phase": "refunded", "title": _("Refunded"), "message": message}
    words = {"amount": amount, "phone": phone}
    if refund.status == Refund.Status.FAILED:
        return {**base, "phase": "failed", "title": _("Refund not sent yet"),
                "message": _("M-Pesa could not send %(amount)s to %(phone)s. Our team has been told and will send it again.") % words}
    if refund.status == Refund.Status.AWAITING_APPROVAL:
        return {**base, "phase": "approval", "title": _("Being approved"),
                "message": _("%(amount)s will go back to %(phone)s once a second member of our team approves it "
                             "(we check large refunds twice).") % words}
    return {**base, "phase": "sending", "title": _("On its way"),
            "message": _("%(amount)s is on its way back to %(phone)s. M-Pesa usually takes a few minutes.") % words}


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


def booking_payments(booking, payments=None) -> list[dict]:
    """The booking's payments (not its refunds) as the list on the page shows them, newest first."""
    if payments is None:
        payments = payment_list_for_booking(booking=booking)
    return [payment_progress(p) for p in payments if p.kind == p.Kind.PAYMENT]


def script_text() -> dict:
    """The words booking-page.js writes into the page, translated here (the script has none)."""
    return {
        "amountAtLeast": _("At least %(minimum)s (the deposit this place asks for), at most %(maximum)s."),
        "amountUpTo": _("Any amount up to %(maximum)s."),
        "amountFull": _("The full balance: %(maximum)s."),
        "phoneRequired": _("Enter the M-Pesa phone number to send the prompt to."),
        "amountRequired": _("Enter an amount in whole shillings."),
        "sendFailed": _("Something went wrong sending the payment request. Nothing was charged; please try again."),
        "offline": _("We couldn't reach Nexus. Check your internet connection and try again. Nothing was charged."),
        "refundLine": _("%(amount)s · %(method)s to %(phone)s"),
        "refundedDone": _("%(total)s has been refunded to %(phones)s."),
        "refundedOpen": _("%(total)s will be refunded to %(phones)s, the phone that paid."),
    }


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
            # What the live panel shows at load, so the first poll does not announce it again.
            "shownPayment": payment_progress(shown) if shown else None,
            "payText": script_text(),
        },
    )
