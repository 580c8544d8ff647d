"""What the booking pages show, worked out in Python so the templates only lay it out.

Figures come from the booking row (kept by the services) and the payment rows;
nothing here changes anything.
"""

import datetime as dt

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from mpesa.selectors import payment_list_for_booking
from reservations.forms import CoGuestAddForm, PaymentForm
from reservations.deadlines import booking_balance_due_by
from reservations.services import booking_is_revivable
from reservations.status import booking_min_next_payment
from reservations.models import Booking

ACTIVE = (Booking.Status.PENDING, Booking.Status.PROCESSING, Booking.Status.CONFIRMED)

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


def _payments(booking) -> list:
    return list(payment_list_for_booking(booking=booking))


def minimum_payment(booking, *, payments) -> int:
    """The smallest amount the payment service accepts next (reservations.status): the
    property's minimum deposit until it is paid, else 1 shilling. Shown to the guest; the
    service enforces it."""
    return booking_min_next_payment(
        total_price=booking.total_price,
        amount_paid=booking.amount_paid,
        balance_due=booking.balance_due,
        min_deposit_percent=booking.property.min_deposit_percent,
    )


def payment_limits(booking, *, payments) -> dict:
    """What the pay form may ask for. A booking that a failed payment just cancelled is
    payable too: paying again puts it back if its nights are still free."""
    in_flight = sum(p.amount for p in payments if p.in_flight)
    payable_now = max(booking.balance_due - in_flight, 0)
    retry_after_failure = booking_is_revivable(booking)
    payable = payable_now > 0 and (
        booking.status in (Booking.Status.PENDING, Booking.Status.PROCESSING) or retry_after_failure
    )
    minimum = minimum_payment(booking, payments=payments)
    return {
        "payable": payable,
        "retry_after_failure": retry_after_failure,
        "max_payable": payable_now,
        "min_payable": min(minimum, payable_now) if payable_now else 0,
        "in_flight_amount": in_flight,
        # A deposit is offered when the property asks for one and it is less than the whole balance.
        "deposit_amount": minimum if booking.property.min_deposit_percent and 1 < minimum < payable_now else None,
    }


def hold_seconds_left(booking) -> int | None:
    if booking.status != Booking.Status.PENDING or not booking.hold_expires_at:
        return None
    return max(int((booking.hold_expires_at - timezone.now()).total_seconds()), 0)


def status_notice(booking) -> str:
    """A sentence under the status badge saying what happens next."""
    if booking.status == Booking.Status.CONFIRMED:
        if booking.check_out <= timezone.localdate():
            return "Fully paid. We hope you enjoyed your stay!"
        return "Fully paid. Your stay is confirmed. See you soon!"
    if booking.status == Booking.Status.PROCESSING:
        due_by = booking_balance_due_by(check_in=booking.check_in, booking_date=booking.booking_date)
        return (
            f"Deposit received. KES {booking.balance_due:,} is still to pay by {due_by:%d %b %Y, %H:%M}; "
            "unpaid by then, the booking is cancelled."
        )
    if booking.status == Booking.Status.PENDING:
        seconds = hold_seconds_left(booking)
        if seconds == 0:
            return ("Your hold on these dates has run out. If nobody else has booked them, a payment "
                    "still secures them; otherwise the booking will be cancelled.")
        return "Not paid yet. Pay a deposit or the full amount to secure these dates."
    return cancel_explanation(booking)


def cancel_explanation(booking) -> str:
    reason = (booking.cancel_reason or "").lower()
    if "hold" in reason or "expire" in reason:
        why = (f"The {settings.BOOKING_HOLD_MINUTES}-minute hold ran out before a payment came through, "
               "so the dates were released.")
    elif "payment" in reason or "fail" in reason:
        why = "The payment didn't go through and nothing had been paid, so the booking was cancelled and the dates released."
    elif "guest" in reason:
        why = "You cancelled this booking and the dates were released."
    elif booking.cancel_reason:
        why = f"This booking was cancelled: {booking.cancel_reason}."
    else:
        why = "This booking was cancelled and the dates were released."
    return why + " If the dates are still free you can book them again."


def retry_explanation() -> str:
    return ("The payment didn't go through, so these dates are no longer held for you. Pay now to try "
            "again: if nobody has booked them meanwhile, your booking comes straight back.")


def booking_status_data(booking, *, payments=None) -> dict:
    payments = _payments(booking) if payments is None else payments
    limits = payment_limits(booking, payments=payments)
    return {
        "id": booking.pk,
        "status": booking.status,
        "status_label": booking.get_status_display(),
        "total_price": booking.total_price,
        "amount_paid": booking.amount_paid,
        "balance_due": booking.balance_due,
        "hold_seconds_left": hold_seconds_left(booking),
        **limits,
        "notice": retry_explanation() if limits["retry_after_failure"] else status_notice(booking),
    }


def booking_page_context(*, request, booking, shown_payment_id=None, guest_form=None, payment_form=None) -> dict:
    guests = list(booking.guests.all())
    payments = _payments(booking)
    status = booking_status_data(booking, payments=payments)
    is_primary = booking.primary_guest_id == request.user.pk
    for guest in guests:
        # As in the API: the booker sees everyone's contact details, other guests names only.
        guest.show_contact = is_primary or guest.user_id == request.user.pk
    # Mirrors the services' rules so the page offers only what they will accept:
    # co-guests can join an active booking, and leave it only before any payment.
    can_add_guests = is_primary and booking.status in ACTIVE and booking.check_out > timezone.localdate()
    can_remove_guests = (
        is_primary and booking.status == Booking.Status.PENDING and booking.amount_paid == 0
        and not status["in_flight_amount"]
    )
    shown = None
    if shown_payment_id:
        shown = next((p for p in payments if str(p.pk) == str(shown_payment_id)), None)
    if shown is None:
        shown = next((p for p in payments if p.in_flight), None)
    if payment_form is None:
        default_amount = status["max_payable"]
        payment_form = PaymentForm(initial={"phone_number": national_phone(request.user.phone_number), "amount": default_amount})
    payment_form.fields["amount"].widget.attrs.update({"min": status["min_payable"] or 1, "max": status["max_payable"] or 1})
    property_page = booking.property
    rebook_query = f"?check_in={booking.check_in:%Y-%m-%d}&check_out={booking.check_out:%Y-%m-%d}&guests={booking.party_size}"
    return {
        "booking": booking,
        "property_page": property_page,
        "rebook_query": rebook_query,
        "guests": guests,
        "is_primary": is_primary,
        "can_add_guests": can_add_guests,
        "can_remove_guests": can_remove_guests,
        "party_full": len(guests) >= property_page.max_guests,
        "guest_form": guest_form or CoGuestAddForm(prefix="add"),
        "payments": [(p, payment_progress(p)) for p in payments if p.kind == p.Kind.PAYMENT],
        "status": status,
        "payment_form": payment_form,
        "shown_payment": payment_progress(shown) if shown else None,
        "page_config": {
            "bookingId": booking.pk,
            "statusUrl": reverse("reservations:booking_status", args=[booking.pk]),
            "holdSecondsLeft": status["hold_seconds_left"],
            "shownPaymentId": shown.pk if shown and shown.in_flight else None,
            "status": booking.status,
        },
    }


def my_bookings_context(*, bookings, today: dt.date) -> dict:
    """Upcoming stays (soonest first) and past or cancelled ones (latest first)."""
    upcoming, past = [], []
    for booking in bookings:
        booking.pay_rest = booking.status in (Booking.Status.PENDING, Booking.Status.PROCESSING) and booking.balance_due > 0
        if booking.check_out > today and booking.status in ACTIVE:
            upcoming.append(booking)
        else:
            past.append(booking)
    upcoming.sort(key=lambda b: (b.check_in, b.pk))
    return {"upcoming": upcoming, "past": past}
