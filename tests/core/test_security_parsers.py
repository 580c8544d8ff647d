"""Malformed JSON of any kind is a 400, never a 500 (docs/api.md conventions, docs/security.md).

Deep nesting makes Python's JSON decoder raise RecursionError, a 5000-digit number
exceeds Python's int-from-string limit (ValueError), and a 400-digit integer parses
fine but overflows the moment anything converts it to a float.
"""

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.models import AuditEntry
from mpesa.models import Payment
from reservations.models import Booking
from tests.factories import UserFactory, future_date, make_booking, make_payment, make_property

DEEPLY_NESTED = b"[" * 100_000 + b"]" * 100_000
NESTED_IN_AN_OBJECT = b'{"property": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
TOO_MANY_DIGITS = b'{"amount": ' + b"9" * 5000 + b', "phone_number": "0712345678"}'
CALLBACK_TOKEN = "parser-test-token-0123456789abcdef"


def _post_raw(client, path: str, raw: bytes):
    return client.generic("POST", path, raw, content_type="application/json")


def _assert_parse_error(response):
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == "parse_error"
    assert body["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [DEEPLY_NESTED, NESTED_IN_AN_OBJECT, TOO_MANY_DIGITS])
@pytest.mark.parametrize("path", ["/api/auth/register/", "/api/auth/token/"])
def test_deeply_nested_or_huge_json_to_unauthenticated_endpoints_is_400_parse_error(path, raw):
    client = APIClient(raise_request_exception=False)
    _assert_parse_error(_post_raw(client, path, raw))


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [DEEPLY_NESTED, NESTED_IN_AN_OBJECT, TOO_MANY_DIGITS])
def test_deeply_nested_or_huge_json_to_booking_and_payment_endpoints_is_400_parse_error(raw):
    guest = UserFactory()
    booking = make_booking(property=make_property(), guest=guest, check_in=future_date(40))
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(guest)
    bookings_before = Booking.objects.count()

    _assert_parse_error(_post_raw(client, "/api/bookings/", raw))
    _assert_parse_error(_post_raw(client, f"/api/bookings/{booking.pk}/payments/", raw))
    assert Booking.objects.count() == bookings_before
    assert not Payment.objects.filter(booking=booking).exists()


@pytest.mark.django_db
def test_nesting_shallow_enough_to_parse_but_too_deep_to_process_is_400(guest_client):
    # 900 levels parse under the default recursion limit, but anything that walks the
    # value recursively afterwards (serializers, json.dumps into a JSONField) would not.
    raw = b'{"property": 1, "guests": ' + b"[" * 900 + b"]" * 900 + b"}"
    guest_client.raise_request_exception = False
    _assert_parse_error(_post_raw(guest_client, "/api/bookings/", raw))


def test_the_register_api_uses_the_shared_parser():
    from accounts.apis import RegisterApi
    from core.parsers import JSONParser

    parsers = RegisterApi().get_parsers()
    json_parsers = [parser for parser in parsers if parser.media_type == "application/json"]
    assert [type(parser) for parser in json_parsers] == [JSONParser]
    # Sign-up with an ID photo still needs multipart.
    assert {parser.media_type for parser in parsers} >= {"multipart/form-data", "application/x-www-form-urlencoded"}


# --- Daraja callback --------------------------------------------------------------------


@pytest.fixture
def pending(db, settings):
    settings.MPESA_CALLBACK_TOKEN = CALLBACK_TOKEN
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    return make_payment(booking=booking, status="PENDING", amount=4000)


def _success_body(payment, **values) -> str:
    items = {
        "Amount": "4000",
        "MpesaReceiptNumber": '"SAB1CD2EF3"',
        "TransactionDate": "20270110093015",
        "PhoneNumber": "254712345678",
        **values,
    }
    item_list = ", ".join(f'{{"Name": "{name}", "Value": {value}}}' for name, value in items.items())
    # Built as text: the numbers must reach the server exactly as written.
    return (
        '{"Body": {"stkCallback": {"MerchantRequestID": "29115-34620561-1", '
        f'"CheckoutRequestID": {json.dumps(payment.checkout_request_id)}, "ResultCode": 0, '
        '"ResultDesc": "The service request is processed successfully.", '
        f'"CallbackMetadata": {{"Item": [{item_list}]}}}}}}}}'
    )


def _state(payment) -> tuple:
    payment.refresh_from_db()
    booking = Booking.objects.get(pk=payment.booking_id)
    return (
        payment.status, payment.received_amount, payment.mpesa_receipt_number, payment.raw_callback,
        booking.status, booking.amount_paid, AuditEntry.objects.count(),
    )


def _callback(raw: str | bytes):
    client = Client(raise_request_exception=False)
    data = raw.encode() if isinstance(raw, str) else raw
    return client.post(f"/payments/callback/{CALLBACK_TOKEN}/", data=data, content_type="application/json")


def test_callback_body_is_built_as_daraja_sends_it(pending):
    # The helper itself yields a valid callback: the refusals below are about the numbers.
    assert _callback(_success_body(pending)).status_code == 200
    pending.refresh_from_db()
    assert (pending.status, pending.received_amount) == ("SUCCESS", 4000)


@pytest.mark.parametrize(
    "name, value",
    [
        ("Amount", "9" * 400),
        ("Amount", "-" + "9" * 400),
        ("Amount", "1" + "0" * 400 + ".0"),
        ("Amount", "4000" + "0" * 12),
        ("PhoneNumber", "2" * 400),
        ("PhoneNumber", "2547123456780000"),
        ("TransactionDate", "1" * 400),
        ("Amount", "9" * 5000),
        ("PhoneNumber", "9" * 5000),
    ],
)
def test_callback_with_a_huge_number_is_400_and_changes_nothing(pending, name, value):
    before = _state(pending)
    response = _callback(_success_body(pending, **{name: value}))
    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == "invalid_callback"
    assert _state(pending) == before


def test_callback_nested_past_the_parser_is_400_and_changes_nothing(pending):
    before = _state(pending)
    raw = _success_body(pending)[:-1] + ', "Junk": ' + "[" * 900 + "]" * 900 + "}"
    assert _callback(raw).status_code == 400
    assert _callback(DEEPLY_NESTED).status_code == 400
    assert _state(pending) == before


# --- The simulator parses JSON from strangers too -------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [DEEPLY_NESTED, TOO_MANY_DIGITS])
def test_simulator_endpoints_answer_4xx_to_nested_or_huge_json(raw):
    from mpesa.simulator.services import token_issue

    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {token_issue()}")
    for path in ("/simulator/mpesa/stkpush/v1/processrequest", "/simulator/api/directives/"):
        response = client.post(path, data=raw, content_type="application/json")
        assert response.status_code == 400, (path, response.status_code)
