"""The credit score: a 0-100 trust score kept from a guest's history (docs/booking-rules.md).

Everyone starts at 50. The rule, applied by the services where each event happens:

| event                                              | change |
| -------------------------------------------------- | ------ |
| a booking becomes fully paid (CONFIRMED)            | +5     |
| a payment fails for a reason on the payer's side    | -2     |
|   (cancelled prompt, wrong PIN, no answer, low balance) |    |
| an unpaid hold expires (booking abandoned)          | -3     |
| a booking that already held money is cancelled      | -10    |

Failures on Daraja's or our side (timeouts of the API, 5xx) never cost the guest.
The score is clamped to 0..100 by the database constraint and by this function.
"""

from django.db.models import F, Value
from django.db.models.functions import Greatest, Least

from accounts.models import CREDIT_SCORE_MAX, CREDIT_SCORE_MIN, User

BOOKING_FULLY_PAID = 5
PAYMENT_FAILED_BY_PAYER = -2
HOLD_ABANDONED = -3
CANCELED_AFTER_PAYING = -10

# Daraja ResultCodes that mean the payer did not complete the payment (docs/daraja.md).
PAYER_SIDE_RESULT_CODES = {"1", "1032", "1037", "2001", "1019", "8006"}


def credit_score_adjust(*, user_id: int, delta: int) -> None:
    """Add `delta` to the score in one UPDATE (no read-modify-write race), clamped to 0..100."""
    User.objects.filter(pk=user_id).update(
        credit_score=Greatest(Value(CREDIT_SCORE_MIN), Least(Value(CREDIT_SCORE_MAX), F("credit_score") + delta))
    )
