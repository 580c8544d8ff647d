"""The callback ledger and the one applier (docs/daraja.md): every well-formed callback is
stored as it came before the 200, a repeat only counts another delivery, a push without a
definite answer stays in flight and its callback is adopted, a query answer about another
push is no answer, a callback that beats its push's answer waits in the ledger (nobody
sleeps), and what matches nothing is UNMATCHED (a success, for staff) or IGNORED (a failure).
"""

import datetime as dt
import json
import threading
import time
import uuid
from zoneinfo import ZoneInfo

import pytest
import requests
from django.db import connections
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import AuditEntry
from mpesa import client as daraja
from mpesa import views as callback_views
from mpesa.callbacks import parse_stk_callback
from mpesa.models import CallbackRecord, Payment
from mpesa.reconcile import callback_sweep, payment_reconcile_pending
from mpesa.selectors import callback_list_unmatched
from mpesa.settle import UNREACHABLE_REASON, callback_apply, callback_store
from mpesa.start import _payment_record_push
from reservations.models import Booking
from tests.callbacks import stk_success_body
from tests.factories import make_booking, make_payment, make_property, recompute_booking_money, start_payment
from tests.mpesa.conftest import CALLBACK_TOKEN
from tests.mpesa.fake_daraja import SPIKE_ARREST_429, fake_daraja, query_final  # noqa: F401 (fixture)

PHONE = "0712345678"
MSISDN = "254712345678"
NAIROBI = ZoneInfo("Africa/Nairobi")
ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}


# --- Helpers ---------------------------------------------------------------------------------------


def new_checkout_id() -> str:
    return "ws_CO_" + uuid.uuid4().hex[:20].upper()


def success_body(checkout_request_id: str, *, amount: int, receipt: str, phone: str = MSISDN, merchant="29115-1") -> dict:
    return stk_success_body(
        checkout_request_id, amount=amount, receipt=receipt, phone=phone, merchant_request_id=merchant
    )


def failure_body(checkout_request_id: str, code: int = 1032, desc: str = "Request cancelled by user") -> dict:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "29115-2",
                "CheckoutRequestID": checkout_request_id,
                "ResultCode": code,
                "ResultDesc": desc,
            }
        }
    }


@pytest.fixture
def post_callback(settings):
    """POST a body (a dict, or the exact text) to the callback URL through the test client."""
    settings.MPESA_CALLBACK_TOKEN = CALLBACK_TOKEN
    client = Client(raise_request_exception=False)

    def post(body):
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return client.post(f"/payments/callback/{CALLBACK_TOKEN}/", data=data, content_type="application/json")

    return post


def _booking(price=5000, nights=2, **fields) -> Booking:
    return make_booking(property=make_property(price_per_night=price), nights=nights, **fields)


def _audits(obj, action: str) -> int:
    return AuditEntry.objects.filter(object_id=str(obj.pk), action=action).count()


def _unanswered_push(booking, *, amount, phone=MSISDN, sent_ago=60, **fields) -> Payment:
    """A payment whose STK push went out and got no definite answer: in flight, no CheckoutRequestID."""
    sent = timezone.now() - dt.timedelta(seconds=sent_ago)
    payment = make_payment(
        booking=booking,
        status=fields.pop("status", "PENDING"),
        amount=amount,
        phone_number=phone,
        checkout_request_id=None,
        merchant_request_id="",
        sent_at=sent,
        **fields,
    )
    Payment.objects.filter(pk=payment.pk).update(created_at=sent)
    recompute_booking_money(booking.pk)
    payment.refresh_from_db()
    return payment


# --- 1. Stored before the 200, as it came ------------------------------------------------------------


@pytest.mark.django_db
def test_a_matched_success_is_stored_exactly_as_posted_with_its_parsed_fields(post_callback):
    booking = _booking()
    payment = make_payment(booking=booking, status="PENDING", amount=4000)
    recompute_booking_money(booking.pk)
    body = success_body(payment.checkout_request_id, amount=4000, receipt="SLD1GR2ST3", merchant="29115-34620561-1")
    body["Body"]["stkCallback"]["ResultDesc"] = "Imekamilika \u2713"  # not ASCII: kept as sent
    raw = json.dumps(body, indent=3, ensure_ascii=False) + "\n"

    response = post_callback(raw.encode())

    assert (response.status_code, response.json()) == (200, ACCEPTED)
    record = CallbackRecord.objects.get()
    assert record.raw_body == raw
    assert (record.kind, record.checkout_request_id, record.merchant_request_id) == (
        "STK",
        payment.checkout_request_id,
        "29115-34620561-1",
    )
    assert (record.result_code, record.result_desc, record.receipt, record.amount, record.phone_number) == (
        "0",
        "Imekamilika \u2713",
        "SLD1GR2ST3",
        4000,
        MSISDN,
    )
    assert record.transaction_date == dt.datetime(2027, 1, 10, 9, 30, 15, tzinfo=NAIROBI)
    assert record.dedupe_key == f"STK:{payment.checkout_request_id}:0:SLD1GR2ST3"
    assert record.deliveries == 1
    assert (record.state, record.payment_id) == ("APPLIED", payment.pk) and record.applied_at is not None
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert (payment.status, payment.mpesa_receipt_number, payment.received_amount) == ("SUCCESS", "SLD1GR2ST3", 4000)
    assert (booking.status, booking.amount_paid, booking.balance_due) == ("PROCESSING", 4000, 6000)


@pytest.mark.django_db
def test_an_unmatched_success_and_an_unknown_failure_are_stored_too(post_callback):
    success = success_body(new_checkout_id(), amount=2500, receipt="SUNM4TCH01")
    failure = failure_body(new_checkout_id())

    assert post_callback(success).status_code == 200
    assert post_callback(failure).status_code == 200

    rows = {row.result_code: row for row in CallbackRecord.objects.all()}
    assert set(rows) == {"0", "1032"}
    assert json.loads(rows["0"].raw_body) == success and json.loads(rows["1032"].raw_body) == failure
    assert (rows["0"].amount, rows["0"].receipt, rows["0"].phone_number) == (2500, "SUNM4TCH01", MSISDN)
    assert (rows["1032"].amount, rows["1032"].receipt, rows["1032"].result_desc) == (
        None,
        None,
        "Request cancelled by user",
    )
    assert not Payment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_row_is_committed_before_the_apply_step_is_queued(post_callback, monkeypatch):
    """Stored in its own transaction first: another connection already sees the row when the
    apply step is queued, so a crash while applying cannot lose the callback."""
    booking = _booking()
    payment = make_payment(booking=booking, status="PENDING", amount=4000)
    seen_by_another_connection = []
    queue = callback_views.async_task

    def queue_and_look(*args, **kwargs):
        def look():
            try:
                seen_by_another_connection.append(list(CallbackRecord.objects.values_list("checkout_request_id", "state")))
            finally:
                connections.close_all()

        thread = threading.Thread(target=look)
        thread.start()
        thread.join(10)
        return queue(*args, **kwargs)

    monkeypatch.setattr(callback_views, "async_task", queue_and_look)

    response = post_callback(success_body(payment.checkout_request_id, amount=4000, receipt="SCOMM1TTED"))

    assert response.status_code == 200
    assert seen_by_another_connection == [[(payment.checkout_request_id, "NEW")]]
    assert CallbackRecord.objects.get().state == "APPLIED"


@pytest.mark.django_db
def test_a_callback_whose_apply_task_is_lost_is_still_stored_and_applied_by_the_sweep(post_callback, monkeypatch):
    booking = _booking()
    payment = make_payment(booking=booking, status="PENDING", amount=4000)
    monkeypatch.setattr(callback_views, "async_task", lambda *args, **kwargs: None)  # the broker lost it

    response = post_callback(success_body(payment.checkout_request_id, amount=4000, receipt="SL0STTASK1"))

    assert (response.status_code, response.json()) == (200, ACCEPTED)
    record = CallbackRecord.objects.get()
    assert (record.state, record.receipt) == ("NEW", "SL0STTASK1")
    payment.refresh_from_db()
    assert payment.status == "PENDING"

    CallbackRecord.objects.filter(pk=record.pk).update(received_at=timezone.now() - dt.timedelta(minutes=1))
    assert callback_sweep() == 1
    record.refresh_from_db()
    payment.refresh_from_db()
    assert (record.state, record.payment_id, payment.status) == ("APPLIED", payment.pk, "SUCCESS")


@pytest.mark.django_db
def test_a_repeat_counts_another_delivery_and_creates_no_second_row(post_callback):
    booking = _booking()
    payment = make_payment(booking=booking, status="PENDING", amount=4000)
    body = success_body(payment.checkout_request_id, amount=4000, receipt="SREPEAT001")

    first = post_callback(body)
    record = CallbackRecord.objects.get()
    again = post_callback(body)
    # The same callback, formatted differently (Amount as 4000.0): still the same callback.
    body["Body"]["stkCallback"]["CallbackMetadata"]["Item"][0]["Value"] = 4000.0
    third = post_callback(json.dumps(body, indent=1))

    assert [r.status_code for r in (first, again, third)] == [200, 200, 200]
    assert all(r.json() == ACCEPTED for r in (first, again, third))
    assert CallbackRecord.objects.count() == 1
    repeat = CallbackRecord.objects.get()
    assert repeat.pk == record.pk and repeat.deliveries == 3
    assert repeat.raw_body == record.raw_body  # the first delivery, as it came
    assert repeat.last_received_at >= repeat.received_at
    assert (repeat.state, repeat.payment_id) == ("APPLIED", payment.pk)
    assert _audits(payment, "payment.succeeded") == 1
    booking.refresh_from_db()
    assert booking.amount_paid == 4000


@pytest.mark.django_db
def test_another_result_or_receipt_for_the_same_push_is_another_callback(post_callback):
    booking = _booking()
    payment = make_payment(booking=booking, status="PENDING", amount=4000)
    checkout = payment.checkout_request_id

    post_callback(success_body(checkout, amount=4000, receipt="SFIRST0001"))
    post_callback(success_body(checkout, amount=4000, receipt="SSECOND002"))
    post_callback(failure_body(checkout))

    keys = sorted(CallbackRecord.objects.values_list("dedupe_key", "deliveries"))
    assert keys == [
        (f"STK:{checkout}:0:SFIRST0001", 1),
        (f"STK:{checkout}:0:SSECOND002", 1),
        (f"STK:{checkout}:1032:", 1),
    ]
    payment.refresh_from_db()
    assert (payment.status, payment.mpesa_receipt_number) == ("SUCCESS", "SFIRST0001")
    booking.refresh_from_db()
    assert booking.amount_paid == 4000  # the second receipt is flagged, never credited twice


MALFORMED = {
    "not json": b"{not json",
    "no Body": json.dumps({"stkCallback": {}}),
    "a success without metadata": json.dumps(
        {"Body": {"stkCallback": {"MerchantRequestID": "1", "CheckoutRequestID": "ws_CO_1", "ResultCode": 0}}}
    ),
    "a zero amount": json.dumps(success_body("ws_CO_2", amount=0, receipt="SZERO00001")),
    "a text amount": json.dumps(success_body("ws_CO_3", amount="4000", receipt="STEXT00001")),  # type: ignore[arg-type]
    "a NUL character": json.dumps(failure_body("ws_CO_4", desc="cancel\u0000led")),
    "no CheckoutRequestID": json.dumps(failure_body("")),
    "a JSON list": json.dumps([failure_body("ws_CO_5")]),
}


@pytest.mark.django_db
@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_body_is_400_and_stores_nothing(post_callback, body):
    response = post_callback(body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_callback"
    assert not CallbackRecord.objects.exists()


# --- 2. A push without a definite answer stays in flight; its callback is adopted ------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("answer", ["error_500", "429", "empty", "html"])
def test_a_push_answered_without_a_definite_answer_stays_pending_and_its_callback_is_adopted(
    request, answer, live_server, settings
):
    if answer == "429":
        # The simulator has no 429 mode: a gateway's spike arrest, from a fake Daraja.
        fake = request.getfixturevalue("fake_daraja")
        fake.push_answer = SPIKE_ARREST_429
        settings.MPESA_CALLBACK_BASE_URL = live_server.url
        settings.MPESA_CALLBACK_TOKEN = CALLBACK_TOKEN
    else:
        request.getfixturevalue("simulator").directive(MSISDN, push_response=answer)
    booking = _booking()
    api = APIClient()
    api.force_authenticate(booking.primary_guest)

    response = api.post(
        f"/api/bookings/{booking.pk}/payments/", {"phone_number": PHONE, "amount": 10_000}, format="json"
    )

    assert response.status_code == 202, response.content
    payment = Payment.objects.get(pk=response.json()["id"])
    assert (payment.status, payment.checkout_request_id, payment.failure_reason) == ("PENDING", None, "")
    assert payment.sent_at is not None
    assert _audits(payment, "payment.send_unanswered") == 1 and _audits(payment, "payment.rejected") == 0
    booking.refresh_from_db()
    assert (booking.status, booking.amount_in_flight) == ("PENDING", 10_000)

    # The prompt had reached the phone after all: M-Pesa reports the payment under a
    # CheckoutRequestID we never saw.
    unknown = new_checkout_id()
    callback = requests.post(
        f"{live_server.url}/payments/callback/{CALLBACK_TOKEN}/",
        json=success_body(unknown, amount=10_000, receipt="SAD0PT0001"),
        timeout=10,
    )

    assert (callback.status_code, callback.json()) == (200, ACCEPTED)
    payment.refresh_from_db()
    assert (payment.status, payment.checkout_request_id, payment.mpesa_receipt_number, payment.received_amount) == (
        "SUCCESS",
        unknown,
        "SAD0PT0001",
        10_000,
    )
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.balance_due, booking.amount_in_flight) == (
        "CONFIRMED",
        10_000,
        0,
        0,
    )
    record = CallbackRecord.objects.get()
    assert (record.state, record.payment_id, record.checkout_request_id) == ("APPLIED", payment.pk, unknown)
    assert _audits(payment, "payment.succeeded") == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("answer", ["error_400", "locked"])
def test_only_a_definite_refusal_fails_the_push(simulator, answer):
    booking = _booking()
    if answer == "locked":
        # Daraja's 500.001.1001 "Unable to lock subscriber": another prompt is on that phone.
        other = _booking()
        start_payment(booking_id=other.pk, user=other.primary_guest, phone_number=PHONE, amount=10_000)
        Payment.objects.filter(booking=other).update(phone_number="254700000001")  # our side lets it through
    else:
        simulator.directive(MSISDN, push_response=answer)

    payment = start_payment(booking_id=booking.pk, user=booking.primary_guest, phone_number=PHONE, amount=10_000)

    payment.refresh_from_db()
    assert payment.status == "FAILED" and payment.checkout_request_id is None
    assert "M-Pesa refused the request" in payment.failure_reason
    booking.refresh_from_db()
    # Daraja refused before prompting: nobody paid nor failed to pay, the hold stays.
    assert (booking.status, booking.amount_in_flight) == ("PENDING", 0)


# --- 3. A query answer about another CheckoutRequestID is no answer --------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("code, desc", [("0", "The service request is processed successfully."),
                                        ("1032", "Request cancelled by user")])
def test_a_query_answer_about_another_checkout_request_id_changes_nothing(fake_daraja, code, desc):
    booking = _booking()
    sent = timezone.now() - dt.timedelta(seconds=60)
    payment = make_payment(
        booking=booking, status="PENDING", amount=4000, sent_at=sent, next_query_at=sent + dt.timedelta(seconds=30)
    )
    recompute_booking_money(booking.pk)
    someone_elses = new_checkout_id()
    fake_daraja.query_answer = query_final(someone_elses, code, desc)
    before = timezone.now()

    assert payment_reconcile_pending() == 1

    asked = [body for path, body in fake_daraja.received if path == "/mpesa/stkpushquery/v1/query"]
    assert [body["CheckoutRequestID"] for body in asked] == [payment.checkout_request_id]
    payment.refresh_from_db()
    assert (payment.status, payment.result_code, payment.received_amount) == ("PENDING", None, None)
    assert payment.query_attempts == 1  # the attempt is recorded...
    assert payment.last_query_result["CheckoutRequestID"] == someone_elses
    assert payment.next_query_at > before  # ...and the next one scheduled
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.amount_in_flight) == ("PENDING", 0, 4000)
    assert not AuditEntry.objects.filter(object_id=str(payment.pk), action__in=["payment.succeeded", "payment.failed"])

    # The same fake answering about our push is believed.
    fake_daraja.query_answer = query_final(payment.checkout_request_id, code, desc)
    Payment.objects.filter(pk=payment.pk).update(next_query_at=timezone.now())
    payment_reconcile_pending()
    payment.refresh_from_db()
    assert payment.status == ("SUCCESS" if code == "0" else "FAILED")


# --- 4. A callback before its push's answer waits in the ledger; nobody sleeps --------------------------


def _queued_and_sent(booking, amount=10_000) -> Payment:
    """The worker has claimed the push (sent_at) and is waiting for Daraja's answer."""
    payment = start_payment(booking_id=booking.pk, user=booking.primary_guest, phone_number=PHONE, amount=amount)
    # No commit in this test, so the push task never runs: we play its steps.
    Payment.objects.filter(pk=payment.pk).update(sent_at=timezone.now())
    payment.refresh_from_db()
    assert (payment.status, payment.checkout_request_id) == ("QUEUED", None)
    return payment


def _accepted(checkout_request_id: str) -> daraja.StkPushAccepted:
    return daraja.StkPushAccepted(
        merchant_request_id="29115-9", checkout_request_id=checkout_request_id, customer_message="", raw={}
    )


@pytest.mark.django_db
def test_a_callback_stored_before_the_push_answer_is_applied_once_the_answer_is_saved():
    booking = _booking()
    payment = _queued_and_sent(booking)
    checkout = new_checkout_id()
    body = success_body(checkout, amount=10_000, receipt="SEARLY0001")

    record_id, created = callback_store(raw_body=json.dumps(body), parsed=parse_stk_callback(body))
    record = callback_apply(record_id=record_id)

    assert created and (record.state, record.payment_id) == ("NEW", None)
    payment.refresh_from_db()
    assert payment.status == "QUEUED"

    _payment_record_push(payment_id=payment.pk, result=_accepted(checkout))

    record.refresh_from_db()
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert (record.state, record.payment_id) == ("APPLIED", payment.pk)
    assert (payment.status, payment.checkout_request_id, payment.mpesa_receipt_number) == (
        "SUCCESS",
        checkout,
        "SEARLY0001",
    )
    assert (booking.status, booking.amount_paid, booking.amount_in_flight) == ("CONFIRMED", 10_000, 0)
    assert _audits(payment, "payment.succeeded") == 1


@pytest.mark.django_db
def test_the_callback_request_neither_sleeps_nor_waits_while_a_push_is_on_its_way(post_callback, monkeypatch):
    booking = _booking()
    payment = _queued_and_sent(booking)
    post_callback("{}")  # warm up: the URLconf and the view are loaded before anything is timed
    checkouts = [new_checkout_id() for _ in range(3)]
    slept, timings = [], []
    monkeypatch.setattr(time, "sleep", lambda seconds: slept.append(seconds))

    for n, checkout in enumerate(checkouts):
        started = time.perf_counter()
        response = post_callback(success_body(checkout, amount=10_000, receipt=f"SNOSLEEP0{n}"))
        timings.append(time.perf_counter() - started)
        assert (response.status_code, response.json()) == (200, ACCEPTED)

    monkeypatch.undo()
    assert slept == [], "a callback request slept"
    # The fastest of three, so a busy test machine does not decide it: waiting for the
    # push's answer in the request would cost seconds every time.
    assert min(timings) < 0.5, f"the callbacks took {[round(t, 2) for t in timings]} s"
    assert list(CallbackRecord.objects.values_list("state", flat=True)) == ["NEW"] * 3

    _payment_record_push(payment_id=payment.pk, result=_accepted(checkouts[0]))
    record = CallbackRecord.objects.get(checkout_request_id=checkouts[0])
    assert (record.state, record.payment_id) == ("APPLIED", payment.pk)
    payment.refresh_from_db()
    assert payment.status == "SUCCESS"


@pytest.mark.django_db
def test_a_callback_whose_push_then_gets_no_definite_answer_is_adopted_when_that_answer_is_saved():
    booking = _booking()
    payment = _queued_and_sent(booking)
    body = success_body(new_checkout_id(), amount=10_000, receipt="SSWEPT0001")
    record_id, _ = callback_store(raw_body=json.dumps(body), parsed=parse_stk_callback(body))
    assert callback_apply(record_id=record_id).state == "NEW"

    _payment_record_push(payment_id=payment.pk, result=daraja.Indeterminate(reason="HTTP 502", http_status=502))

    record = CallbackRecord.objects.get(pk=record_id)
    payment.refresh_from_db()
    assert (record.state, record.payment_id) == ("APPLIED", payment.pk)
    assert (payment.status, payment.mpesa_receipt_number) == ("SUCCESS", "SSWEPT0001")
    assert payment.checkout_request_id == body["Body"]["stkCallback"]["CheckoutRequestID"]
    assert callback_sweep() == 0  # nothing left for the sweep


# --- 7. What matches nothing: UNMATCHED (a success) or IGNORED (a failure) ---------------------------


def _nothing(booking):
    return None


def _other_amount(booking):
    _unanswered_push(booking, amount=4000)


def _other_phone(booking):
    _unanswered_push(booking, amount=2500, phone="254799999999")


def _two_candidates(booking):
    _unanswered_push(booking, amount=2500)
    _unanswered_push(_booking(), amount=2500)


def _answered_push(booking):
    make_payment(booking=booking, status="PENDING", amount=2500, sent_at=timezone.now())


def _too_old(booking):
    _unanswered_push(booking, amount=2500, sent_ago=25 * 3600)


def _settled_push(booking):
    _unanswered_push(booking, amount=2500, status="FAILED", failure_reason="Request cancelled by user")


NO_ADOPTER = {
    "no payment at all": _nothing,
    "an unanswered push of another amount": _other_amount,
    "an unanswered push to another phone": _other_phone,
    "two unanswered pushes could be it": _two_candidates,
    "the push got its own CheckoutRequestID": _answered_push,
    "the push is older than a day": _too_old,
    "the push failed for another reason": _settled_push,
}


@pytest.mark.django_db
@pytest.mark.parametrize("setup", NO_ADOPTER.values(), ids=NO_ADOPTER.keys())
def test_a_success_that_matches_nothing_and_no_push_can_adopt_is_unmatched(post_callback, setup):
    booking = _booking()
    setup(booking)
    payments_before = list(Payment.objects.order_by("pk").values_list("pk", "status", "checkout_request_id"))

    response = post_callback(success_body(new_checkout_id(), amount=2500, receipt="SL0ST00001"))

    assert (response.status_code, response.json()) == (200, ACCEPTED)
    record = CallbackRecord.objects.get()
    assert (record.state, record.payment_id) == ("UNMATCHED", None)
    assert record.applied_at is not None and record.outcome_note
    assert list(callback_list_unmatched()) == [record]
    assert _audits(record, "callback.unmatched") == 1
    assert list(Payment.objects.order_by("pk").values_list("pk", "status", "checkout_request_id")) == payments_before
    booking.refresh_from_db()
    assert booking.amount_paid == 0


@pytest.mark.django_db
def test_a_failure_for_an_unknown_checkout_request_id_is_ignored(post_callback):
    booking = _booking()
    _unanswered_push(booking, amount=2500)  # failures carry no phone: never adopted

    response = post_callback(failure_body(new_checkout_id()))

    assert (response.status_code, response.json()) == (200, ACCEPTED)
    record = CallbackRecord.objects.get()
    assert (record.state, record.payment_id) == ("IGNORED", None) and record.outcome_note
    assert not callback_list_unmatched().exists()
    assert _audits(record, "callback.unmatched") == 0
    assert Payment.objects.get().status == "PENDING"


@pytest.mark.django_db
def test_an_unmatched_success_is_applied_when_its_push_answer_is_saved_after_all():
    """A push whose answer came after the wait window: its callback was called unmatched,
    and is applied (not left on the staff queue) once the CheckoutRequestID is saved."""
    booking = _booking()
    payment = _queued_and_sent(booking)
    Payment.objects.filter(pk=payment.pk).update(sent_at=timezone.now() - dt.timedelta(minutes=5))
    # Another amount than the push asked: no adoption, so UNMATCHED.
    body = success_body(new_checkout_id(), amount=9_000, receipt="SSL0WANS01")
    record_id, _ = callback_store(raw_body=json.dumps(body), parsed=parse_stk_callback(body))
    assert callback_apply(record_id=record_id).state == "UNMATCHED"

    _payment_record_push(payment_id=payment.pk, result=_accepted(body["Body"]["stkCallback"]["CheckoutRequestID"]))

    record = CallbackRecord.objects.get(pk=record_id)
    payment.refresh_from_db()
    assert (record.state, record.payment_id) == ("APPLIED", payment.pk)
    assert (payment.status, payment.received_amount) == ("SUCCESS", 9_000)
    assert not callback_list_unmatched().exists()


@pytest.mark.django_db
def test_a_success_after_the_deadline_failed_an_unanswered_push_is_still_adopted(post_callback):
    booking = _booking()
    payment = _unanswered_push(booking, amount=10_000, status="FAILED", failure_reason=UNREACHABLE_REASON)

    post_callback(success_body(new_checkout_id(), amount=10_000, receipt="SLATE00001"))

    record = CallbackRecord.objects.get()
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert (record.state, record.payment_id) == ("APPLIED", payment.pk)
    assert (payment.status, payment.mpesa_receipt_number) == ("SUCCESS", "SLATE00001")
    assert (booking.status, booking.amount_paid) == ("CONFIRMED", 10_000)
