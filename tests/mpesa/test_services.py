"""Payment services end to end: payment_start -> STK push task -> the simulator over HTTP ->
the customer answers -> the callback over HTTP -> the ledger -> the one applier; and reconciliation.

Every money path has its "twice", "late", "lost" and "forged" case here.
"""

import datetime as dt

import pytest
import requests
from django.core import mail
from django.utils import timezone

from accounts.models import User
from core.models import AuditEntry
from mpesa.models import Payment
from mpesa.callbacks import parse_stk_callback
from mpesa.models import CallbackRecord
from mpesa.reconcile import payment_reconcile_pending
from mpesa.settle import callback_apply, callback_store
from mpesa.simulator.models import SimulatedStkPush
from reservations.models import Booking
from reservations.services import booking_expire_holds
from tests.factories import make_booking, make_payment, make_property, start_payment
from tests.mpesa.conftest import CALLBACK_TOKEN, wait_for_status
from tests.processes import wait_until

PHONE = "0712345678"
MSISDN = "254712345678"


def _booking(price=5000, nights=2, **fields) -> Booking:
    return make_booking(property=make_property(price_per_night=price), nights=nights, **fields)


def _pay(booking, amount, phone=PHONE, user=None) -> Payment:
    """Ask to pay; in these tests the STK push task runs when the request commits."""
    payment = start_payment(
        booking_id=booking.pk, user=user or booking.primary_guest, phone_number=phone, amount=amount
    )
    payment.refresh_from_db()
    return payment


def _actions(payment) -> list[str]:
    return list(
        AuditEntry.objects.filter(object_id=str(payment.pk), action__startswith="payment.")
        .order_by("id")
        .values_list("action", flat=True)
    )


def _credit(user) -> int:
    return User.objects.values_list("credit_score", flat=True).get(pk=user.pk)


def _age(payment, seconds: int) -> None:
    """Pretend the push went out `seconds` ago."""
    moved = timezone.now() - dt.timedelta(seconds=seconds)
    Payment.objects.filter(pk=payment.pk).update(sent_at=moved, created_at=moved, next_query_at=moved)


# --- Outcomes --------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_full_payment_confirms_the_booking_and_credits_the_guest(simulator):
    booking = _booking()
    before = _credit(booking.primary_guest)
    payment = _pay(booking, 10_000)
    assert payment.status == "PENDING" and payment.sent_at and payment.next_query_at
    simulator.respond(payment.checkout_request_id, "pay")
    payment = wait_for_status(payment.pk, "SUCCESS")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.balance_due) == ("CONFIRMED", 10_000, 0)
    assert _credit(booking.primary_guest) == before + 5
    assert _actions(payment) == ["payment.created", "payment.sent", "payment.succeeded"]
    wait_until(lambda: len(mail.outbox) >= 2, timeout=10, message="two emails")  # sent after the commit
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == sorted(
        [
            f"We received KES 10,000 for {booking.reference}",
            f"Your stay at {booking.property.title} is confirmed ({booking.reference})",
        ]
    )


@pytest.mark.django_db(transaction=True)
def test_failure_on_an_unpaid_booking_cancels_it_and_costs_the_payer(simulator):
    for action, code in [("cancel", "1032"), ("wrong_pin", "2001"), ("timeout", "1037"), ("insufficient", "1")]:
        booking = _booking()
        before = _credit(booking.primary_guest)
        payment = _pay(booking, 3000)
        simulator.respond(payment.checkout_request_id, action)
        payment = wait_for_status(payment.pk, "FAILED")
        assert payment.result_code == code and payment.failure_reason, action
        booking.refresh_from_db()
        assert booking.status == "CANCELED" and booking.cancel_reason.startswith("Payment failed")
        assert _credit(booking.primary_guest) == before - 2
        assert AuditEntry.objects.filter(object_id=str(booking.pk), action="booking.canceled").exists()
        cancelled = f"Booking {booking.reference} was cancelled"
        wait_until(lambda s=cancelled: s in [m.subject for m in mail.outbox], timeout=10, message="the email")
    assert len(mail.outbox) == 4


@pytest.mark.django_db(transaction=True)
def test_failure_on_a_part_paid_booking_leaves_it_processing(simulator):
    booking = _booking()
    first = _pay(booking, 4000)
    simulator.respond(first.checkout_request_id, "pay")
    wait_for_status(first.pk, "SUCCESS")
    second = _pay(booking, 6000)
    simulator.respond(second.checkout_request_id, "cancel")
    wait_for_status(second.pk, "FAILED")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.balance_due) == ("PROCESSING", 4000, 6000)


@pytest.mark.django_db(transaction=True)
def test_failure_does_not_cancel_while_another_payment_is_in_flight(simulator):
    booking = _booking()
    first = _pay(booking, 3000)
    second = _pay(booking, 3000, phone="0722000333")
    simulator.respond(first.checkout_request_id, "cancel")
    wait_for_status(first.pk, "FAILED")
    booking.refresh_from_db()
    assert booking.status == "PENDING"
    simulator.respond(second.checkout_request_id, "pay")
    wait_for_status(second.pk, "SUCCESS")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid) == ("PROCESSING", 3000)


# --- Twice -------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_second_identical_callback_changes_nothing(simulator):
    booking = _booking()
    simulator.directive(MSISDN, auto_action="pay", callback_mode="twice")
    payment = _pay(booking, 4000)
    simulator.wait_for_callbacks(payment.checkout_request_id, count=2)
    payment = wait_for_status(payment.pk, "SUCCESS")
    booking.refresh_from_db()
    assert (booking.amount_paid, booking.balance_due, booking.status) == (4000, 6000, "PROCESSING")
    assert _actions(payment).count("payment.succeeded") == 1
    assert simulator.prompt(payment.checkout_request_id)["last_callback_status"] == "HTTP 200"
    wait_until(lambda: mail.outbox, timeout=10, message="the receipt email")
    simulator.wait_for_callbacks(payment.checkout_request_id, count=2)
    assert [m.subject for m in mail.outbox] == [f"We received KES 4,000 for {booking.reference}"]


# --- Lost -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_lost_success_callback_is_settled_by_reconciliation_and_the_receipt_fills_in_later(simulator, settings):
    settings.MPESA_QUERY_FIRST_AFTER_SECONDS = 30
    booking = _booking()
    simulator.directive(MSISDN, callback_mode="never")
    payment = _pay(booking, 4000)
    simulator.respond(payment.checkout_request_id, "pay")
    assert payment_reconcile_pending() == 0  # too early to ask
    _age(payment, 31)
    assert payment_reconcile_pending() == 1
    payment.refresh_from_db()
    assert (payment.status, payment.received_amount, payment.mpesa_receipt_number) == ("SUCCESS", 4000, None)
    assert payment.query_attempts == 1 and payment.last_query_result["ResultCode"] == "0"
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid) == ("PROCESSING", 4000)

    simulator.resend(payment.checkout_request_id)  # the callback turns up after all
    simulator.wait_for_callbacks(payment.checkout_request_id)
    payment.refresh_from_db()
    assert payment.mpesa_receipt_number == simulator.prompt(payment.checkout_request_id)["receipt_number"]
    booking.refresh_from_db()
    assert booking.amount_paid == 4000  # counted once


@pytest.mark.django_db(transaction=True)
def test_lost_failure_callback_is_settled_by_reconciliation(simulator, settings):
    settings.MPESA_QUERY_FIRST_AFTER_SECONDS = 0
    booking = _booking()
    simulator.directive(MSISDN, callback_mode="never")
    payment = _pay(booking, 4000)
    simulator.respond(payment.checkout_request_id, "wrong_pin")
    payment_reconcile_pending()
    payment.refresh_from_db()
    assert (payment.status, payment.result_code) == ("FAILED", "2001")
    booking.refresh_from_db()
    assert booking.status == "CANCELED"


@pytest.mark.django_db(transaction=True)
def test_pending_and_indeterminate_query_answers_never_fail_a_payment(simulator, settings):
    settings.MPESA_QUERY_FIRST_AFTER_SECONDS = 0
    modes = ["normal", "pending_500", "pending_4999", "error_503"]
    payments = []
    for n, query_mode in enumerate(modes):
        phone = f"07120000{n:02d}"
        simulator.directive(phone, query_mode=query_mode)
        payments.append(_pay(_booking(), 4000, phone=phone))  # nobody answers the prompts
    for attempt in (1, 2):
        for payment in payments:
            _age(payment, 60)
        assert payment_reconcile_pending() == len(modes)
        for query_mode, payment in zip(modes, payments):
            payment.refresh_from_db()
            assert (payment.status, payment.query_attempts) == ("PENDING", attempt), query_mode
            assert payment.next_query_at > timezone.now() - dt.timedelta(seconds=1)
    assert set(Booking.objects.values_list("status", flat=True)) == {"PENDING"}


@pytest.mark.django_db(transaction=True)
def test_query_backs_off_between_attempts(simulator, settings):
    settings.MPESA_QUERY_FIRST_AFTER_SECONDS = 30
    payment = _pay(_booking(), 4000)
    gaps = []
    for _ in range(3):
        _age(payment, 40)
        payment_reconcile_pending()
        payment.refresh_from_db()
        gaps.append(round((payment.next_query_at - timezone.now()).total_seconds()))
    assert gaps[0] < gaps[1] < gaps[2] <= 120


# --- Late -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_unanswered_payment_times_out_but_a_late_success_still_wins(simulator, settings):
    settings.MPESA_QUERY_FIRST_AFTER_SECONDS = 0
    booking = _booking()
    simulator.directive(MSISDN, callback_mode="never", query_mode="pending_500")
    payment = _pay(booking, 4000)
    simulator.respond(payment.checkout_request_id, "pay")
    _age(payment, settings.MPESA_PAYMENT_DEADLINE_SECONDS + 1)
    payment_reconcile_pending()
    payment.refresh_from_db()
    assert payment.status == "FAILED" and "timed out" in payment.failure_reason
    booking.refresh_from_db()
    assert booking.status == "PENDING"  # a timeout is not the guest's failure: the booking is as it was

    simulator.resend(payment.checkout_request_id)
    payment = wait_for_status(payment.pk, "SUCCESS")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid) == ("PROCESSING", 4000)
    assert "payment.timed_out" in _actions(payment) and _actions(payment)[-1] == "payment.succeeded"


def _time_out_then_expire_hold(simulator, settings, booking) -> Payment:
    settings.MPESA_QUERY_FIRST_AFTER_SECONDS = 0
    simulator.directive(MSISDN, callback_mode="never", query_mode="pending_4999")
    payment = _pay(booking, 4000)
    simulator.respond(payment.checkout_request_id, "pay")
    _age(payment, settings.MPESA_PAYMENT_DEADLINE_SECONDS + 1)
    payment_reconcile_pending()
    Booking.objects.filter(pk=booking.pk).update(hold_expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert booking_expire_holds() == 1
    booking.refresh_from_db()
    assert booking.status == "CANCELED"
    return payment


@pytest.mark.django_db(transaction=True)
def test_late_success_after_the_hold_expired_is_kept_and_refunded(simulator, settings):
    """An expired hold is a deadline, and a deadline's cancellation is final (docs/booking-rules.md): the
    money is recorded on the payment and goes back by a Reversal; the booking stays cancelled."""
    booking = _booking()
    payment = _time_out_then_expire_hold(simulator, settings, booking)
    simulator.resend(payment.checkout_request_id)
    payment = wait_for_status(payment.pk, "SUCCESS")
    booking.refresh_from_db()
    assert (booking.status, booking.cancel_kind) == ("CANCELED", "hold_expired")
    assert payment.received_amount == 4000 and payment.flagged and "refund" in payment.flag_reason
    refund = wait_until(
        lambda: (r := payment.daraja_refunds.first()) and r.status == "SUCCESS" and r, timeout=20, message="refund"
    )
    assert (refund.method, refund.amount) == ("reversal", 4000)
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid) == ("CANCELED", 0)


@pytest.mark.django_db(transaction=True)
def test_late_success_when_the_dates_were_rebooked_is_kept_and_refunded(simulator, settings):
    booking = _booking()
    payment = _time_out_then_expire_hold(simulator, settings, booking)
    make_booking(property=booking.property, check_in=booking.check_in, nights=booking.nights)  # someone else took them
    simulator.resend(payment.checkout_request_id)
    payment = wait_for_status(payment.pk, "SUCCESS")
    assert payment.flagged and "refund" in payment.flag_reason
    assert payment.received_amount == 4000 and payment.mpesa_receipt_number
    refund = wait_until(
        lambda: (r := payment.daraja_refunds.first()) and r.status == "SUCCESS" and r, timeout=20, message="refund"
    )
    assert refund.amount == 4000
    booking.refresh_from_db()
    assert booking.status == "CANCELED"


# --- Daraja faults ------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_push_refused_by_daraja_fails_the_payment_with_its_reason_and_keeps_the_booking(simulator):
    booking = _booking()
    before = _credit(booking.primary_guest)
    simulator.directive(MSISDN, push_response="error_400")
    payment = _pay(booking, 4000)
    assert payment.status == "FAILED" and payment.checkout_request_id is None
    assert payment.failure_reason.startswith("M-Pesa refused the request")
    booking.refresh_from_db()
    assert booking.status == "PENDING" and booking.amount_in_flight == 0
    assert _credit(booking.primary_guest) == before
    assert _actions(payment) == ["payment.created", "payment.rejected"]
    retry = _pay(booking, 4000)  # the guest can try again at once
    assert retry.status == "PENDING"


@pytest.mark.django_db(transaction=True)
def test_a_push_without_a_definite_answer_stays_in_flight_without_a_checkout_request_id(simulator):
    for n, push_response in enumerate(["error_500", "html", "empty"]):
        phone = f"07120000{n:02d}"
        booking = _booking()
        simulator.directive(phone, push_response=push_response)
        payment = _pay(booking, 4000, phone=phone)
        assert (payment.status, payment.checkout_request_id) == ("PENDING", None), push_response
        assert _actions(payment) == ["payment.created", "payment.send_unanswered"]
        booking.refresh_from_db()
        # The prompt may be on the phone: the money counts as on its way until settled.
        assert (booking.status, booking.amount_in_flight) == ("PENDING", 4000)


@pytest.mark.django_db(transaction=True)
def test_wrong_daraja_credentials_fail_the_push_not_the_booking(simulator, settings):
    settings.MPESA_CONSUMER_SECRET = "wrong"
    booking = _booking()
    payment = _pay(booking, 4000)
    assert payment.status == "FAILED" and "400.008.01" in payment.failure_reason
    booking.refresh_from_db()
    assert booking.status == "PENDING"


@pytest.mark.django_db(transaction=True)
def test_push_with_no_answer_waits_then_fails_as_unreachable_after_the_deadline(simulator, settings):
    settings.MPESA_HTTP_TIMEOUT = 0.7
    settings.MPESA_SIMULATOR_SLOW_SECONDS = 2
    booking = _booking()
    simulator.directive(MSISDN, push_response="timeout")
    payment = _pay(booking, 4000)
    assert (payment.status, payment.checkout_request_id) == ("PENDING", None)
    assert payment_reconcile_pending() == 0  # nothing to query, deadline not reached
    _age(payment, settings.MPESA_PAYMENT_DEADLINE_SECONDS + 1)
    assert payment_reconcile_pending() == 1
    payment.refresh_from_db()
    assert payment.status == "FAILED" and "Could not reach M-Pesa" in payment.failure_reason
    booking.refresh_from_db()
    assert booking.status == "PENDING"

    prompt = simulator.prompts(MSISDN, state="pending")[0]  # the prompt had reached the phone after all
    simulator.respond(prompt["checkout_request_id"], "pay")
    payment = wait_for_status(payment.pk, "SUCCESS")  # a late success still wins
    assert payment.flagged and payment.checkout_request_id == prompt["checkout_request_id"]
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid) == ("PROCESSING", 4000)


@pytest.mark.django_db(transaction=True)
def test_success_for_a_push_that_got_no_answer_is_matched_by_phone_and_amount_and_flagged(simulator, settings):
    settings.MPESA_HTTP_TIMEOUT = 0.7
    settings.MPESA_SIMULATOR_SLOW_SECONDS = 2
    booking = _booking()
    simulator.directive(MSISDN, push_response="timeout")
    payment = _pay(booking, 4000)
    prompt = simulator.prompts(MSISDN, state="pending")[0]  # the prompt did reach the phone
    simulator.respond(prompt["checkout_request_id"], "pay")
    payment = wait_for_status(payment.pk, "SUCCESS")
    assert payment.checkout_request_id == prompt["checkout_request_id"]
    assert payment.flagged and "matched by phone and amount" in payment.flag_reason
    booking.refresh_from_db()
    assert booking.amount_paid == 4000


@pytest.mark.django_db(transaction=True)
def test_push_not_sent_by_the_deadline_fails_without_being_sent(
    simulator, settings, django_capture_on_commit_callbacks
):
    booking = _booking()
    payment = make_payment(booking=booking, status="QUEUED", amount=4000, checkout_request_id=None)
    _age(payment, settings.MPESA_PAYMENT_DEADLINE_SECONDS + 1)
    Payment.objects.filter(pk=payment.pk).update(sent_at=None)
    assert payment_reconcile_pending() == 1
    payment.refresh_from_db()
    assert payment.status == "FAILED" and "not sent" in payment.failure_reason
    from mpesa.tasks import payment_send_stk_push

    payment_send_stk_push(payment.pk)  # a task that turns up late does not prompt anyone
    assert not SimulatedStkPush.objects.exists()


# --- Forged -----------------------------------------------------------------------------------------------------


def _post_callback(simulator_url: str, body, token: str = CALLBACK_TOKEN) -> requests.Response:
    return requests.post(f"{simulator_url}/payments/callback/{token}/", json=body, timeout=10)


def _success_body(checkout_request_id: str, *, amount=4000, receipt="SFORGED001", phone=254712345678) -> dict:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "1-2-3",
                "CheckoutRequestID": checkout_request_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": amount},
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20270110093015},
                        {"Name": "PhoneNumber", "Value": phone},
                    ]
                },
            }
        }
    }


@pytest.mark.django_db(transaction=True)
def test_callback_with_the_wrong_token_is_404_and_credits_nothing(simulator, live_server):
    booking = _booking()
    payment = _pay(booking, 4000)
    response = _post_callback(live_server.url, _success_body(payment.checkout_request_id), token="guessed-token")
    assert response.status_code == 404
    payment.refresh_from_db()
    assert payment.status == "PENDING"


@pytest.mark.django_db(transaction=True)
def test_callback_for_an_unknown_checkout_request_id_is_accepted_and_changes_nothing(simulator, live_server):
    booking = _booking()
    payment = _pay(booking, 4000)
    response = _post_callback(live_server.url, _success_body("ws_CO_we_never_issued", phone=254799000111))
    assert (response.status_code, response.json()) == (200, {"ResultCode": 0, "ResultDesc": "Accepted"})
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == "PENDING" and booking.amount_paid == 0


@pytest.mark.django_db(transaction=True)
def test_a_success_is_never_matched_to_a_push_that_daraja_refused(simulator, live_server):
    booking = _booking()
    simulator.directive(MSISDN, push_response="error_400")
    refused = _pay(booking, 4000)
    assert refused.status == "FAILED"
    response = _post_callback(live_server.url, _success_body("ws_CO_forged_for_a_refused_push"))
    assert response.status_code == 200
    refused.refresh_from_db()
    booking.refresh_from_db()
    assert (refused.status, refused.checkout_request_id, booking.amount_paid) == ("FAILED", None, 0)


@pytest.mark.django_db(transaction=True)
def test_tampered_amount_is_recorded_as_received_and_flagged(simulator):
    booking = _booking()
    payment = _pay(booking, 4000)
    simulator.respond(payment.checkout_request_id, "pay", amount=1)
    payment = wait_for_status(payment.pk, "SUCCESS")
    assert (payment.amount, payment.received_amount) == (4000, 1)
    assert payment.flagged and "KES 1 paid but KES 4,000 was asked" in payment.flag_reason
    booking.refresh_from_db()
    assert (booking.amount_paid, booking.balance_due) == (1, 9999)  # only what M-Pesa says was paid


@pytest.mark.django_db(transaction=True)
def test_success_from_another_phone_is_recorded_and_flagged(simulator, live_server):
    booking = _booking()
    payment = _pay(booking, 4000)
    response = _post_callback(live_server.url, _success_body(payment.checkout_request_id, phone=254799000111))
    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.status == "SUCCESS" and payment.received_phone == "254799000111"
    assert payment.flagged and "254799000111" in payment.flag_reason


@pytest.mark.django_db(transaction=True)
def test_a_receipt_already_credited_is_never_credited_again(simulator, live_server):
    booking = _booking()
    first = _pay(booking, 4000)
    assert (
        _post_callback(live_server.url, _success_body(first.checkout_request_id, receipt="SREUSED001")).status_code
        == 200
    )
    second = _pay(booking, 4000, phone="0722000333")
    body = _success_body(second.checkout_request_id, receipt="SREUSED001", phone=254722000333)
    assert _post_callback(live_server.url, body).status_code == 200
    second.refresh_from_db()
    assert second.status == "PENDING" and second.flagged and "SREUSED001" in second.flag_reason
    booking.refresh_from_db()
    assert booking.amount_paid == 4000


@pytest.mark.django_db(transaction=True)
def test_a_failure_after_a_success_is_ignored(simulator, live_server):
    booking = _booking()
    payment = _pay(booking, 4000)
    assert _post_callback(live_server.url, _success_body(payment.checkout_request_id)).status_code == 200
    failure = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "1",
                "CheckoutRequestID": payment.checkout_request_id,
                "ResultCode": 1032,
                "ResultDesc": "Request cancelled by user",
            }
        }
    }
    assert _post_callback(live_server.url, failure).status_code == 200
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == "SUCCESS" and booking.amount_paid == 4000 and booking.status == "PROCESSING"


@pytest.mark.django_db
def test_a_success_for_an_unknown_checkout_request_id_is_kept_as_unmatched():
    body = _success_body("ws_CO_unknown", phone=254700000001)
    record_id, created = callback_store(raw_body="{}", parsed=parse_stk_callback(body))
    record = callback_apply(record_id=record_id)
    assert created and record.state == CallbackRecord.State.UNMATCHED and record.payment_id is None
