"""Refunds end to end over real HTTP: a guest pays through the simulator's STK push, the
booking is cancelled, the refund task sends a Reversal or a B2C to the simulator, the
simulator posts the result to /payments/result/<token>/, the ledger stores it and the one
applier settles it; and the "twice", "never", "timeout" and concurrent cases."""

import datetime as dt
import json

import pytest
import requests
from django.core import mail
from django.utils import timezone

from core.models import AuditEntry
from mpesa.models import CallbackRecord, Refund
from mpesa.refunds_out import refund_approve
from mpesa.results import parse_result
from mpesa.transfer_ledger import result_store
from mpesa.transfers import transfer_apply_result, transfer_send, transfers_reconcile
from reservations.models import Booking
from reservations.services import booking_cancel
from reservations.staff_services import booking_staff_cancel
from tests.factories import StaffFactory, make_booking, make_property, start_payment
from tests.mpesa.conftest import wait_for_status
from tests.processes import run_together, wait_until

PHONE = "0712345678"
MSISDN = "254712345678"


def _paid_booking(simulator, *payments: int, policy: str = "moderate", days: int = 30, price: int = 5000) -> Booking:
    home = make_property(price_per_night=price, cancellation_policy=policy)
    booking = make_booking(property=home, nights=2, check_in=timezone.localdate() + dt.timedelta(days=days))
    for amount in payments:
        payment = start_payment(booking_id=booking.pk, user=booking.primary_guest, phone_number=PHONE, amount=amount)
        payment.refresh_from_db()
        simulator.respond(payment.checkout_request_id, "pay")
        wait_for_status(payment.pk, "SUCCESS")
    booking.refresh_from_db()
    return booking


def wait_for_refund(refund_id: int, *statuses: str, timeout: float = 20) -> Refund:
    return wait_until(
        lambda: (r := Refund.objects.get(pk=refund_id)).status in statuses and r,
        timeout=timeout,
        message=f"refund {refund_id} to become {'/'.join(statuses)}",
    )


def _phone_page(live_server) -> str:
    response = requests.get(f"{live_server.url}/simulator/phone/{MSISDN}/", timeout=10)
    assert response.status_code == 200
    return response.text


@pytest.mark.django_db(transaction=True)
def test_full_refund_by_reversal_reaches_the_phone_and_the_money_follows(simulator, live_server):
    booking = _paid_booking(simulator, 10000)
    assert (booking.status, booking.amount_paid) == ("CONFIRMED", 10000)
    canceled = booking_cancel(booking_id=booking.pk, actor=booking.primary_guest)  # 30 days out: all back
    (created,) = canceled.refunds_created
    assert (created["amount"], created["method"]) == (10000, "reversal")
    refund = wait_for_refund(created["refund_id"], "SUCCESS")
    assert refund.conversation_id and refund.mpesa_transaction_id and refund.raw_result
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid) == ("CANCELED", 0)

    (sent,) = simulator.transfers(party=MSISDN, kind="reversal")
    assert (sent["amount"], sent["original_transaction_id"]) == (10000, refund.payment.mpesa_receipt_number)
    assert sent["credential_valid"] is True
    page = _phone_page(live_server)
    assert "has been reversed" in page and refund.mpesa_transaction_id in page
    wait_until(
        lambda: any("refunded" in m.subject for m in mail.outbox), timeout=10, message="the refund email"
    )


@pytest.mark.django_db(transaction=True)
def test_part_refund_by_b2c_reaches_the_phone(simulator, live_server):
    booking = _paid_booking(simulator, 10000, days=3)  # moderate, under 5 days: half back
    canceled = booking_cancel(booking_id=booking.pk, actor=booking.primary_guest)
    (created,) = canceled.refunds_created
    assert (created["amount"], created["method"]) == (5000, "b2c")
    refund = wait_for_refund(created["refund_id"], "SUCCESS")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid) == ("CANCELED", 5000)
    (sent,) = simulator.transfers(party=MSISDN, kind="b2c")
    assert (sent["amount"], sent["originator_conversation_id"]) == (5000, refund.originator_conversation_id)
    assert "You have received KES 5,000" in _phone_page(live_server)


@pytest.mark.django_db(transaction=True)
def test_result_delivered_twice_refunds_once(simulator):
    booking = _paid_booking(simulator, 4000, 6000)
    simulator.transfer_directive(MSISDN, delivery="twice")
    booking_staff_cancel(booking_id=booking.pk, actor=StaffFactory(), reason="Owner withdrew")
    refunds = list(Refund.objects.filter(booking=booking))
    assert sorted(r.amount for r in refunds) == [4000, 6000]
    for refund in refunds:
        wait_for_refund(refund.pk, "SUCCESS")
    twice = next(r for r in Refund.objects.filter(booking=booking) if r.daraja_originator_conversation_id and
                 simulator.transfer(r.daraja_originator_conversation_id)["delivery"] == "twice")
    simulator.wait_for_transfer_results(twice.daraja_originator_conversation_id, count=2)
    record = wait_until(
        lambda: (r := CallbackRecord.objects.filter(refund=twice).first()) and r.deliveries == 2 and r,
        timeout=10, message="the second delivery counted",
    )
    assert record.state == "APPLIED"
    assert AuditEntry.objects.filter(action="refund.succeeded", object_id=str(twice.pk)).count() == 1
    booking.refresh_from_db()
    assert booking.amount_paid == 0


@pytest.mark.django_db(transaction=True)
def test_result_never_delivered_is_settled_by_transaction_status(simulator):
    booking = _paid_booking(simulator, 10000, days=3)
    simulator.transfer_directive(MSISDN, delivery="never")
    (created,) = booking_cancel(booking_id=booking.pk, actor=booking.primary_guest).refunds_created
    refund = Refund.objects.get(pk=created["refund_id"])
    assert refund.status == "PENDING" and refund.conversation_id
    assert simulator.transfer(refund.originator_conversation_id)["posts_sent"] == 0
    Refund.objects.filter(pk=refund.pk).update(next_query_at=timezone.now() - dt.timedelta(seconds=1))
    assert transfers_reconcile() >= 1
    refund = wait_for_refund(refund.pk, "SUCCESS")
    assert refund.query_attempts == 1 and refund.query_conversation_id
    assert refund.mpesa_transaction_id == simulator.transfer(refund.originator_conversation_id)["transaction_id"]
    booking.refresh_from_db()
    assert booking.amount_paid == 5000
    # Nothing was sent twice: one B2C to the phone.
    assert len(simulator.transfers(party=MSISDN, kind="b2c")) == 1


@pytest.mark.django_db(transaction=True)
def test_timeout_callback_is_not_a_failure_and_is_then_settled(simulator):
    booking = _paid_booking(simulator, 10000, days=3)
    simulator.transfer_directive(MSISDN, delivery="timeout")
    (created,) = booking_cancel(booking_id=booking.pk, actor=booking.primary_guest).refunds_created
    refund = Refund.objects.get(pk=created["refund_id"])
    simulator.wait_for_transfer_results(refund.originator_conversation_id, count=1)
    record = wait_until(
        lambda: CallbackRecord.objects.filter(kind="TIMEOUT", state="APPLIED").first(), timeout=10, message="timeout"
    )
    refund.refresh_from_db()
    assert record.refund_id == refund.pk and refund.status == "PENDING"
    assert refund.next_query_at <= timezone.now() + dt.timedelta(seconds=60)
    Refund.objects.filter(pk=refund.pk).update(next_query_at=timezone.now() - dt.timedelta(seconds=1))
    transfers_reconcile()
    refund = wait_for_refund(refund.pk, "SUCCESS")
    booking.refresh_from_db()
    assert booking.amount_paid == 5000


@pytest.mark.django_db(transaction=True)
def test_failed_reversal_is_visible_and_keeps_the_money_held(simulator):
    booking = _paid_booking(simulator, 10000)
    simulator.transfer_directive(MSISDN, result="failure")
    (created,) = booking_cancel(booking_id=booking.pk, actor=booking.primary_guest).refunds_created
    refund = wait_for_refund(created["refund_id"], "FAILED")
    assert refund.failure_reason and refund.result_code not in (None, "0")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid) == ("CANCELED", 10000)


@pytest.mark.django_db(transaction=True)
def test_refund_above_threshold_waits_for_a_second_staff_member(simulator, settings):
    settings.REFUND_APPROVAL_THRESHOLD = 5000
    booking = _paid_booking(simulator, 10000)
    asking, approving = StaffFactory(), StaffFactory()
    booking_staff_cancel(booking_id=booking.pk, actor=asking, reason="Flooded")
    refund = Refund.objects.get(booking=booking)
    assert refund.status == "AWAITING_APPROVAL"
    assert simulator.transfers(party=MSISDN) == []  # nothing sent while it waits
    with pytest.raises(Exception) as raised:
        refund_approve(refund_id=refund.pk, actor=asking)
    assert getattr(raised.value, "code", None) == "same_staff_member"
    refund_approve(refund_id=refund.pk, actor=approving)
    refund = wait_for_refund(refund.pk, "SUCCESS")
    assert refund.approved_by == approving
    assert len(simulator.transfers(party=MSISDN)) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_and_result_applications_settle_once(simulator, settings):
    """Two workers run the same transfer_send, then the same result is applied by two at once:
    one request to Daraja, one settlement. Each thread has its own database connection."""
    settings.REFUND_APPROVAL_THRESHOLD = 5000
    booking = _paid_booking(simulator, 10000, days=3)
    asking = StaffFactory()
    booking_staff_cancel(booking_id=booking.pk, actor=asking, reason="Flooded")
    refund = Refund.objects.get(booking=booking)
    simulator.transfer_directive(MSISDN, delivery="never")
    # Approved without the task (the send runs below, twice at once).
    Refund.objects.filter(pk=refund.pk).update(status="QUEUED", approved_by=StaffFactory())
    results = run_together([lambda: transfer_send(kind="refund", transfer_id=refund.pk)] * 2)
    assert not any(isinstance(r, Exception) for r in results), results
    assert len(simulator.transfers(party=MSISDN, kind="reversal")) == 1
    refund.refresh_from_db()
    assert refund.status == "PENDING" and refund.conversation_id

    # The result Daraja would post, stored as the result view stores it but not applied yet;
    # then two workers apply it at the same moment.
    body = simulator.transfer(refund.daraja_originator_conversation_id)["result_body"]
    record_id, _ = result_store(raw_body=json.dumps(body), parsed=parse_result(body), kind="RESULT")
    outcomes = run_together([lambda: transfer_apply_result(record_id=record_id)] * 2)
    assert not any(isinstance(r, Exception) for r in outcomes), outcomes
    refund.refresh_from_db()
    assert refund.status == "SUCCESS"
    assert AuditEntry.objects.filter(action="refund.succeeded", object_id=str(refund.pk)).count() == 1
    assert CallbackRecord.objects.get(pk=record_id).state == "APPLIED"
    booking.refresh_from_db()
    assert booking.amount_paid == 0
