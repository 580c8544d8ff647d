"""What a guest who cancels now would get back, and whether they can cancel at all: the one
read behind GET /api/bookings/{id}/cancellation/, the booking page's "Cancel this booking"
button and its confirmation (docs/api.md, docs/money-out.md).

Reads only. The refusals mirror reservations.services.booking_cancel, which decides again
under the booking's row lock, so what is offered here is what the service accepts; the
amount is reservations.cancellation's, the same function the payments app refunds by.
"""

import dataclasses
import datetime as dt

from django.utils import timezone

from reservations.cancellation import CancellationTerms, booking_cancellation_terms
from reservations.deadlines import check_in_at
from reservations.models import Booking

NOT_CANCELLABLE = "booking_not_cancellable"
PAYMENT_IN_FLIGHT = "payment_in_flight"


@dataclasses.dataclass(frozen=True)
class GuestCancellation:
    terms: CancellationTerms
    refusal_code: str | None  # None: the guest may cancel now
    refusal: str  # why not, in words ("" when they may)

    @property
    def allowed(self) -> bool:
        return self.refusal_code is None


def booking_policy(booking: Booking) -> str:
    """The listing's cancellation policy: the booking's rules are its listing's."""
    policy = getattr(booking, "property_cancellation_policy", None)  # a booking booking_create just made
    return policy if policy is not None else booking.property.cancellation_policy


def guest_cancellation_refusal(booking: Booking, *, at: dt.datetime | None = None) -> tuple[str | None, str]:
    """(code, words) for why the guest cannot cancel `booking` now, or (None, "")."""
    at = at or timezone.now()
    if booking.status == Booking.Status.CANCELED:
        return NOT_CANCELLABLE, "This booking is already cancelled."
    if check_in_at(booking.check_in) <= at:
        return NOT_CANCELLABLE, "Check-in time has passed, so the booking can no longer be cancelled here. Contact us."
    if booking.amount_in_flight > 0:
        return PAYMENT_IN_FLIGHT, (
            "A payment for this booking is still on its way. Wait until it lands or fails (a minute or two), "
            "then cancel: the refund depends on it."
        )
    return None, ""


def guest_cancellation(booking: Booking, *, at: dt.datetime | None = None) -> GuestCancellation:
    """The terms of a guest's cancellation of `booking` at `at` (default now)."""
    at = at or timezone.now()
    terms = booking_cancellation_terms(booking=booking, policy=booking_policy(booking), at=at, kind="guest")
    code, words = guest_cancellation_refusal(booking, at=at)
    return GuestCancellation(terms=terms, refusal_code=code, refusal=words)
