"""Daraja's results for money going out: parsed strictly, stored as they came before the 200.

POST /payments/result/<token>/ and /payments/timeout/<token>/ (docs/money-out.md): every
well-formed body becomes one CallbackRecord (kind RESULT or TIMEOUT), a repeat counts a
delivery, anything else is a 400 that stores nothing, and a wrong token is a 404.
"""

import json

import pytest
from django.test import Client

from mpesa import transfer_ledger
from mpesa.models import CallbackRecord
from mpesa.results import ResultInvalid, parse_result

TOKEN = "test-token-result-5a8e2c7d1f9b3e6a"


def b2c_success(originator="nx-rf-1", conversation="AG_20261129_0000abc", *, amount=1500, receipt="NLJ41HAY6Q"):
    """A B2C result shaped like Daraja's sample: numbers, Key/Value, a lone ReferenceItem object."""
    return {
        "Result": {
            "ResultType": 0,
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "OriginatorConversationID": originator,
            "ConversationID": conversation,
            "TransactionID": receipt,
            "ResultParameters": {
                "ResultParameter": [
                    {"Key": "TransactionAmount", "Value": amount},
                    {"Key": "TransactionReceipt", "Value": receipt},
                    {"Key": "ReceiverPartyPublicName", "Value": "254712345678 - Achieng Otieno"},
                    {"Key": "TransactionCompletedDateTime", "Value": "29.11.2026 17:45:50"},
                    {"Key": "B2CUtilityAccountAvailableFunds", "Value": 10116.00},
                ]
            },
            "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": "https://example.test/t/"}},
        }
    }


def failure(originator="nx-rf-2", conversation="AG_20261129_0000def", code="2001"):
    """A failure as Daraja sends it: no ResultParameters, the code as a string."""
    return {
        "Result": {
            "ResultType": 0,
            "ResultCode": code,
            "ResultDesc": "The initiator information is invalid.",
            "OriginatorConversationID": originator,
            "ConversationID": conversation,
            "TransactionID": "NLJ0000000",
        }
    }


def status_result():
    return {
        "Result": {
            "ResultType": "0",
            "ResultCode": "0",
            "ResultDesc": "The service request has been accepted successfully.",
            "OriginatorConversationID": "10816-694520-2",
            "ConversationID": "AG_20261129_0000q1",
            "TransactionID": "NLJ0000001",
            "ResultParameters": {
                "ResultParameter": [
                    {"Key": "ReceiptNo", "Value": "NLJ41HAY6Q"},
                    {"Key": "TransactionStatus", "Value": "Completed"},
                    {"Key": "Amount", "Value": "1500.00"},
                    {"Key": "FinalisedTime", "Value": 20261129174550},
                    {"Key": "OriginatorConversationID", "Value": "nx-rf-1"},
                ]
            },
        }
    }


# --- The parser ---------------------------------------------------------------------------------


def test_a_b2c_success_gives_its_amount_receipt_receiver_and_nairobi_time():
    parsed = parse_result(b2c_success())
    assert parsed.succeeded and parsed.result_code == "0"
    assert (parsed.amount, parsed.receipt) == (1500, "NLJ41HAY6Q")
    assert parsed.completed_at.isoformat() == "2026-11-29T17:45:50+03:00"
    assert parsed.references == {"QueueTimeoutURL": "https://example.test/t/"}
    assert not parsed.is_status_query_result


def test_a_failure_without_parameters_parses_with_its_code_as_text():
    parsed = parse_result(failure(code=2001))
    assert not parsed.succeeded
    assert parsed.result_code == "2001"
    assert parsed.params == {} and parsed.amount is None


def test_a_transaction_status_result_names_the_transaction_it_was_asked_about():
    parsed = parse_result(status_result())
    assert parsed.is_status_query_result
    assert parsed.transaction_status == "Completed"
    assert parsed.amount == 1500  # "1500.00" as text
    assert parsed.receipt == "NLJ41HAY6Q"
    assert {"nx-rf-1", "NLJ41HAY6Q"} <= parsed.original_ids
    assert parsed.completed_at.isoformat() == "2026-11-29T17:45:50+03:00"


def test_a_single_result_parameter_object_is_read_like_a_list():
    body = b2c_success()
    body["Result"]["ResultParameters"]["ResultParameter"] = {"Key": "TransactionAmount", "Value": 700}
    assert parse_result(body).amount == 700


def _without(body: dict, key: str) -> dict:
    body["Result"].pop(key)
    return body


MALFORMED = {
    "not an object": [b2c_success()],
    "no Result": {"Body": {}},
    "ResultCode true": {"Result": {**failure()["Result"], "ResultCode": True}},
    "ResultCode missing": _without(failure(), "ResultCode"),
    "no ids at all": _without(_without(failure(), "OriginatorConversationID"), "ConversationID"),
    "an id that is an object": {"Result": {**failure()["Result"], "ConversationID": {"x": 1}}},
    "a 400-digit amount": {
        "Result": {
            **b2c_success()["Result"],
            "ResultParameters": {"ResultParameter": [{"Key": "TransactionAmount", "Value": 10**400}]},
        }
    },
    "a fractional success amount": {
        "Result": {
            **b2c_success()["Result"],
            "ResultParameters": {"ResultParameter": [{"Key": "TransactionAmount", "Value": 10.5}]},
        }
    },
    "a parameter without a Key": {
        "Result": {**b2c_success()["Result"], "ResultParameters": {"ResultParameter": [{"Value": 1}]}}
    },
    "a nested parameter value": {
        "Result": {
            **b2c_success()["Result"],
            "ResultParameters": {"ResultParameter": [{"Key": "TransactionAmount", "Value": {"a": [1]}}]},
        }
    },
    "ResultParameters a list": {"Result": {**b2c_success()["Result"], "ResultParameters": [1, 2]}},
    "a NUL character": {"Result": {**failure()["Result"], "ResultDesc": "bad\u0000desc"}},
    "a 101-character id": {"Result": {**failure()["Result"], "ConversationID": "A" * 101}},
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_result_is_refused(body):
    with pytest.raises(ResultInvalid):
        parse_result(body)


# --- The views and the ledger -------------------------------------------------------------------


@pytest.fixture
def post(settings, monkeypatch):
    """POST a body to the result or timeout URL; the apply step is recorded, not run (its own tests)."""
    settings.MPESA_CALLBACK_TOKEN = TOKEN
    queued = []
    monkeypatch.setattr(transfer_ledger, "async_task", lambda name, *args, **kwargs: queued.append((name, args)))
    client = Client(raise_request_exception=False)

    def send(body, *, path="result", token=TOKEN):
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return client.post(f"/payments/{path}/{token}/", data=data, content_type="application/json")

    send.queued = queued
    return send


@pytest.mark.django_db
def test_a_result_is_stored_exactly_as_posted_then_its_apply_step_is_queued(post):
    text = json.dumps(b2c_success(), indent=1)
    response = post(text)
    assert response.status_code == 200
    assert response.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    record = CallbackRecord.objects.get()
    assert record.kind == CallbackRecord.Kind.RESULT
    assert record.raw_body == text
    assert (record.conversation_id, record.originator_conversation_id) == ("AG_20261129_0000abc", "nx-rf-1")
    assert (record.result_code, record.amount, record.receipt, record.phone_number) == (
        "0",
        1500,
        "NLJ41HAY6Q",
        "254712345678",
    )
    assert record.state == CallbackRecord.State.NEW
    assert post.queued == [("mpesa.tasks.transfer_result_apply", (record.pk,))]


@pytest.mark.django_db
def test_a_repeat_counts_a_delivery_and_is_not_applied_again(post):
    assert post(b2c_success()).status_code == 200
    assert post(b2c_success()).status_code == 200
    record = CallbackRecord.objects.get()
    assert record.deliveries == 2
    assert len(post.queued) == 1


@pytest.mark.django_db
def test_another_result_for_the_same_request_is_another_row(post):
    post(failure(originator="nx-rf-9", conversation="AG_9", code="1"))
    post(b2c_success(originator="nx-rf-9", conversation="AG_9"))
    assert CallbackRecord.objects.filter(conversation_id="AG_9").count() == 2


@pytest.mark.django_db
def test_a_queue_timeout_is_stored_as_a_timeout(post):
    response = post(failure(code="SVC0403"), path="timeout")
    assert response.status_code == 200
    record = CallbackRecord.objects.get()
    assert record.kind == CallbackRecord.Kind.TIMEOUT
    assert record.result_code == "SVC0403"


@pytest.mark.django_db
def test_very_long_ids_are_stored_under_a_digest_key(post):
    body = b2c_success(originator="O" * 100, conversation="C" * 100)
    assert post(body).status_code == 200
    assert post(body).status_code == 200
    record = CallbackRecord.objects.get()
    assert record.dedupe_key.startswith("RESULT:sha256:") and record.deliveries == 2


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["result", "timeout"])
def test_a_wrong_token_is_404_and_stores_nothing(post, path):
    response = post(b2c_success(), path=path, token="guess")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not CallbackRecord.objects.exists()


BAD_BODIES = {
    "not JSON": "{not json",
    "an STK callback": {"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": 0}}},
    "nested 10,000 deep": "[" * 10_000 + "]" * 10_000,
    "100 KB": json.dumps({"Result": {**failure()["Result"], "ResultDesc": "x" * 100_000}}),
    **{name: body for name, body in MALFORMED.items() if name != "a 400-digit amount"},
    "a 400-digit amount as text": '{"Result": {"ResultCode": 0, "ConversationID": "AG_1", '
    '"ResultParameters": {"ResultParameter": {"Key": "TransactionAmount", "Value": 1' + "0" * 400 + "}}}}",
}


@pytest.mark.django_db
@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_body_that_is_not_a_result_is_400_and_stores_nothing(post, body):
    response = post(body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_callback"
    assert not CallbackRecord.objects.exists()
    assert post.queued == []


@pytest.mark.django_db
def test_get_is_not_allowed(settings):
    settings.MPESA_CALLBACK_TOKEN = TOKEN
    assert Client().get(f"/payments/result/{TOKEN}/").status_code == 405
