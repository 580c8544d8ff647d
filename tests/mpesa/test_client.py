"""The Daraja client: Nairobi timestamps, the Password, the 11 fields, tokens, and every
answer shape, against the simulator over real HTTP."""

import base64
import datetime as dt

import pytest
from django.core.cache import cache

from mpesa import client as daraja
from mpesa.simulator.models import SimulatedStkPush, SimulatorDirective

MSISDN = "254712345678"
FIELDS = {
    "BusinessShortCode",
    "Password",
    "Timestamp",
    "TransactionType",
    "Amount",
    "PartyA",
    "PartyB",
    "PhoneNumber",
    "CallBackURL",
    "AccountReference",
    "TransactionDesc",
}


def _push(client=None, **overrides):
    kwargs = {
        "phone_number": MSISDN,
        "amount": 150,
        "account_reference": "NX7F3K2Q",
        "description": "Nexus booking",
        "callback_url": "http://127.0.0.1:9/payments/callback/anything/",
    }
    kwargs.update(overrides)
    return (client or daraja.DarajaClient()).stk_push(**kwargs)


def test_timestamp_is_africa_nairobi_time_whatever_the_server_zone():
    utc_moment = dt.datetime(2027, 1, 10, 6, 30, 15, tzinfo=dt.UTC)
    assert daraja.daraja_timestamp(utc_moment) == "20270110093015"
    with pytest.raises(ValueError):
        daraja.daraja_timestamp(dt.datetime(2027, 1, 10, 6, 30, 15))


def test_password_is_base64_of_shortcode_passkey_and_the_same_timestamp(settings):
    client = daraja.DarajaClient(shortcode="174379", passkey="pass-key")
    payload = client.build_stk_push_payload(
        phone_number=MSISDN, amount=10, account_reference="NX1", description="d", callback_url="https://x.example/cb/"
    )
    decoded = base64.b64decode(payload["Password"]).decode()
    assert decoded == "174379" + "pass-key" + payload["Timestamp"]
    now_in_nairobi = dt.datetime.now(daraja.NAIROBI)
    sent = dt.datetime.strptime(payload["Timestamp"], "%Y%m%d%H%M%S").replace(tzinfo=daraja.NAIROBI)
    assert abs((now_in_nairobi - sent).total_seconds()) < 5


def test_push_payload_has_exactly_the_eleven_fields_with_sanitised_texts():
    client = daraja.DarajaClient(shortcode="174379", passkey="k", party_b="174379")
    payload = client.build_stk_push_payload(
        phone_number="0712 345 678",
        amount=5000,
        account_reference="NX7F3K2Q/2027*extra",
        description="Booking for 3 nights: Diani!",
        callback_url="https://nexus.example.com/payments/callback/t/",
    )
    assert set(payload) == FIELDS
    assert payload["PhoneNumber"] == payload["PartyA"] == MSISDN
    assert payload["Amount"] == 5000 and payload["PartyB"] == "174379"
    assert payload["AccountReference"] == "NX7F3K2Q2027"
    assert payload["TransactionDesc"] == "Booking for 3"
    assert len(payload["AccountReference"]) <= 12 and len(payload["TransactionDesc"]) <= 13
    empty = client.build_stk_push_payload(
        phone_number=MSISDN, amount=1, account_reference="***", description="!!!", callback_url="https://x.example/"
    )
    assert empty["AccountReference"] and empty["TransactionDesc"]


@pytest.mark.parametrize("phone", ["0812345678", "+255712345678", "12345", "", "0201234567", "07123456789"])
def test_numbers_daraja_would_refuse_are_refused_before_any_http(phone):
    # Port 9 (discard) has nothing listening: any HTTP attempt would come back as a result, not an exception.
    client = daraja.DarajaClient(base_url="http://127.0.0.1:9")
    with pytest.raises(daraja.DarajaRequestInvalid):
        _push(client, phone_number=phone)


@pytest.mark.parametrize("amount", [0, -1, 250_001, 10.0, True])
def test_amounts_daraja_would_refuse_are_refused_before_any_http(amount):
    with pytest.raises(daraja.DarajaRequestInvalid):
        _push(daraja.DarajaClient(base_url="http://127.0.0.1:9"), amount=amount)


def test_network_errors_are_indeterminate_not_exceptions():
    result = daraja.DarajaClient(base_url="http://127.0.0.1:9").stk_query("ws_CO_1")
    assert isinstance(result, daraja.Indeterminate)
    pushed = _push(daraja.DarajaClient(base_url="http://127.0.0.1:9"))
    # No token could be had, so no prompt can have gone out: a clear refusal.
    assert isinstance(pushed, daraja.StkPushRejected)


@pytest.mark.django_db(transaction=True)
def test_accepted_push_reaches_the_simulator_with_the_eleven_fields(simulator):
    result = _push(amount=2500)
    assert isinstance(result, daraja.StkPushAccepted)
    assert result.checkout_request_id.startswith("ws_CO_") and result.merchant_request_id
    prompt = SimulatedStkPush.objects.get(checkout_request_id=result.checkout_request_id)
    assert (prompt.amount, prompt.phone_number, prompt.account_reference) == (2500, MSISDN, "NX7F3K2Q")


@pytest.mark.django_db(transaction=True)
def test_one_token_is_cached_and_shared_by_clients_until_shortly_before_it_expires(simulator, monkeypatch):
    lifetimes = []
    real_set = cache.set

    def recording_set(key, value, timeout=None, **kwargs):
        if key.startswith("mpesa:oauth:") and not key.endswith(":lock"):
            lifetimes.append(timeout)
        return real_set(key, value, timeout=timeout, **kwargs)

    monkeypatch.setattr(cache, "set", recording_set)
    first = daraja.DarajaClient()
    assert isinstance(_push(first), daraja.StkPushAccepted)
    token = cache.get(first._token_cache_key)
    assert token
    SimulatedStkPush.objects.update(state="cancelled")  # free the phone for the next prompt
    assert isinstance(_push(daraja.DarajaClient()), daraja.StkPushAccepted)
    assert cache.get(first._token_cache_key) == token  # the second client reused it
    assert lifetimes == [3599 - 300]  # fetched once; refreshed five minutes early


@pytest.mark.django_db(transaction=True)
def test_expired_token_is_refreshed_once_and_the_push_retried(simulator):
    client = daraja.DarajaClient()
    assert isinstance(_push(client), daraja.StkPushAccepted)
    old = cache.get(client._token_cache_key)
    SimulatedStkPush.objects.update(state="cancelled")
    simulator.expire_tokens()
    result = _push(client)
    assert isinstance(result, daraja.StkPushAccepted)
    assert cache.get(client._token_cache_key) != old
    assert SimulatedStkPush.objects.count() == 2  # one prompt per push: the refused attempt prompted nobody


@pytest.mark.django_db(transaction=True)
def test_a_token_refused_twice_is_not_retried_a_third_time(simulator):
    for _ in range(3):
        simulator.directive(MSISDN, push_response="token_expired")
    result = _push()
    assert isinstance(result, daraja.StkPushRejected)
    assert result.error_code == "404.001.03"
    assert SimulatorDirective.objects.count() == 1  # two attempts, not three
    assert not SimulatedStkPush.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_wrong_consumer_secret_is_a_rejection_with_daraja_code(simulator, settings):
    settings.MPESA_CONSUMER_SECRET = "not-the-secret"
    result = _push()
    assert isinstance(result, daraja.StkPushRejected)
    assert (result.http_status, result.error_code) == (400, "400.008.01")
    assert "Invalid Authentication" in result.reason


@pytest.mark.django_db(transaction=True)
def test_only_a_400_with_a_daraja_error_code_is_a_rejection(simulator):
    simulator.directive(MSISDN, push_response="error_400")
    result = _push()
    assert isinstance(result, daraja.StkPushRejected)
    assert (result.http_status, result.error_code) == (400, "400.002.02")
    assert result.error_message
    assert not SimulatedStkPush.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_5xx_html_and_empty_push_answers_are_indeterminate_the_prompt_may_be_out(simulator):
    for push_response, status in [("error_500", 500), ("html", 503), ("empty", 500)]:
        simulator.directive(MSISDN, push_response=push_response)
        result = _push()
        assert isinstance(result, daraja.Indeterminate), push_response
        assert result.http_status == status and "no definite answer" in result.reason


@pytest.mark.django_db(transaction=True)
def test_a_push_answered_too_late_is_indeterminate(simulator, settings):
    settings.MPESA_SIMULATOR_SLOW_SECONDS = 2
    simulator.directive(MSISDN, push_response="timeout")
    result = _push(daraja.DarajaClient(timeout=0.7))
    assert isinstance(result, daraja.Indeterminate)
    assert "timed out" in result.reason


@pytest.mark.django_db(transaction=True)
def test_query_answers_final_pending_in_both_shapes_and_indeterminate(simulator):
    client = daraja.DarajaClient()
    pushed = _push(client)
    checkout = pushed.checkout_request_id

    waiting = client.stk_query(checkout)  # the customer has not answered: HTTP 500 "being processed"
    assert isinstance(waiting, daraja.StkQueryPending)
    simulator.modes(checkout, query_mode="pending_4999")
    assert isinstance(client.stk_query(checkout), daraja.StkQueryPending)
    simulator.modes(checkout, query_mode="error_503")
    assert isinstance(client.stk_query(checkout), daraja.Indeterminate)

    simulator.modes(checkout, query_mode="normal", callback_mode="never")
    simulator.respond(checkout, "cancel")
    final = client.stk_query(checkout)
    assert isinstance(final, daraja.StkQueryFinal)
    assert final.result_code == "1032" and not final.paid
    simulator.modes(checkout, query_mode="pending_500")
    assert isinstance(client.stk_query(checkout), daraja.StkQueryPending)

    unknown = client.stk_query("ws_CO_never_issued")
    assert isinstance(unknown, daraja.Indeterminate)  # a 400 is not a ResultCode
