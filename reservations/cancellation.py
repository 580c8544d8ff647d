"""What cancelling a booking gives back: the listing's cancellation policy, as pure functions.

The rules (docs/money-out.md):

- flexible: everything paid comes back until 24 hours before check-in, nothing after;
- moderate: everything until 5 days before check-in, half after;
- strict: half until 7 days before check-in, nothing after.

"Before check-in" counts from check-in at CHECK_IN_TIME, Nairobi time; a cancellation at the
exact limit still gets the better refund. A half is rounded up to the shilling, in the
guest's favour. Cancellations by the owner or staff give everything back whatever the
policy; so does a cancellation before anything was paid (there is nothing to keep).
The payments app turns the amount into refunds (mpesa.refunds_out); nothing here queries.
"""

import dataclasses
import datetime as dt

from django.utils import timezone

from listings.models import PropertyPage
from reservations.deadlines import check_in_at

Policy = PropertyPage.CancellationPolicy

# (time before check-in, percent refunded while at least that much time is left, percent after)
POLICY_RULES: dict[str, tuple[dt.timedelta, int, int]] = {
    Policy.FLEXIBLE: (dt.timedelta(hours=24), 100, 0),
    Policy.MODERATE: (dt.timedelta(days=5), 100, 50),
    Policy.STRICT: (dt.timedelta(days=7), 50, 0),
}
# Who cancelled, as reservations.models.Booking.CancelKind values: everything goes back to the
# guest when the business cancels.
FULL_REFUND_KINDS = frozenset({"owner", "staff"})


@dataclasses.dataclass(frozen=True)
class CancellationTerms:
    policy: str
    paid: int  # what the booking holds now
    percent: int  # of `paid` that goes back
    refund_amount: int
    kept: int  # paid - refund_amount: the owner's share of it is paid out at check-in
    changes_at: dt.datetime | None  # when the percent drops next (None: it will not)
    explanation: str

    def as_dict(self) -> dict:
        return {
            "policy": self.policy,
            "amount_paid": self.paid,
            "refund_percent": self.percent,
            "refund_amount": self.refund_amount,
            "kept_amount": self.kept,
            "refund_drops_at": timezone.localtime(self.changes_at).isoformat() if self.changes_at else None,
            "explanation": self.explanation,
        }


def _percent_of(amount: int, percent: int) -> int:
    """percent % of amount in whole shillings, rounded up (integer arithmetic, no float)."""
    return -(-amount * percent // 100)


def _kes(amount: int) -> str:
    return f"KES {amount:,}"


def _when(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%H:%M on %-d %b %Y}"


def cancellation_terms(
    *, policy: str, check_in: dt.date, paid: int, at: dt.datetime | None = None, kind: str = "guest"
) -> CancellationTerms:
    """What a cancellation at `at` (default now) by `kind` refunds of `paid` under `policy`."""
    at = at or timezone.now()
    policy = policy if policy in POLICY_RULES else Policy.MODERATE
    label = Policy(policy).label.split(":")[0]
    if paid <= 0:
        return CancellationTerms(policy, 0, 100, 0, 0, None, "Nothing has been paid, so there is nothing to refund.")
    if kind in FULL_REFUND_KINDS:
        return CancellationTerms(
            policy,
            paid,
            100,
            paid,
            0,
            None,
            f"The booking is cancelled by the host or by Nexus, so all {_kes(paid)} paid goes back to the "
            "phone that paid.",
        )
    before, percent_before, percent_after = POLICY_RULES[policy]
    arrival = check_in_at(check_in)
    limit = arrival - before
    early = at <= limit
    percent = percent_before if early else percent_after
    refund = _percent_of(paid, percent)
    hours = int(before.total_seconds() // 3600)
    span = f"{hours} hours" if hours < 48 else f"{hours // 24} days"
    if early:
        timing = f"you cancel at least {span} before check-in ({_when(arrival)})"
    else:
        timing = f"you cancel less than {span} before check-in ({_when(arrival)})"
    if refund == paid:
        outcome = f"all {_kes(paid)} paid goes back to the phone that paid"
    elif refund == 0:
        outcome = f"the {_kes(paid)} paid is not refunded"
    else:
        outcome = f"{percent} % of the {_kes(paid)} paid, {_kes(refund)}, goes back to the phone that paid"
    explanation = f"{label} policy: {timing}, so {outcome}."
    if early and percent_after != percent_before:
        after = "nothing would be refunded" if percent_after == 0 else f"the refund would be {percent_after} %"
        explanation += f" After {_when(limit)} {after}."
    return CancellationTerms(
        policy, paid, percent, refund, paid - refund, limit if early and percent_after != percent_before else None,
        explanation,
    )


def booking_cancellation_terms(*, booking, policy: str, at: dt.datetime | None = None, kind: str = "guest"):
    """cancellation_terms for a booking: the money it holds now (amount_paid)."""
    return cancellation_terms(policy=policy, check_in=booking.check_in, paid=booking.amount_paid, at=at, kind=kind)
