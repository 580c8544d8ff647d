"""What the booking pages show, worked out in Python so the templates only lay it out.

Figures come from the booking row (kept by the services: amount_paid, balance_due and
amount_in_flight, the money the payments app reports); nothing here changes anything.

The booking page's payment parts (the pay card, the list of payments, the live status the
page's script polls) belong to the payments app, which registers them here at start-up
(MpesaConfig.ready()): reservations never imports it.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from reservations.deadlines import booking_balance_due_by
from reservations.forms import CoGuestAddForm
from reservations.check_in import booking_check_in_details
from reservations.guest_cancellation import guest_cancellation
from reservations.models import Booking
from reservations.services import booking_is_revivable
from reservations.status import booking_min_next_payment

ACTIVE = (Booking.Status.PENDING, Booking.Status.PROCESSING, Booking.Status.CONFIRMED)


@dataclass(frozen=True)
class BookingPagePart:
    """What another app adds to the booking page. `main` templates are included in the main
    column under the guests, `side` ones at the top of the side column; both see the page's
    context plus `context`. `script_config` goes into the page script's config
    (static/js/booking-page.js reads statusUrl and shownPaymentId from it)."""

    context: dict = field(default_factory=dict)
    main: tuple[str, ...] = ()
    side: tuple[str, ...] = ()
    script_config: dict = field(default_factory=dict)


# A part is called as part(request=, booking=, status=, **options) -> BookingPagePart:
# `status` is booking_status_data's dict, `options` what the view passed to
# booking_page_context beyond its own arguments (the payments app's bound pay form).
BookingPagePartProvider = Callable[..., BookingPagePart]
_booking_page_parts: list[BookingPagePartProvider] = []


def booking_page_part_register(part: BookingPagePartProvider) -> None:
    if part not in _booking_page_parts:
        _booking_page_parts.append(part)


def minimum_payment(booking) -> int:
    """The smallest amount the payment service accepts next (reservations.status): the
    property's minimum deposit until it is paid, else 1 shilling. Shown to the guest; the
    service enforces it."""
    return booking_min_next_payment(
        total_price=booking.total_price,
        amount_paid=booking.amount_paid,
        balance_due=booking.balance_due,
        min_deposit_percent=booking.property.min_deposit_percent,
    )


def payment_limits(booking) -> dict:
    """What the pay form may ask for, as the payment service decides it: the balance less
    the money already on its way. A booking that a failed payment just cancelled is
    payable too: paying again puts it back if its nights are still free."""
    in_flight = booking.amount_in_flight
    payable_now = max(booking.balance_due - in_flight, 0)
    retry_after_failure = booking_is_revivable(booking)
    payable = payable_now > 0 and (
        booking.status in (Booking.Status.PENDING, Booking.Status.PROCESSING) or retry_after_failure
    )
    minimum = minimum_payment(booking)
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
            return _("Fully paid. We hope you enjoyed your stay!")
        return _("Fully paid. Your stay is confirmed. See you soon!")
    if booking.status == Booking.Status.PROCESSING:
        due_by = booking_balance_due_by(check_in=booking.check_in, booking_date=booking.booking_date)
        return _(
            "Deposit received. KES %(balance)s is still to pay by %(due_by)s; unpaid by then, the booking is cancelled."
        ) % {"balance": f"{booking.balance_due:,}",
             "due_by": formats.date_format(due_by, "d M Y, H:i")}
    if booking.status == Booking.Status.PENDING:
        seconds = hold_seconds_left(booking)
        if seconds == 0:
            return _("Your hold on these dates has run out. If nobody else has booked them, a payment "
                     "still secures them; otherwise the booking will be cancelled.")
        if booking.property.min_deposit_percent >= 100:
            return _("Not paid yet. Pay the full amount to secure these dates.")
        return _("Not paid yet. Pay a deposit or the full amount to secure these dates.")
    return cancel_explanation(booking)


def cancel_explanation(booking) -> str:
    reason = (booking.cancel_reason or "").lower()
    if "hold" in reason or "expire" in reason:
        why = _("The %(minutes)s-minute hold ran out before a payment came through, so the dates were released.") % {
            "minutes": settings.BOOKING_HOLD_MINUTES}
    elif "payment" in reason or "fail" in reason:
        why = _("The payment didn't go through and nothing had been paid, so the booking was cancelled and the dates released.")
    elif "guest" in reason:
        why = _("You cancelled this booking and the dates were released.")
    elif booking.cancel_reason:
        why = _("This booking was cancelled: %(reason)s.") % {"reason": booking.cancel_reason}
    else:
        why = _("This booking was cancelled and the dates were released.")
    return why + " " + _("If the dates are still free you can book them again.")


def retry_explanation() -> str:
    return _("The payment didn't go through, so these dates are no longer held for you. Pay now to try "
             "again: if nobody has booked them meanwhile, your booking comes straight back.")


def display_phone(e164: str) -> str:
    """+254712345678 -> 0712 345 678, the way Kenyans write a number."""
    if e164.startswith("+254") and len(e164) == 13:
        national = "0" + e164[4:]
        return f"{national[:4]} {national[4:7]} {national[7:]}"
    return e164


def booking_check_in_html(*, request, booking) -> str:
    """The check-in section of a CONFIRMED booking's page, "" for any other (reservations.check_in):
    the page shows it at load, and its script asks for it when a payment confirms the booking."""
    details = booking_check_in_details(booking=booking)
    if details is None:
        return ""
    return render_to_string(
        "reservations/includes/check_in.html",
        {"check_in": details, "check_in_phone_display": display_phone(details.host_phone), "property_page": booking.property},
        request=request,
    )


def booking_status_data(booking) -> dict:
    """The booking's figures for the page and for the live status its script polls."""
    limits = payment_limits(booking)
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


def booking_page_context(*, request, booking, guest_form=None, **part_options) -> dict:
    """The booking page. `part_options` are handed on to the registered parts (the payments
    app's booking_pay passes its bound form as payment_form=)."""
    guests = list(booking.guests.all())
    status = booking_status_data(booking)
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
    property_page = booking.property
    # The "Cancel this booking" button and the refund its confirmation shows (the dialog
    # asks again when opened: a payment may land while the page is open).
    cancellation = guest_cancellation(booking) if is_primary else None
    rebook_query = f"?check_in={booking.check_in:%Y-%m-%d}&check_out={booking.check_out:%Y-%m-%d}&guests={booking.party_size}"
    context = {
        "booking": booking,
        "property_page": property_page,
        "rebook_query": rebook_query,
        "guests": guests,
        "is_primary": is_primary,
        "can_add_guests": can_add_guests,
        "can_remove_guests": can_remove_guests,
        "party_full": len(guests) >= property_page.max_guests,
        "guest_form": guest_form or CoGuestAddForm(prefix="add"),
        "cancellation": cancellation,
        "can_cancel": bool(cancellation and cancellation.allowed),
        "policy_text": property_page.get_cancellation_policy_display(),
        "status": status,
        "check_in_html": booking_check_in_html(request=request, booking=booking),
        "main_parts": [],
        "side_parts": [],
        "page_config": {
            "bookingId": booking.pk,
            "holdSecondsLeft": status["hold_seconds_left"],
            "status": booking.status,
            "amountPaid": booking.amount_paid,
            "cancellationUrl": reverse("booking-cancellation", args=[booking.pk]),
            "text": {
                "statusSummary": _("Booking status: %(status)s. Paid %(paid)s, balance %(balance)s."),
                "cancelRefused": _("This booking can't be cancelled right now."),
                "cancelYes": _("Yes, cancel"),
                "cancelYesRefund": _("Yes, cancel and refund %(amount)s"),
            },
        },
    }
    for provider in _booking_page_parts:
        part = provider(request=request, booking=booking, status=status, **part_options)
        context.update(part.context)
        context["main_parts"].extend(part.main)
        context["side_parts"].extend(part.side)
        context["page_config"].update(part.script_config)
    return context


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
