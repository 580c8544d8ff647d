"""The one applier of money going out (mpesa.transfers.transfer_apply_result) on ledger rows
written the way the result view writes them (mpesa.transfer_ledger.result_store), and the
send step's handling of each kind of answer. Over real HTTP: tests/mpesa/test_transfers_http.py."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from core.models import AuditEntry
from mpesa import transfer_client
from mpesa.client import Indeterminate
from mpesa.models import CallbackRecord, Refund
from mpesa.reconcile import callback_sweep
from mpesa.refunds_out import refund_amount_due
from mpesa.results import parse_result
from mpesa.transfer_ledger import result_store
from mpesa.transfers import transfer_apply_result, transfer_send, transfers_reconcile
from reservations.models import Booking
from reservations.staff_services import booking_staff_cancel
from tests.factories import StaffFactory, make_booking, make_payment, make_property, recompute_booking_money

pytestmark = pytest.mark.django_db


def _refund(*, payments=(4000, 6000), sent=True) -> Refund:
    """A staff cancellation of a booking paid `payments`: one Refund per payment, the first
    one returned, PENDING as if Daraja had accepted it."""
    booking = make_booking(property=make_property(price_per_night=5000), nights=2, status="PROCESSING")
    for amount in payments:
        make_payment(booking=booking, amount=amount)
    recompute_booking_money(booking.pk)
    booking_staff_cancel(booking_id=booking.pk, actor=StaffFactory(), reason="Owner withdrew")
    refund = Refund.objects.filter(booking=booking).order_by("amount").first()
    if sent:
        Refund.objects.filter(pk=refund.pk).update(
            status="PENDING", sent_at=timezone.now(), conversation_id=f"AG_20261130_{refund.pk:020d}",
            daraja_originator_conversation_id=f"12345-{refund.pk}-1" if refund.method == "reversal" else "",
            next_query_at=timezone.now() + dt.timedelta(minutes=2),
        )
        refund.refresh_from_db()
    return refund


def _result(refund: Refund, *, code=0, desc="The service request is processed successfully.", params=None,
            originator=None, conversation=None, transaction_id="TLL1234567") -> dict:
    result = {
        "ResultType": 0,
        "ResultCode": code,
        "ResultDesc": desc,
        "OriginatorConversationID": originator if originator is not None else (
            refund.daraja_originator_conversation_id or refund.originator_conversation_id
        ),
        "ConversationID": conversation if conversation is not None else refund.conversation_id,
        "TransactionID": transaction_id,
    }
    if params is None and code == 0:
        params = {"Amount": float(refund.amount), "OriginalTransactionID": refund.payment.mpesa_receipt_number,
                  "TransCompletedTime": 20261130101010}
    if params:
        result["ResultParameters"] = {"ResultParameter": [{"Key": k, "Value": v} for k, v in params.items()]}
    return {"Result": result}


def _store(body: dict, kind="RESULT") -> int:
    raw = json.dumps(body)
    record_id, _ = result_store(raw_body=raw, parsed=parse_result(body), kind=kind)
    return record_id


def _apply(body: dict, kind="RESULT") -> CallbackRecord:
    return transfer_apply_result(record_id=_store(body, kind))


def test_success_settles_the_refund_and_the_booking_money_follows():
    refund = _refund()
    booking = refund.booking
    assert booking.amount_paid == 10000
    record = _apply(_result(refund))
    refund.refresh_from_db()
    booking.refresh_from_db()
    assert (record.state, record.refund_id) == ("APPLIED", refund.pk)
    assert (refund.status, refund.mpesa_transaction_id, refund.result_code) == ("SUCCESS", "TLL1234567", "0")
    assert refund.raw_result["Result"]["TransactionID"] == "TLL1234567"
    # A booking whose money goes back stays CANCELED; its money follows.
    assert (booking.status, booking.amount_paid) == ("CANCELED", 6000)
    assert refund_amount_due(booking=booking) == 6000  # the other payment's refund is still queued
    assert AuditEntry.objects.filter(action="refund.succeeded", object_id=str(refund.pk)).count() == 1


def test_a_result_delivered_twice_or_a_second_result_changes_nothing():
    refund = _refund()
    body = _result(refund)
    first = _apply(body)
    again = _apply(body)  # the same body: one ledger row, a second delivery
    assert first.pk == again.pk and again.deliveries == 2
    other = _apply(_result(refund, transaction_id="TLL7654321"))
    refund.refresh_from_db()
    refund.booking.refresh_from_db()
    assert other.state == "IGNORED" and "already settled" in other.outcome_note
    assert refund.mpesa_transaction_id == "TLL1234567" and refund.booking.amount_paid == 6000
    failure = _apply(_result(refund, code=1, desc="The balance is insufficient for the transaction."))
    refund.refresh_from_db()
    assert failure.state == "IGNORED" and refund.status == "SUCCESS"


def test_failure_fails_the_refund_with_its_reason_and_keeps_the_money_held():
    refund = _refund()
    record = _apply(_result(refund, code="R000002", desc="The OriginalTransactionID is invalid.", params={}))
    refund.refresh_from_db()
    refund.booking.refresh_from_db()
    assert record.state == "APPLIED"
    assert refund.status == "FAILED" and "R000002" in refund.failure_reason
    assert refund.booking.amount_paid == 10000
    assert refund_amount_due(booking=refund.booking) == 10000


def test_timeout_is_not_a_failure_and_asks_transaction_status_soon():
    refund = _refund()
    timeout = _result(refund, code="SFC_IC0003", desc="The request timed out in the queue.", params={}, transaction_id="")
    record = _apply(timeout, kind="TIMEOUT")
    refund.refresh_from_db()
    assert record.state == "APPLIED" and record.refund_id == refund.pk
    assert refund.status == "PENDING"
    assert refund.next_query_at <= timezone.now() + dt.timedelta(seconds=60)


def _status_result(refund, *, status="Completed", code=0, query_ids=("AG_query_1", "99999-1-1")) -> dict:
    params = {
        "OriginatorConversationID": refund.daraja_originator_conversation_id or refund.originator_conversation_id,
        "ConversationID": refund.conversation_id,
        "TransactionStatus": status,
        "Amount": refund.amount,
        "ReceiptNo": "TLLSTATUS1",
        "FinalisedTime": 20261130101010,
    }
    return _result(refund, code=code, params=params, conversation=query_ids[0], originator=query_ids[1],
                   transaction_id="TLLQUERY01")


def test_transaction_status_result_settles_the_transfer_it_names():
    refund = _refund()
    Refund.objects.filter(pk=refund.pk).update(query_conversation_id="AG_query_1", query_originator_conversation_id="99999-1-1")
    record = _apply(_status_result(refund))
    refund.refresh_from_db()
    assert record.state == "APPLIED" and record.refund_id == refund.pk
    assert (refund.status, refund.mpesa_transaction_id) == ("SUCCESS", "TLLSTATUS1")


def test_status_result_before_its_query_ids_were_saved_still_finds_the_transfer():
    refund = _refund()
    record = _apply(_status_result(refund, query_ids=("AG_unknown_q", "11111-2-3")))
    refund.refresh_from_db()
    assert record.refund_id == refund.pk and refund.status == "SUCCESS"


def test_status_result_saying_failed_fails_it():
    refund = _refund()
    record = _apply(_status_result(refund, status="Failed", code=2001))
    refund.refresh_from_db()
    assert record.state == "APPLIED" and refund.status == "FAILED"


def test_a_result_nobody_sent_is_set_aside_not_guessed():
    refund = _refund()
    record = _apply(_result(refund, originator="nobody-1", conversation="AG_nobody"))
    assert record.state == "NEW"  # may belong to a request whose answer is on its way
    CallbackRecord.objects.filter(pk=record.pk).update(received_at=timezone.now() - dt.timedelta(minutes=11))
    record = transfer_apply_result(record_id=record.pk)
    assert record.state == "IGNORED"
    refund.refresh_from_db()
    assert refund.status == "PENDING"


def test_a_b2c_result_is_never_adopted_as_an_stk_payment():
    """A B2C result names a phone and an amount like an STK success: the STK sweep leaves it alone."""
    refund = _refund(payments=(4000,))
    booking = make_booking(status="PENDING")
    make_payment(booking=booking, amount=refund.amount, status="PENDING", checkout_request_id=None,
                 sent_at=timezone.now())
    body = _result(refund, params={"TransactionAmount": refund.amount, "TransactionReceipt": "TLLB2C0001",
                                   "ReceiverPartyPublicName": "254712345678 - Achieng Otieno"})
    record_id = _store(body)
    CallbackRecord.objects.filter(pk=record_id).update(received_at=timezone.now() - dt.timedelta(minutes=1))
    callback_sweep()
    assert CallbackRecord.objects.get(pk=record_id).state == "NEW"
    transfers_reconcile_applied = transfers_reconcile()
    assert transfers_reconcile_applied >= 1
    assert CallbackRecord.objects.get(pk=record_id).refund_id == refund.pk


# --- Sending: the three kinds of answer --------------------------------------------------------


def test_send_claims_before_the_call_and_never_sends_twice(monkeypatch):
    refund = _refund(sent=False)
    calls = []

    def reversal(**kwargs):
        calls.append(kwargs)
        assert Refund.objects.get(pk=refund.pk).status == "PENDING"  # committed before the call
        return transfer_client.TransferAccepted("AG_1", "55555-1-1", "Accept the service request successfully.", {})

    monkeypatch.setattr(transfer_client, "reversal", reversal)
    sent = transfer_send(kind="refund", transfer_id=refund.pk)
    assert (sent.status, sent.conversation_id, sent.daraja_originator_conversation_id) == ("PENDING", "AG_1", "55555-1-1")
    assert calls[0]["transaction_id"] == refund.payment.mpesa_receipt_number and calls[0]["amount"] == refund.amount
    transfer_send(kind="refund", transfer_id=refund.pk)
    assert len(calls) == 1


def test_definite_refusal_fails_and_indeterminate_stays_pending(monkeypatch):
    refused, unknown = _refund(sent=False), _refund(sent=False)
    monkeypatch.setattr(
        transfer_client, "reversal",
        lambda **kw: transfer_client.TransferRejected(400, "400.002.02", "Bad Request - Invalid Amount", {}),
    )
    assert transfer_send(kind="refund", transfer_id=refused.pk).status == "FAILED"
    monkeypatch.setattr(transfer_client, "reversal", lambda **kw: Indeterminate("timed out"))
    pending = transfer_send(kind="refund", transfer_id=unknown.pk)
    assert pending.status == "PENDING" and pending.next_query_at <= timezone.now() + dt.timedelta(seconds=60)


@pytest.mark.parametrize("stage", ["oauth", "setup"])
def test_a_transfer_that_never_reached_daraja_goes_back_to_the_queue_not_to_failed(monkeypatch, stage):
    """No access token (Daraja's OAuth down, or our network) or a missing certificate: the
    refund itself was not refused, so it waits unsent and is tried again, never FAILED."""
    refund = _refund(sent=False)
    monkeypatch.setattr(
        transfer_client, "reversal",
        lambda **kw: transfer_client.TransferRejected(None, "oauth_failed", "could not get an access token", stage=stage),
    )
    waiting = transfer_send(kind="refund", transfer_id=refund.pk)
    assert (waiting.status, waiting.sent_at) == ("QUEUED", None)
    assert "Not sent yet" in waiting.failure_reason
    Refund.objects.filter(pk=refund.pk).update(updated_at=timezone.now() - dt.timedelta(minutes=2))
    queued = []
    monkeypatch.setattr("mpesa.transfers._enqueue_send", lambda kind, pk: queued.append((kind, pk)))
    transfers_reconcile()
    assert ("refund", refund.pk) in queued
    monkeypatch.setattr(
        transfer_client, "reversal",
        lambda **kw: transfer_client.TransferAccepted("AG_2", "55555-2-1", "Accept the service request successfully.", {}),
    )
    assert transfer_send(kind="refund", transfer_id=refund.pk).status == "PENDING"


def test_reconcile_enqueues_a_queued_refund_whose_task_was_lost(monkeypatch):
    refund = _refund(sent=False)
    Refund.objects.filter(pk=refund.pk).update(updated_at=timezone.now() - dt.timedelta(minutes=5))
    sent = []
    monkeypatch.setattr("mpesa.transfers._enqueue_send", lambda kind, pk: sent.append((kind, pk)))
    transfers_reconcile()
    assert ("refund", refund.pk) in sent


def test_booking_stays_canceled_when_all_is_refunded():
    refund = _refund(payments=(10000,))
    _apply(_result(refund))
    booking = Booking.objects.get(pk=refund.booking_id)
    assert (booking.status, booking.amount_paid, booking.cancel_kind) == ("CANCELED", 0, "staff")


def test_payouts_go_through_the_same_applier_and_tell_the_payouts_app(monkeypatch):
    from mpesa.models import Payout
    from mpesa.transfers import new_originator_conversation_id

    booking = make_booking(property=make_property(price_per_night=5000), nights=2, status="CONFIRMED")
    payout = Payout.objects.create(
        booking=booking, owner=booking.property.owner, status="PENDING", gross=10000, commission=1000, amount=9000,
        method="b2c", phone_number="254722000111", due_at=timezone.now(), sent_at=timezone.now(),
        originator_conversation_id=new_originator_conversation_id("payout"), conversation_id="AG_payout_1",
    )
    told = []
    monkeypatch.setattr("mpesa.payouts.payout_settled", lambda *, payout, succeeded: told.append((payout.pk, succeeded)))
    body = {"Result": {
        "ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
        "OriginatorConversationID": payout.originator_conversation_id, "ConversationID": "AG_payout_1",
        "TransactionID": "TLLPAYOUT1",
        "ResultParameters": {"ResultParameter": [
            {"Key": "TransactionAmount", "Value": 9000}, {"Key": "TransactionReceipt", "Value": "TLLPAYOUT1"},
            {"Key": "ReceiverPartyPublicName", "Value": "254722000111 - Owner"},
        ]},
    }}
    record = _apply(body)
    again = _apply({"Result": {**body["Result"], "TransactionID": "TLLPAYOUT2"}})
    payout.refresh_from_db()
    assert (record.state, record.payout_id, payout.status, payout.mpesa_transaction_id) == (
        "APPLIED", payout.pk, "SUCCESS", "TLLPAYOUT1",
    )
    assert again.state == "IGNORED"
    assert told == [(payout.pk, True)]


def _payout_result(payout, receipt: str) -> dict:
    return {"Result": {
        "ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
        "OriginatorConversationID": payout.originator_conversation_id, "ConversationID": payout.conversation_id,
        "TransactionID": receipt,
        "ResultParameters": {"ResultParameter": [
            {"Key": "TransactionAmount", "Value": payout.amount}, {"Key": "TransactionReceipt", "Value": receipt},
        ]},
    }}


@pytest.mark.parametrize("retry_status", ["SCHEDULED", "PENDING"])
def test_a_payout_given_up_and_retried_that_succeeds_late_is_recorded_and_stops_an_unsent_retry(
    monkeypatch, retry_status
):
    """Transaction Status said "no such transaction" until the payout was given up (FAILED
    with no result code) and staff retried it; then its result came after all. The money
    went out, so the old row says SUCCESS; a retry not sent yet is stopped, one already sent
    is left for staff (check_ledger reports the booking as paid out twice)."""
    from mpesa.models import Payout
    from mpesa.transfers import new_originator_conversation_id

    monkeypatch.setattr("mpesa.payouts.payout_settled", lambda *, payout, succeeded: None)
    booking = make_booking(property=make_property(price_per_night=5000), nights=2, status="CONFIRMED")
    common = {"booking": booking, "owner": booking.property.owner, "gross": 10000, "commission": 1000,
              "amount": 9000, "method": "b2c", "phone_number": "254722000111", "due_at": timezone.now()}
    given_up = Payout.objects.create(
        **common, status="FAILED", failure_reason="M-Pesa has no record of it", sent_at=timezone.now(),
        originator_conversation_id=new_originator_conversation_id("payout"), conversation_id="AG_given_up",
    )
    retry = Payout.objects.create(
        **common, status=retry_status, retry_of=given_up,
        originator_conversation_id=new_originator_conversation_id("payout"),
    )
    record = _apply(_payout_result(given_up, "TLLLATE001"))
    given_up.refresh_from_db()
    retry.refresh_from_db()
    assert (record.state, given_up.status, given_up.mpesa_transaction_id) == ("APPLIED", "SUCCESS", "TLLLATE001")
    if retry_status == "SCHEDULED":
        assert retry.status == "FAILED" and "went through after all" in retry.failure_reason
    else:
        assert retry.status == "PENDING"
        assert AuditEntry.objects.filter(action="payout.sent_twice", object_id=str(given_up.pk)).exists()
