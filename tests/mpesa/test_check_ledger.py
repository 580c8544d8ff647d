"""manage.py check_ledger (mpesa/ledger.py): green after refunds and payouts, red when a row is tampered with."""

import datetime as dt
import json
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from listings.site_setup import ensure_site_tree
from mpesa.ledger import ledger_check, ledger_report
from mpesa.models import CallbackRecord, Payment, Payout, Refund
from mpesa.payouts import payout_commission, payout_due_at, payouts_release_due
from mpesa.transfers import new_originator_conversation_id
from reservations.models import Booking
from reservations.services import booking_cancel
from tests.factories import (
    OwnerFactory,
    future_date,
    make_booking,
    make_payment,
    make_property,
    recompute_booking_money,
    start_payment,
)
from tests.mpesa.conftest import wait_for_status
from tests.processes import wait_until


def result_body(originator: str, amount: int, receipt: str) -> dict:
    """A B2C result as Daraja posts it (docs/daraja.md)."""
    return {"Result": {
        "ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
        "OriginatorConversationID": originator, "ConversationID": f"AG_20261130_{uuid.uuid4().hex[:20]}",
        "TransactionID": receipt,
        "ResultParameters": {"ResultParameter": [
            {"Key": "TransactionAmount", "Value": amount},
            {"Key": "TransactionReceipt", "Value": receipt},
            {"Key": "TransactionCompletedDateTime", "Value": "30.11.2026 10:15:00"},
        ]},
    }}


def stk_callback(payment: Payment) -> CallbackRecord:
    """The applied STK callback that credited `payment` (the callback ledger)."""
    body = {"Body": {"stkCallback": {
        "MerchantRequestID": payment.merchant_request_id, "CheckoutRequestID": payment.checkout_request_id,
        "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": [
            {"Name": "Amount", "Value": payment.received_amount},
            {"Name": "MpesaReceiptNumber", "Value": payment.mpesa_receipt_number},
            {"Name": "PhoneNumber", "Value": int(payment.phone_number)},
        ]},
    }}}
    Payment.objects.filter(pk=payment.pk).update(raw_callback=body)
    return CallbackRecord.objects.create(
        kind=CallbackRecord.Kind.STK, dedupe_key=f"STK:{payment.checkout_request_id}:0:{payment.mpesa_receipt_number}",
        raw_body=json.dumps(body), checkout_request_id=payment.checkout_request_id, result_code="0",
        receipt=payment.mpesa_receipt_number, amount=payment.received_amount, phone_number=payment.phone_number,
        state=CallbackRecord.State.APPLIED, applied_at=timezone.now(), payment=payment,
    )


def settled_transfer(model, *, via_record: bool, **fields):
    """A SUCCESS refund or payout with the result that settled it (raw_result, and a ledger row)."""
    kind = "refund" if model is Refund else "payout"
    originator = new_originator_conversation_id(kind)
    receipt = f"U{uuid.uuid4().hex[:9].upper()}"
    body = result_body(originator, fields["amount"], receipt)
    transfer = model.objects.create(
        status="SUCCESS", originator_conversation_id=originator, conversation_id=body["Result"]["ConversationID"],
        mpesa_transaction_id=receipt, result_code="0", raw_result=body, sent_at=timezone.now(),
        completed_at=timezone.now(), **fields,
    )
    if via_record:
        CallbackRecord.objects.create(
            kind=CallbackRecord.Kind.RESULT, dedupe_key=f"RESULT:{originator}:0:{receipt}", raw_body=json.dumps(body),
            conversation_id=body["Result"]["ConversationID"], originator_conversation_id=originator, result_code="0",
            receipt=receipt, amount=fields["amount"], state=CallbackRecord.State.APPLIED, applied_at=timezone.now(),
            **{kind: transfer},
        )
    return transfer


def payout_for(booking, gross: int, **fields) -> Payout:
    commission = payout_commission(gross)
    return settled_transfer(
        Payout, booking=booking, owner=booking.property.owner, gross=gross, commission=commission,
        commission_percent=10,
        amount=gross - commission, method="b2c", phone_number="254711000111",
        due_at=payout_due_at(booking.check_in), **fields,
    )


@pytest.fixture
def ledger(db):
    """A stay paid in two parts and paid out; a late cancellation half refunded with the owner's share paid
    out; an early one fully refunded by Reversal; a stay still to be paid out."""
    owner = OwnerFactory(payout_phone_number="254711000111")
    past = timezone.localdate() - dt.timedelta(days=3)

    stay = make_booking(property=make_property(owner=owner, price_per_night=5000), check_in=past, nights=2)
    deposit = make_payment(booking=stay, amount=4000)
    rest = make_payment(booking=stay, amount=6000)
    stk_callback(deposit)
    stk_callback(rest)
    recompute_booking_money(stay.pk)
    stay_payout = payout_for(stay, 10000, via_record=True)

    late = make_booking(property=make_property(owner=owner, price_per_night=3000), check_in=past, nights=2)
    late_payment = make_payment(booking=late, amount=6000)
    stk_callback(late_payment)
    Booking.objects.filter(pk=late.pk).update(status="CANCELED", cancel_kind="guest")
    late_refund = settled_transfer(
        Refund, via_record=True, booking=late, payment=late_payment, amount=3000, method="b2c",
        phone_number=late_payment.phone_number, reason="Cancelled by the guest",
    )
    recompute_booking_money(late.pk)
    late_payout = payout_for(late, 3000, via_record=False)  # settled by Transaction Status: no RESULT row

    early = make_booking(property=make_property(owner=owner), check_in=past + dt.timedelta(days=30), nights=1)
    early_payment = make_payment(booking=early, amount=5000)
    Booking.objects.filter(pk=early.pk).update(status="CANCELED", cancel_kind="guest")
    settled_transfer(Refund, via_record=True, booking=early, payment=early_payment, amount=5000, method="reversal",
                     phone_number=early_payment.phone_number, reason="Cancelled by the guest")
    recompute_booking_money(early.pk)

    upcoming = make_booking(property=make_property(owner=owner), check_in=past + dt.timedelta(days=40), nights=1)
    make_payment(booking=upcoming, amount=5000)
    recompute_booking_money(upcoming.pk)
    return {"stay": stay, "deposit": deposit, "stay_payout": stay_payout, "late": late, "late_refund": late_refund,
            "late_payout": late_payout, "early": early, "upcoming": upcoming}


def test_check_ledger_is_green_after_refunds_and_payouts(ledger, capsys):
    report = ledger_report()
    assert report.problems == []
    figures = {f.booking_id: f for f in report.bookings}
    stay, late, early = figures[ledger["stay"].pk], figures[ledger["late"].pk], figures[ledger["early"].pk]
    assert (stay.money_in, stay.refunds_sent, stay.commission, stay.payouts_sent, stay.held) == (10000, 0, 1000, 9000, 0)
    assert (late.money_in, late.refunds_sent, late.commission, late.payouts_sent, late.held) == (6000, 3000, 300, 2700, 0)
    assert (early.money_in, early.refunds_sent, early.held) == (5000, 5000, 0)
    assert figures[ledger["upcoming"].pk].held == 5000
    call_command("check_ledger")
    out = capsys.readouterr().out
    assert "Ledger OK: 4 bookings with money: money in KES 26,000 = refunds sent KES 8,000 + commission KES 1,300" in out
    assert "payouts sent KES 11,700 + still held KES 5,000" in out


def test_a_later_change_of_the_commission_rate_does_not_turn_old_payouts_red(ledger, settings):
    settings.PLATFORM_COMMISSION_PERCENT = 12
    assert ledger_check() == []
    Payout.objects.filter(pk=ledger["stay_payout"].pk).update(commission_percent=12)
    assert [p.code for p in ledger_check()] == ["payout_commission"]


def _assert_red(code: str, capsys) -> str:
    with pytest.raises(CommandError, match="Ledger check failed"):
        call_command("check_ledger")
    out = capsys.readouterr().out
    assert code in out, out
    return out


def test_a_tampered_refund_amount_shows(ledger, capsys):
    Refund.objects.filter(pk=ledger["late_refund"].pk).update(amount=2000)
    out = _assert_red("transfer_amount", capsys)
    assert f"refund {ledger['late_refund'].pk} amount 2000 but its result says [3000]" in out


def test_a_tampered_payment_received_amount_shows(ledger, capsys):
    Payment.objects.filter(pk=ledger["deposit"].pk).update(received_amount=5000)
    out = _assert_red("payment_amount", capsys)
    assert f"payment {ledger['deposit'].pk} received_amount 5000 but its callback says [4000]" in out
    assert out.count("\n") == 1, "one line per problem"


def test_a_tampered_payout_commission_shows(ledger, capsys):
    payout = ledger["late_payout"]  # no RESULT row: only raw_result and the commission rule catch it
    Payout.objects.filter(pk=payout.pk).update(commission=200, amount=2800)
    out = _assert_red("payout_commission", capsys)
    assert f"payout {payout.pk}: commission 200, 300 is due on 3000" in out
    assert f"payout {payout.pk} amount 2800 but its result says [2700]" in out


def test_a_tampered_booking_amount_paid_shows(ledger, capsys):
    Booking.objects.filter(pk=ledger["upcoming"].pk).update(amount_paid=4000)
    out = _assert_red("amount_paid", capsys)
    assert f"booking {ledger['upcoming'].reference} (id {ledger['upcoming'].pk}): amount_paid: amount_paid 4000" in out


def test_a_booking_paid_out_twice_shows(ledger):
    # What a payout given up, retried, and then completed after all leaves behind: both rows
    # SUCCESS (the open-payout constraint does not stop the record of money that went out).
    stay = ledger["stay"]
    Payout.objects.filter(pk=ledger["stay_payout"].pk).update(status="FAILED")
    retry = payout_for(stay, 10000, via_record=True, retry_of=ledger["stay_payout"])
    Payout.objects.filter(pk=ledger["stay_payout"].pk).update(status="SUCCESS")
    assert retry.status == "SUCCESS"
    codes = {problem.code for problem in ledger_check() if problem.booking_id == stay.pk}
    assert "paid_out_twice" in codes, codes


def test_a_payout_beyond_what_the_booking_holds_shows(ledger):
    payout_for(ledger["upcoming"], 6000, via_record=True)
    problems = [problem for problem in ledger_check() if problem.booking_id == ledger["upcoming"].pk]
    assert {problem.code for problem in problems} == {"paid_out_beyond_held", "negative_held"}, problems


def test_a_refund_beyond_the_payment_shows(ledger):
    late = ledger["late"]
    settled_transfer(Refund, via_record=False, booking=late, payment=ledger["late_refund"].payment, amount=3500,
                     method="b2c", phone_number="254712345678", reason="again")
    codes = {problem.code for problem in ledger_check()}
    assert {"over_refunded", "negative_held", "amount_paid"} <= codes


# --- Over the simulator: real payments, refunds (Reversal and B2C) and payouts, then the check ------------------


def _pay(simulator, booking, phone: str) -> Payment:
    payment = start_payment(booking_id=booking.pk, user=booking.primary_guest, phone_number=phone,
                            amount=booking.total_price)
    payment.refresh_from_db()
    simulator.respond(payment.checkout_request_id, "pay")
    return wait_for_status(payment.pk, "SUCCESS")


def _settled(model, **filters):
    return wait_until(
        lambda: (rows := list(model.objects.filter(**filters))) and all(r.status in ("SUCCESS", "FAILED") for r in rows)
        and rows,
        timeout=30, message=f"{model.__name__} rows to settle",
    )


@pytest.mark.django_db(transaction=True)
def test_check_ledger_is_green_after_real_refunds_and_payouts_on_the_simulator(simulator, capsys):
    ensure_site_tree()
    owner = OwnerFactory(payout_phone_number="254711000222")
    prop = make_property(owner=owner, price_per_night=3000, cancellation_policy="moderate")
    early = make_booking(property=prop, check_in=future_date(30), nights=2)  # cancelled early: all back
    late = make_booking(property=prop, check_in=future_date(3), nights=2)  # cancelled late: half back
    stay = make_booking(property=prop, check_in=future_date(10), nights=2)  # stayed
    for n, booking in enumerate((early, late, stay)):
        _pay(simulator, booking, f"07120000{n:02d}")
    booking_cancel(booking_id=early.pk, actor=early.primary_guest)
    booking_cancel(booking_id=late.pk, actor=late.primary_guest)
    refunds = _settled(Refund, booking__in=[early, late])
    assert sorted((r.booking_id, r.method, r.amount, r.status) for r in refunds) == sorted(
        [(early.pk, "reversal", 6000, "SUCCESS"), (late.pk, "b2c", 3000, "SUCCESS")]
    )
    # Both stays' payouts are due once the later check-in is a day past.
    assert payouts_release_due(now=payout_due_at(stay.check_in)) == 2
    payouts = _settled(Payout, booking__in=[late, stay])
    assert sorted((p.booking_id, p.gross, p.commission, p.amount, p.status) for p in payouts) == sorted(
        [(late.pk, 3000, 300, 2700, "SUCCESS"), (stay.pk, 6000, 600, 5400, "SUCCESS")]
    )
    assert not Payout.objects.filter(booking=early).exists()
    capsys.readouterr()
    call_command("check_ledger")
    assert capsys.readouterr().out.strip() == (
        "Ledger OK: 3 bookings with money: money in KES 18,000 = refunds sent KES 9,000 + commission KES 900 + "
        "payouts sent KES 8,100 + still held KES 0"
    )
    # ...and red as soon as a settled amount is edited by hand.
    Payout.objects.filter(booking=stay).update(amount=5300, commission=700)
    with pytest.raises(CommandError):
        call_command("check_ledger")
