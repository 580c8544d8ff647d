"""The callback ledger under races, with real threads, each on its own database connection
(PostgreSQL, and SQLite with a file database: tests/settings): the same callback posted ten
times at once is one row with ten deliveries and one credit, and a callback that Daraja
posts before answering our push waits in the ledger without holding the request.
"""

import datetime as dt
import json
import time
import uuid

import pytest
import requests
from django.utils import timezone

from core.models import AuditEntry
from mpesa.callbacks import parse_stk_callback
from mpesa.models import CallbackRecord, Payment
from mpesa.settle import Outcome, callback_apply, callback_store, payment_settle
from tests.callbacks import stk_success_body
from tests.processes import run_together
from tests.factories import make_booking, make_payment, make_property, recompute_booking_money, start_payment
from tests.mpesa.conftest import CALLBACK_TOKEN
from tests.mpesa.fake_daraja import accepted, fake_daraja  # noqa: F401 (fixture)

PHONE = "0712345678"
MSISDN = "254712345678"
TIMES = 10



def _success(checkout_request_id: str, *, amount: int, receipt: str) -> dict:
    return stk_success_body(checkout_request_id, amount=amount, receipt=receipt, phone=MSISDN)


def _pending_payment(amount=4000):
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    payment = make_payment(booking=booking, status="PENDING", amount=amount)
    recompute_booking_money(booking.pk)
    return booking, payment


def _assert_credited_once(booking, payment, receipt: str) -> None:
    record = CallbackRecord.objects.get()
    assert record.deliveries == TIMES
    assert (record.state, record.payment_id, record.receipt) == ("APPLIED", payment.pk, receipt)
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert (payment.status, payment.mpesa_receipt_number, payment.received_amount) == ("SUCCESS", receipt, 4000)
    assert (booking.status, booking.amount_paid, booking.balance_due, booking.amount_in_flight) == (
        "PROCESSING",
        4000,
        6000,
        0,
    )
    assert AuditEntry.objects.filter(object_id=str(payment.pk), action="payment.succeeded").count() == 1
    assert Payment.objects.filter(booking=booking).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_callback_posted_ten_times_at_once_is_one_row_and_one_credit(live_server, settings):
    settings.MPESA_CALLBACK_TOKEN = CALLBACK_TOKEN
    booking, payment = _pending_payment()
    body = _success(payment.checkout_request_id, amount=4000, receipt="SRACE10X01")
    url = f"{live_server.url}/payments/callback/{CALLBACK_TOKEN}/"

    results = run_together([lambda: requests.post(url, json=body, timeout=30) for _ in range(TIMES)])

    assert [getattr(r, "status_code", r) for r in results] == [200] * TIMES, results
    assert all(r.json() == {"ResultCode": 0, "ResultDesc": "Accepted"} for r in results)
    _assert_credited_once(booking, payment, "SRACE10X01")


@pytest.mark.django_db(transaction=True)
def test_ten_workers_storing_and_applying_the_same_callback_at_once_credit_once():
    """The view's two steps (store, then apply) run by ten threads at once: also the case of
    the apply task and the reconcile sweep picking up the same row."""
    booking, payment = _pending_payment()
    body = _success(payment.checkout_request_id, amount=4000, receipt="SRACE10X02")
    raw = json.dumps(body)

    def deliver():
        record_id, created = callback_store(raw_body=raw, parsed=parse_stk_callback(body))
        return created, callback_apply(record_id=record_id).state

    results = run_together([deliver for _ in range(TIMES)])

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(created for created, _ in results) == [False] * (TIMES - 1) + [True]
    _assert_credited_once(booking, payment, "SRACE10X02")


@pytest.mark.django_db
def test_an_applier_that_read_the_row_before_another_applied_it_leaves_it_applied():
    """The interleaving behind the race above, one step at a time: two appliers (the apply
    task and the sweep, or the task and the push-answer step) both read the row as NEW; the
    first settles the payment, the second finds it settled. The row stays APPLIED to its
    payment: it must not be rewritten as IGNORED ("already settled")."""
    booking, payment = _pending_payment()
    body = _success(payment.checkout_request_id, amount=4000, receipt="SINTERLV01")
    record_id, _ = callback_store(raw_body=json.dumps(body), parsed=parse_stk_callback(body))
    seen_new = CallbackRecord.objects.get(pk=record_id)  # what the second applier read

    assert callback_apply(record_id=record_id).state == "APPLIED"
    payment_settle(payment_id=payment.pk, outcome=Outcome.from_callback(seen_new), callback_record_id=record_id)

    record = CallbackRecord.objects.get(pk=record_id)
    assert (record.state, record.payment_id) == ("APPLIED", payment.pk)
    assert AuditEntry.objects.filter(object_id=str(payment.pk), action="payment.succeeded").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_callback_daraja_posts_before_answering_our_push_waits_in_the_ledger(fake_daraja, live_server, settings):
    """Over real HTTP: Daraja calls our CallBackURL while our push's HTTP answer is still on
    its way. The callback request only stores and acknowledges, at once; the payment is
    settled as soon as the push's answer is saved."""
    settings.MPESA_CALLBACK_BASE_URL = live_server.url
    settings.MPESA_CALLBACK_TOKEN = CALLBACK_TOKEN
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    checkout = "ws_CO_" + uuid.uuid4().hex[:20].upper()
    seen = {}

    def callback_first(push: dict) -> None:
        started = time.perf_counter()
        response = requests.post(
            push["CallBackURL"], json=_success(checkout, amount=push["Amount"], receipt="SBEF0RE001"), timeout=10
        )
        seen["elapsed"] = time.perf_counter() - started
        seen["status"] = response.status_code
        seen["ledger"] = list(CallbackRecord.objects.values_list("state", "payment_id"))
        seen["payment"] = list(Payment.objects.values_list("status", "checkout_request_id"))

    fake_daraja.on_push = callback_first
    fake_daraja.push_answer = accepted(checkout)
    # Warm up: the live server has loaded the URLconf and the view before anything is timed.
    assert requests.post(f"{live_server.url}/payments/callback/{CALLBACK_TOKEN}/", data="{}", timeout=10).status_code == 400

    payment = start_payment(booking_id=booking.pk, user=booking.primary_guest, phone_number=PHONE, amount=10_000)

    assert seen["status"] == 200
    assert seen["elapsed"] < 0.5, f"the callback took {seen['elapsed']:.2f} s while our push was on its way"
    assert seen["ledger"] == [("NEW", None)] and seen["payment"] == [("QUEUED", None)]
    record = CallbackRecord.objects.get()
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert (record.state, record.payment_id) == ("APPLIED", payment.pk)
    assert (payment.status, payment.checkout_request_id, payment.mpesa_receipt_number) == (
        "SUCCESS",
        checkout,
        "SBEF0RE001",
    )
    assert (booking.status, booking.amount_paid, booking.amount_in_flight) == ("CONFIRMED", 10_000, 0)


@pytest.mark.django_db(transaction=True)
def test_a_success_from_one_phone_is_not_held_back_by_a_push_to_another_phone(live_server, settings):
    """On a busy site some push is nearly always on its way. A success that can only be one
    waiting payment's (same phone and amount, no CheckoutRequestID) is adopted at once, not
    left NEW behind an unrelated push (whose callback cannot carry this phone and amount)."""
    settings.MPESA_CALLBACK_TOKEN = CALLBACK_TOKEN
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    waiting = make_payment(
        booking=booking,
        status="PENDING",
        amount=10_000,
        checkout_request_id=None,
        merchant_request_id="",
        sent_at=timezone.now() - dt.timedelta(seconds=60),
    )
    other = make_booking(property=make_property(price_per_night=3000), nights=1)
    make_payment(  # another guest's push: the worker is calling Daraja right now
        booking=other,
        status="QUEUED",
        amount=3000,
        phone_number="254700000002",
        checkout_request_id=None,
        merchant_request_id="",
        sent_at=timezone.now(),
    )
    checkout = "ws_CO_" + uuid.uuid4().hex[:20].upper()

    response = requests.post(
        f"{live_server.url}/payments/callback/{CALLBACK_TOKEN}/",
        json=_success(checkout, amount=10_000, receipt="SBUSY00001"),
        timeout=10,
    )

    assert response.status_code == 200
    record = CallbackRecord.objects.get()
    assert (record.state, record.payment_id) == ("APPLIED", waiting.pk)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.checkout_request_id) == ("SUCCESS", checkout)
