"""A booking's money and status: pure functions, no queries.

The payments app reads its rows into a BookingMoney (booking_money) and hands it to
reservations.services.booking_money_changed, which stores what booking_status_derive says;
nothing else decides a booking's amount_paid, balance or status.
"""

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, NamedTuple

PENDING, PROCESSING, CONFIRMED, CANCELED = "PENDING", "PROCESSING", "CONFIRMED", "CANCELED"
IN_FLIGHT = ("QUEUED", "PENDING")  # payment statuses: asked for, not settled


class PaymentRow(NamedTuple):
    """What the money rules need of one Payment row (mpesa.models.Payment)."""

    pk: int
    kind: str  # PAYMENT | REFUND
    status: str
    amount: int  # asked for (PAYMENT) or sent back (REFUND)
    received_amount: int | None  # what the success reported (PAYMENT)
    refund_of_id: int | None
    flagged: bool


@dataclass(frozen=True)
class BookingMoney:
    """credited: what successful payments count toward the booking, each at most what it
    asked for; refunded: how much of that refunds took back; disputed: a success reported
    another amount than was asked and staff have not resolved its flag yet."""

    credited: int = 0
    refunded: int = 0
    disputed: bool = False
    in_flight: int = 0  # asked for by payments not settled yet

    @property
    def held(self) -> int:
        return max(self.credited - self.refunded, 0)


def booking_money(rows: Iterable[PaymentRow]) -> BookingMoney:
    """A success credits min(asked, received - refunded of it): a callback reporting more
    than was asked never adds money the booking did not ask for (the surplus is the guest's,
    refunded by staff, and refunding it does not lower the credit), and an under-payment
    counts what arrived. A refund not tied to a payment comes off the total."""
    rows = list(rows)
    refunded_of: dict[int, int] = defaultdict(int)
    loose_refunds = 0
    for row in rows:
        if row.kind == "REFUND" and row.status == "SUCCESS":
            if row.refund_of_id is None:
                loose_refunds += row.amount
            else:
                refunded_of[row.refund_of_id] += row.amount
    gross = net = 0
    disputed = False
    for row in rows:
        if row.kind != "PAYMENT" or row.status != "SUCCESS":
            continue
        received = row.received_amount if row.received_amount is not None else row.amount
        gross += min(row.amount, received)
        net += min(row.amount, max(received - refunded_of[row.pk], 0))
        if received != row.amount and row.flagged:
            disputed = True
    in_flight = sum(row.amount for row in rows if row.kind == "PAYMENT" and row.status in IN_FLIGHT)
    return BookingMoney(
        credited=gross, refunded=gross - net + loose_refunds, disputed=disputed, in_flight=in_flight
    )


def booking_status_derive(
    *, total_price: int, paid: int, refunded: int, canceled: bool, amount_disputed: bool = False
) -> str:
    """The status a booking must have, from what it was paid and refunded and whether it
    was cancelled (docs/booking-rules.md):

    - cancelled stays CANCELED (reviving one is booking_reactivate's decision, not this);
    - held (paid - refunded) >= total: CONFIRMED, but PROCESSING while a success's amount
      is disputed (it differs from what was asked) until staff resolve the flag;
    - 0 < held < total: PROCESSING, so the guest can pay the rest;
    - nothing held and nothing ever refunded: PENDING (not paid yet);
    - nothing held because everything paid was refunded: CANCELED. Only staff record
      refunds; sending every shilling back is the decision that the stay is off, and a
      CONFIRMED (or PROCESSING) booking holding nothing would keep its dates for free.
    """
    if canceled:
        return CANCELED
    held = max(paid - refunded, 0)
    if held >= total_price:
        return PROCESSING if amount_disputed else CONFIRMED
    if held > 0:
        return PROCESSING
    if refunded > 0:
        return CANCELED
    return PENDING


def booking_min_first_payment(*, total_price: int, min_deposit_percent: int | None) -> int:
    """The smallest first payment: the listing's deposit percent of the total, rounded up to
    whole shillings (M-Pesa takes no cents)."""
    if not min_deposit_percent:
        return 1
    # Integer ceiling division: money never goes through a float.
    return max(-(-total_price * min_deposit_percent // 100), 1)


def booking_min_next_payment(
    *, total_price: int, amount_paid: int, balance_due: int, min_deposit_percent: int | None
) -> int:
    """The smallest payment the service accepts next: until the deposit is actually held,
    whatever brings the booking up to it (payments still in flight do not count: one could
    fail and leave a token amount holding the dates), capped at the balance; then 1."""
    first = booking_min_first_payment(total_price=total_price, min_deposit_percent=min_deposit_percent)
    if amount_paid >= first:
        return 1
    return max(min(first - amount_paid, balance_due), 1)
