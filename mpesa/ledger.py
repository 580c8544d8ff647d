"""The ledger invariant (docs/money-out.md), run by `manage.py check_ledger` and the scale-out test.

Per booking, from the rows:

    money in (received amounts of successful payments)
      = refunds sent (SUCCESS Refund rows + REFUND Payment rows staff recorded)
      + commission (of SUCCESS payouts) + payouts sent (SUCCESS payouts)
      + money still held (>= 0)

and the stored numbers are checked against the raw ledger, so a row edited by hand shows:

- booking.amount_paid = what the rows say it holds (reservations.status.booking_money over the
  payments and the sent refunds, as mpesa.selectors.booking_money_of counts them);
- each SUCCESS payment's received_amount = the amount of the callback applied to it (the
  callback ledger row, else the stored callback body; settled without a callback, e.g. by the
  STK query: the amount asked);
- each SUCCESS refund / payout amount = the amount in the result that settled it (raw_result
  and the RESULT ledger rows applied to it);
- payout gross = amount + commission, commission = payout_commission(gross, its own commission_percent);
- no payment refunded beyond what it brought, no booking paid out twice, nor beyond what it holds.

Reads only; one pass over each table (no query per booking).
"""

import dataclasses
from collections import defaultdict

from django.db.models import Q

from core import safe_json
from mpesa.models import CallbackRecord, Payment, Payout, Refund
from mpesa.payouts import payout_commission
from reservations.models import Booking
from reservations.status import IN_FLIGHT, PaymentRow, booking_money


@dataclasses.dataclass(frozen=True)
class LedgerProblem:
    booking_id: int | None
    reference: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"booking {self.reference or '-'} (id {self.booking_id}): {self.code}: {self.message}"


@dataclasses.dataclass
class BookingFigures:
    booking_id: int
    reference: str
    money_in: int = 0
    refunds_sent: int = 0
    commission: int = 0
    payouts_sent: int = 0

    @property
    def held(self) -> int:
        return self.money_in - self.refunds_sent - self.commission - self.payouts_sent


@dataclasses.dataclass
class LedgerReport:
    bookings: list[BookingFigures]
    problems: list[LedgerProblem]

    def total(self, name: str) -> int:
        return sum(getattr(figures, name) for figures in self.bookings)

    def summary(self) -> str:
        return (
            f"{len(self.bookings)} bookings with money: money in KES {self.total('money_in'):,} = "
            f"refunds sent KES {self.total('refunds_sent'):,} + commission KES {self.total('commission'):,} + "
            f"payouts sent KES {self.total('payouts_sent'):,} + still held KES {self.total('held'):,}"
        )


def _result_amount(body) -> tuple[bool, int | None]:
    """(readable, amount) of a stored Daraja result body (dict or JSON text)."""
    from mpesa.results import ResultInvalid, parse_result

    try:
        if isinstance(body, str):
            body = safe_json.loads(body)
        return True, parse_result(body).amount
    except (ValueError, ResultInvalid):
        return False, None


def _stk_amount(body) -> int | None:
    """The Amount item of a stored STK callback body, if any."""
    try:
        if isinstance(body, str):
            body = safe_json.loads(body)
        items = body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    except (ValueError, KeyError, TypeError):
        return None
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, dict) and item.get("Name") == "Amount" and item.get("Value") is not None:
            try:
                return int(item["Value"])
            except (TypeError, ValueError):
                return None
    return None


def ledger_report() -> LedgerReport:
    problems: list[LedgerProblem] = []
    bookings = {pk: (reference, amount_paid) for pk, reference, amount_paid in Booking.objects.values_list(
        "pk", "reference", "amount_paid"
    )}
    figures: dict[int, BookingFigures] = {}

    def of(booking_id: int) -> BookingFigures:
        if booking_id not in figures:
            figures[booking_id] = BookingFigures(booking_id, bookings.get(booking_id, ("", 0))[0])
        return figures[booking_id]

    def problem(booking_id, code: str, message: str) -> None:
        problems.append(LedgerProblem(booking_id, bookings.get(booking_id, ("", 0))[0], code, message))

    # What each payment's applied callbacks said it brought (the STK callback ledger).
    callback_amounts: dict[int, set[int]] = defaultdict(set)
    for payment_id, amount in CallbackRecord.objects.filter(
        kind=CallbackRecord.Kind.STK,
        state__in=(CallbackRecord.State.APPLIED, CallbackRecord.State.ATTACHED),
        result_code="0",
        payment__isnull=False,
        amount__isnull=False,
    ).values_list("payment_id", "amount"):
        callback_amounts[payment_id].add(amount)
    # The RESULT rows applied to each refund / payout.
    transfer_results: dict[tuple[str, int], list[str]] = defaultdict(list)
    for refund_id, payout_id, raw_body in CallbackRecord.objects.filter(
        Q(refund__isnull=False) | Q(payout__isnull=False),
        kind=CallbackRecord.Kind.RESULT,
        state=CallbackRecord.State.APPLIED,
        result_code="0",
    ).values_list("refund_id", "payout_id", "raw_body"):
        if refund_id is not None:
            transfer_results[("refund", refund_id)].append(raw_body)
        if payout_id is not None:
            transfer_results[("payout", payout_id)].append(raw_body)

    rows: dict[int, list[PaymentRow]] = defaultdict(list)
    received_of: dict[int, int] = {}
    refunded_of: dict[int, int] = defaultdict(int)
    payment_booking: dict[int, int] = {}
    for pk, booking_id, kind, status, amount, received, refund_of_id, flagged, raw_callback in (
        Payment.objects.filter(status__in=("SUCCESS", *IN_FLIGHT))
        .values_list("pk", "booking_id", "kind", "status", "amount", "received_amount", "refund_of_id", "flagged",
                     "raw_callback")
        .order_by("pk")
        .iterator()
    ):
        rows[booking_id].append(PaymentRow(pk, kind, status, amount, received, refund_of_id, flagged))
        if status != "SUCCESS":
            continue
        if kind == Payment.Kind.PAYMENT:
            got = received if received is not None else amount
            payment_booking[pk] = booking_id
            received_of[pk] = got
            of(booking_id).money_in += got
            reported = callback_amounts.get(pk)
            if not reported and raw_callback is not None and _stk_amount(raw_callback) is not None:
                reported = {_stk_amount(raw_callback)}
            if reported:
                if reported != {got}:
                    problem(booking_id, "payment_amount",
                            f"payment {pk} received_amount {got} but its callback says {sorted(reported)}")
            elif got != amount:
                problem(booking_id, "payment_amount",
                        f"payment {pk} received_amount {got} differs from the {amount} asked, with no callback saying so")
        else:
            of(booking_id).refunds_sent += amount
            if refund_of_id is not None:
                refunded_of[refund_of_id] += amount

    for pk, booking_id, payment_id, amount, raw_result in (
        Refund.objects.filter(status=Refund.Status.SUCCESS)
        .values_list("pk", "booking_id", "payment_id", "amount", "raw_result")
        .order_by("pk")
        .iterator()
    ):
        rows[booking_id].append(PaymentRow(-pk, "REFUND", "SUCCESS", amount, None, payment_id, False))
        of(booking_id).refunds_sent += amount
        refunded_of[payment_id] += amount
        _check_result_amount(problem, booking_id, f"refund {pk}", amount, raw_result, transfer_results[("refund", pk)])

    paid_out: dict[int, list[int]] = defaultdict(list)
    gross_paid_out: dict[int, int] = defaultdict(int)
    for pk, booking_id, status, gross, amount, commission, percent, raw_result in (
        Payout.objects.values_list(
            "pk", "booking_id", "status", "gross", "amount", "commission", "commission_percent", "raw_result"
        )
        .order_by("pk")
        .iterator()
    ):
        if gross != amount + commission:
            problem(booking_id, "payout_split", f"payout {pk}: gross {gross} != amount {amount} + commission {commission}")
        if commission != payout_commission(gross, percent):
            problem(booking_id, "payout_commission",
                    f"payout {pk}: commission {commission}, {payout_commission(gross, percent)} is due on {gross}"
                    f" at {percent} %")
        if status != Payout.Status.SUCCESS:
            continue
        paid_out[booking_id].append(pk)
        gross_paid_out[booking_id] += gross
        of(booking_id).commission += commission
        of(booking_id).payouts_sent += amount
        _check_result_amount(problem, booking_id, f"payout {pk}", amount, raw_result, transfer_results[("payout", pk)])

    for payment_id, refunded in refunded_of.items():
        received = received_of.get(payment_id)
        if received is None:
            problem(payment_booking.get(payment_id), "refund_of_unpaid",
                    f"KES {refunded} refunded of payment {payment_id}, which is not a successful payment")
        elif refunded > received:
            problem(payment_booking[payment_id], "over_refunded",
                    f"payment {payment_id}: KES {refunded} refunded of KES {received} received")

    for booking_id, payouts in paid_out.items():
        if len(payouts) > 1:
            problem(booking_id, "paid_out_twice", f"payouts {payouts} all succeeded")

    for booking_id, (reference, amount_paid) in bookings.items():
        derived = booking_money(rows.get(booking_id, [])).held
        if amount_paid != derived:
            problem(booking_id, "amount_paid", f"amount_paid {amount_paid} but its rows hold {derived}")
        if gross_paid_out[booking_id] > derived:
            problem(booking_id, "paid_out_beyond_held",
                    f"KES {gross_paid_out[booking_id]} paid out (with commission) of KES {derived} held")
        if booking_id in figures and figures[booking_id].held < 0:
            f = figures[booking_id]
            problem(booking_id, "negative_held",
                    f"money in {f.money_in} < refunds {f.refunds_sent} + commission {f.commission} + payouts "
                    f"{f.payouts_sent}")
    return LedgerReport(bookings=sorted(figures.values(), key=lambda f: f.booking_id), problems=problems)


def _check_result_amount(problem, booking_id, what: str, amount: int, raw_result, results: list[str]) -> None:
    """A SUCCESS transfer's amount against every stored result that settled it."""
    if raw_result is None and not results:
        problem(booking_id, "no_result", f"{what} is SUCCESS with no result stored")
        return
    reported = set()
    for body in ([raw_result] if raw_result is not None else []) + results:
        _readable, value = _result_amount(body)
        if value is not None:
            reported.add(value)
    if reported and reported != {amount}:
        problem(booking_id, "transfer_amount", f"{what} amount {amount} but its result says {sorted(reported)}")


def ledger_check() -> list[LedgerProblem]:
    """Every difference the ledger shows; [] when all is well."""
    return ledger_report().problems
