"""The Daraja callback view: token, strict validation, always 200 for valid bodies, never a 500."""

import copy
import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.db.models import F
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.models import AuditEntry
from mpesa.models import Payment
from reservations.models import Booking
from tests.factories import make_booking, make_payment, make_property

TOKEN = "view-test-token-0123456789abcdef"
ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}


@pytest.fixture
def callback(settings):
    settings.MPESA_CALLBACK_TOKEN = TOKEN
    client = Client(raise_request_exception=False)

    def post(body, *, token=TOKEN, raw: bool = False):
        data = body if raw else json.dumps(body)
        return client.post(f"/payments/callback/{token}/", data=data, content_type="application/json")

    return post


@pytest.fixture
def pending(db):
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    return make_payment(booking=booking, status="PENDING", amount=4000)


def success(payment, **items) -> dict:
    values = {
        "Amount": 4000,
        "MpesaReceiptNumber": "SAB1CD2EF3",
        "TransactionDate": 20270110093015,
        "PhoneNumber": 254712345678,
        **items,
    }
    item_list = [{"Name": name, "Value": value} for name, value in values.items() if value is not None]
    item_list.insert(2, {"Name": "Balance"})
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": payment.merchant_request_id or "29115-34620561-1",
                "CheckoutRequestID": payment.checkout_request_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {"Item": item_list},
            }
        }
    }


def test_wrong_token_is_404(callback, pending):
    response = callback(success(pending), token="wrong-token-0123456789abcdef")
    assert response.status_code == 404
    pending.refresh_from_db()
    assert pending.status == "PENDING"


def test_no_configured_token_means_every_callback_is_404(callback, pending, settings):
    settings.MPESA_CALLBACK_TOKEN = ""
    assert callback(success(pending)).status_code == 404
    assert callback(success(pending), token="x").status_code == 404


def test_get_with_the_right_token_is_405(callback, settings):
    assert Client().get(f"/payments/callback/{TOKEN}/").status_code == 405


def test_opt_in_ip_allow_list_refuses_other_sources(callback, pending, settings):
    settings.MPESA_ALLOWED_CALLBACK_IPS = ["196.201.214.200"]
    assert callback(success(pending)).status_code == 404  # the test client comes from 127.0.0.1
    settings.MPESA_ALLOWED_CALLBACK_IPS = ["127.0.0.1"]
    assert callback(success(pending)).status_code == 200


def test_valid_success_with_a_float_amount_credits_whole_shillings(callback, pending):
    response = callback(success(pending, Amount=4000.00))
    assert (response.status_code, response.json()) == (200, ACCEPTED)
    pending.refresh_from_db()
    assert (pending.status, pending.received_amount, pending.mpesa_receipt_number) == ("SUCCESS", 4000, "SAB1CD2EF3")
    assert pending.transaction_date == dt.datetime(2027, 1, 10, 9, 30, 15, tzinfo=ZoneInfo("Africa/Nairobi"))
    assert pending.raw_callback == success(pending, Amount=4000.0)
    pending.booking.refresh_from_db()
    assert (pending.booking.amount_paid, pending.booking.status) == (4000, "PROCESSING")


def test_items_are_read_by_name_in_any_order_and_optional_ones_may_be_missing(callback, pending):
    body = success(pending, TransactionDate=None, PhoneNumber=None)
    body["Body"]["stkCallback"]["CallbackMetadata"]["Item"].reverse()
    assert callback(body).status_code == 200
    pending.refresh_from_db()
    assert (pending.status, pending.received_amount, pending.received_phone) == ("SUCCESS", 4000, "")
    assert not pending.flagged


def test_repeat_is_200_and_changes_nothing(callback, pending):
    assert callback(success(pending)).status_code == 200
    entries = AuditEntry.objects.count()
    pending.refresh_from_db()
    updated = pending.updated_at
    assert callback(success(pending)).json() == ACCEPTED
    pending.refresh_from_db()
    assert pending.updated_at == updated and AuditEntry.objects.count() == entries


def test_failure_callback_is_recorded_with_its_code_as_text(callback, pending):
    body = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "1",
                "CheckoutRequestID": pending.checkout_request_id,
                "ResultCode": 1032,
                "ResultDesc": "Request cancelled by user",
            }
        }
    }
    assert callback(body).status_code == 200
    pending.refresh_from_db()
    assert (pending.status, pending.result_code, pending.result_desc) == ("FAILED", "1032", "Request cancelled by user")
    assert pending.raw_callback == body


def test_non_numeric_result_codes_are_kept_as_text(callback, pending):
    body = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "1",
                "CheckoutRequestID": pending.checkout_request_id,
                "ResultCode": "SFC_IC0003",
                "ResultDesc": "Wrong PartyB",
            }
        }
    }
    assert callback(body).status_code == 200
    pending.refresh_from_db()
    assert (pending.status, pending.result_code) == ("FAILED", "SFC_IC0003")


def _mutate(body, path, value):
    node = body
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return body


_DELETE = object()
CB = ("Body", "stkCallback")
ITEMS = (*CB, "CallbackMetadata", "Item")


@pytest.mark.parametrize(
    "path, value",
    [
        (("Body",), _DELETE),
        (("Body",), []),
        (CB, "text"),
        ((*CB, "CheckoutRequestID"), _DELETE),
        ((*CB, "CheckoutRequestID"), 12345),
        ((*CB, "CheckoutRequestID"), "x" * 65),
        ((*CB, "MerchantRequestID"), None),
        ((*CB, "ResultCode"), _DELETE),
        ((*CB, "ResultCode"), True),
        ((*CB, "ResultCode"), 0.5),
        ((*CB, "ResultCode"), {"code": 0}),
        ((*CB, "CallbackMetadata"), _DELETE),
        ((*CB, "CallbackMetadata"), {"Item": "Amount"}),
        ((*ITEMS, 0), {"Value": 4000}),
        ((*ITEMS, 0, "Value"), "4000"),
        ((*ITEMS, 0, "Value"), 4000.5),
        ((*ITEMS, 0, "Value"), 0),
        ((*ITEMS, 0, "Value"), -4000),
        ((*ITEMS, 0, "Value"), 10**30),
        ((*ITEMS, 0, "Value"), None),
        ((*ITEMS, 1, "Value"), 123),
        ((*ITEMS, 1, "Value"), "NOT A RECEIPT"),
        ((*ITEMS, 3, "Value"), "yesterday"),
        ((*ITEMS, 3, "Value"), 20271399999999),
        ((*ITEMS, 4, "Value"), "+254 712"),
        ((*ITEMS, 4, "Value"), -1),
    ],
)
def test_malformed_callbacks_are_400_and_change_nothing(callback, pending, path, value):
    response = callback(_mutate(success(pending), path, value))
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_callback"
    pending.refresh_from_db()
    assert pending.status == "PENDING"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b"null",
        b'{"Body": NaN}',
        b'{"Body": {"stkCallback": Infinity}}',
        b"\xff\xfe",
        b"[" * 100_000,
    ],
)
def test_bodies_that_are_not_json_objects_are_400(callback, db, raw):
    assert callback(raw, raw=True).status_code == 400


def test_duplicate_item_names_are_ambiguous_and_refused(callback, pending):
    body = success(pending)
    body["Body"]["stkCallback"]["CallbackMetadata"]["Item"].append({"Name": "Amount", "Value": 1})
    assert callback(body).status_code == 400


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values)
@pytest.mark.django_db
def test_arbitrary_json_is_never_a_500(callback, body):
    assert callback(body).status_code in (200, 400)


# A valid success, then up to three random edits: each path gets a plausible value, any JSON
# value, or is deleted. No edit at all is a valid callback, so the apply path is exercised too.
FUZZ_EDITS = {
    (*CB, "CheckoutRequestID"): st.sampled_from(["ws_CO_TEST_FUZZ", "ws_CO_unknown"]),
    (*CB, "MerchantRequestID"): st.just("29115-34620561-1"),
    (*CB, "ResultCode"): st.sampled_from([0, "0", 1032, "1032", 2001, "SFC_IC0003"]),
    (*CB, "ResultDesc"): st.text(max_size=30),
    (*CB, "CallbackMetadata"): st.just({"Item": []}),
    (*ITEMS, 0, "Value"): st.sampled_from([4000, 4000.0, 1, 3999, 10_000]),
    (*ITEMS, 0, "Name"): st.sampled_from(["Amount", "amount", "Balance"]),
    (*ITEMS, 1, "Value"): st.sampled_from(["SFUZZ00001", "SFUZZ00002"]),
    (*ITEMS, 2, "Value"): st.integers(),
    (*ITEMS, 3, "Value"): st.sampled_from([20270110093015, "20270110093015"]),
    (*ITEMS, 4, "Value"): st.sampled_from([254712345678, "254712345678", 254799000111]),
}
fuzz_edits = st.lists(
    st.sampled_from(sorted(FUZZ_EDITS, key=str)).flatmap(
        lambda path: st.tuples(st.just(path), FUZZ_EDITS[path] | json_values | st.just(_DELETE))
    ),
    max_size=3,
)


@hypothesis_settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=fuzz_edits)
@pytest.mark.django_db
def test_callback_shaped_fuzz_is_400_or_applied_and_never_credits_more_than_recorded(callback, edits):
    payment = Payment.objects.filter(checkout_request_id="ws_CO_TEST_FUZZ").first()
    if payment is None:
        booking = make_booking(property=make_property(price_per_night=5000), nights=2)
        payment = make_payment(booking=booking, status="PENDING", amount=4000, checkout_request_id="ws_CO_TEST_FUZZ")
    if edits and edits[0][0] == (*CB, "ResultDesc"):  # now and then, start again from a pending payment
        Payment.objects.filter(pk=payment.pk).update(
            status="PENDING", received_amount=None, mpesa_receipt_number=None, result_code=None, flagged=False
        )
        Booking.objects.filter(pk=payment.booking_id).update(
            status="PENDING", amount_paid=0, balance_due=F("total_price"), canceled_at=None
        )
    body = success(payment, MpesaReceiptNumber="SFUZZ00001")
    for path, value in edits:
        try:
            _mutate(body, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced the parent
    assert callback(copy.deepcopy(body)).status_code in (200, 400)
    payment.refresh_from_db()
    payment.booking.refresh_from_db()
    # Exactly what the one recorded success says, but never more than the payment asked for.
    credited = min(payment.received_amount, payment.amount) if payment.status == "SUCCESS" else 0
    assert payment.booking.amount_paid == credited
    assert Payment.objects.filter(booking=payment.booking).count() == 1
