"""mpesa.transfer_client against the Daraja simulator over real HTTP: every answer is typed
(accepted, a definite refusal, or indeterminate) and nothing raises."""

import re

import pytest
from django.utils import timezone

from mpesa import transfer_client
from mpesa.client import Indeterminate
from mpesa.simulator.keys import decrypt_credential
from mpesa.simulator.models import SimulatedStkPush, SimulatedTransfer
from mpesa.transfer_client import TransferAccepted, TransferRejected
from tests.mpesa.conftest import CALLBACK_TOKEN

PHONE = "254708374149"


def paid_push(*, receipt="NLJ7RT61SV", amount=1500, phone=PHONE) -> SimulatedStkPush:
    return SimulatedStkPush.objects.create(
        merchant_request_id=f"29115-{receipt}-1",
        checkout_request_id=f"ws_CO_{receipt}",
        shortcode="174379",
        phone_number=phone,
        amount=amount,
        account_reference="NX7F3K2Q",
        transaction_desc="Nexus booking",
        callback_url="http://127.0.0.1:9/none/",
        state=SimulatedStkPush.State.PAID,
        result_code="0",
        result_desc="The service request is processed successfully.",
        receipt_number=receipt,
        paid_amount=amount,
        completed_at=timezone.now(),
    )


def b2c(**overrides):
    fields = {
        "originator_conversation_id": "nexus-refund-7f3c9a",
        "phone_number": "0708 374 149",
        "amount": 1500,
        "remarks": "Refund for booking NX7F3K2Q <cancelled>",
    }
    return transfer_client.b2c_payment(**{**fields, **overrides})


@pytest.mark.django_db(transaction=True)
def test_result_and_timeout_urls_carry_the_callback_token(simulator, live_server):
    assert transfer_client.result_url() == f"{live_server.url}/payments/result/{CALLBACK_TOKEN}/"
    assert transfer_client.timeout_url() == f"{live_server.url}/payments/timeout/{CALLBACK_TOKEN}/"


@pytest.mark.django_db(transaction=True)
def test_b2c_is_accepted_with_daraja_ids_and_sends_darajas_fields(simulator, settings):
    answer = b2c(occasion="NX7F3K2Q " + "x" * 200)
    assert isinstance(answer, TransferAccepted), answer
    assert re.fullmatch(r"AG_\d{8}_[0-9a-f]{20}", answer.conversation_id)
    assert answer.originator_conversation_id == "nexus-refund-7f3c9a"
    assert answer.response_description == "Accept the service request successfully."
    assert answer.raw["ResponseCode"] == "0"
    sent = simulator.transfer("nexus-refund-7f3c9a")
    assert (sent["kind"], sent["party"], sent["amount"], sent["command_id"]) == ("b2c", PHONE, 1500, "BusinessPayment")
    assert sent["credential_valid"] is True and sent["initiator"] == settings.MPESA_INITIATOR_NAME
    request = sent["request"]
    assert set(request) == {
        "OriginatorConversationID", "InitiatorName", "SecurityCredential", "CommandID", "Amount", "PartyA",
        "PartyB", "Remarks", "QueueTimeOutURL", "ResultURL", "Occasion",
    }
    assert request["PartyA"] == settings.MPESA_SIMULATOR_SHORTCODE and request["Amount"] == 1500
    assert request["Remarks"] == "Refund for booking NX7F3K2Q cancelled"  # no <>: Daraja refuses odd characters
    assert len(request["Occasion"]) == 100
    assert request["ResultURL"] == transfer_client.result_url()
    assert request["QueueTimeOutURL"] == transfer_client.timeout_url()


@pytest.mark.django_db(transaction=True)
def test_b2b_to_a_paybill_and_to_a_till(simulator):
    paybill = transfer_client.b2b_payment(
        originator_conversation_id="nexus-payout-1", business_number="600100", account_reference="OWNER-17",
        till=False, amount=13_500, remarks="Payout",
    )
    till = transfer_client.b2b_payment(
        originator_conversation_id="nexus-payout-2", business_number="5123456", account_reference="",
        till=True, amount=900, remarks="Payout",
    )
    assert isinstance(paybill, TransferAccepted) and isinstance(till, TransferAccepted)
    assert paybill.originator_conversation_id == "nexus-payout-1"
    first, second = simulator.transfer("nexus-payout-1")["request"], simulator.transfer("nexus-payout-2")["request"]
    assert (first["CommandID"], first["RecieverIdentifierType"], first["AccountReference"]) == (
        "BusinessPayBill", "4", "OWNER-17")
    assert (second["CommandID"], second["RecieverIdentifierType"], second["SenderIdentifierType"]) == (
        "BusinessBuyGoods", "2", "4")
    refused = transfer_client.b2b_payment(
        originator_conversation_id="nexus-payout-3", business_number="600100", account_reference="",
        till=False, amount=100, remarks="Payout",
    )
    assert isinstance(refused, TransferRejected) and refused.error_code == "invalid_request"


@pytest.mark.django_db(transaction=True)
def test_reversal_gets_an_originator_id_made_up_by_daraja(simulator):
    paid_push(receipt="NLJ7RT61SV")
    answer = transfer_client.reversal(transaction_id="NLJ7RT61SV", amount=1500, remarks="Cancelled booking")
    assert isinstance(answer, TransferAccepted), answer
    assert re.fullmatch(r"\d{5}-\d{8}-\d", answer.originator_conversation_id)
    request = simulator.transfer(answer.originator_conversation_id)["request"]
    assert (request["CommandID"], request["TransactionID"], request["RecieverIdentifierType"]) == (
        "TransactionReversal", "NLJ7RT61SV", "11")


@pytest.mark.django_db(transaction=True)
def test_transaction_status_by_receipt_or_by_conversation_id(simulator):
    sent = b2c()
    by_ids = transfer_client.transaction_status(
        original_conversation_id=sent.conversation_id, originator_conversation_id="nexus-refund-7f3c9a"
    )
    assert isinstance(by_ids, TransferAccepted)
    assert by_ids.originator_conversation_id != "nexus-refund-7f3c9a"  # the query's own id
    request = simulator.transfer(by_ids.originator_conversation_id)["request"]
    assert request["OriginalConversationID"] == sent.conversation_id
    assert request["OriginatorConversationID"] == "nexus-refund-7f3c9a"
    assert "TransactionID" not in request and request["IdentifierType"] == "4"
    by_receipt = transfer_client.transaction_status(transaction_id="NLJ7RT61SV")
    assert isinstance(by_receipt, TransferAccepted)
    assert simulator.transfer(by_receipt.conversation_id)["request"]["TransactionID"] == "NLJ7RT61SV"
    nothing = transfer_client.transaction_status()
    assert isinstance(nothing, TransferRejected) and nothing.error_code == "invalid_request"


@pytest.mark.django_db(transaction=True)
def test_the_security_credential_is_fresh_each_request_and_decrypts_to_the_password(simulator, settings):
    for n in range(2):
        b2c(originator_conversation_id=f"nexus-fresh-{n}")
    # The simulator stores requests with the credential redacted; check what it decrypted instead.
    assert all(t.credential_valid for t in SimulatedTransfer.objects.all())
    from mpesa.credentials import security_credential

    first, second = security_credential(), security_credential()
    assert first != second
    assert decrypt_credential(first) == decrypt_credential(second) == settings.MPESA_INITIATOR_PASSWORD


@pytest.mark.django_db(transaction=True)
def test_definite_refusals_are_rejected_and_nothing_was_sent(simulator, settings):
    simulator.transfer_directive(PHONE, response="error_400")
    refused = b2c()
    assert isinstance(refused, TransferRejected)
    assert (refused.http_status, refused.error_code) == (400, "400.002.02")
    assert "400.002.02" in refused.reason

    bad_phone = b2c(phone_number="12345")
    assert isinstance(bad_phone, TransferRejected) and bad_phone.http_status is None
    assert isinstance(b2c(amount=0), TransferRejected)

    settings.MPESA_CERTIFICATE_PATH = "/nonexistent/certificate.cer"
    settings.MPESA_ENV = "sandbox"
    no_certificate = b2c()
    assert isinstance(no_certificate, TransferRejected) and no_certificate.error_code == "credential_unavailable"
    assert "Cannot read the M-Pesa certificate" in no_certificate.error_message

    settings.MPESA_ENV = "simulator"
    settings.MPESA_CERTIFICATE_PATH = settings.MPESA_SIMULATOR_KEY_DIR + "/certificate.pem"
    settings.MPESA_CONSUMER_SECRET = "wrong"
    from django.core.cache import cache

    cache.clear()
    no_token = b2c()
    assert isinstance(no_token, TransferRejected) and no_token.error_code == "400.008.01"
    assert not SimulatedTransfer.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("response, status", [("error_500", 500), ("html", 503)])
def test_server_errors_and_html_are_indeterminate(simulator, response, status):
    simulator.transfer_directive(PHONE, response=response)
    answer = b2c()
    assert isinstance(answer, Indeterminate), answer
    assert answer.http_status == status


@pytest.mark.django_db(transaction=True)
def test_a_timeout_is_indeterminate_though_daraja_went_ahead(simulator, settings):
    settings.MPESA_SIMULATOR_SLOW_SECONDS = 2
    settings.MPESA_HTTP_TIMEOUT = 1
    simulator.transfer_directive(PHONE, response="timeout", delivery="never")
    answer = b2c()
    assert isinstance(answer, Indeterminate) and answer.http_status is None
    assert "timed out" in answer.reason
    assert simulator.transfer("nexus-refund-7f3c9a")["result_code"] == "0"  # the money moved all the same


@pytest.mark.django_db(transaction=True)
def test_an_expired_token_is_refreshed_once_and_the_request_goes_through(simulator):
    assert isinstance(b2c(originator_conversation_id="nexus-before"), TransferAccepted)
    simulator.expire_tokens()  # the cached token is now refused with 404.001.03
    after = b2c(originator_conversation_id="nexus-after")
    assert isinstance(after, TransferAccepted), after
    assert len(simulator.transfers(party=PHONE)) == 2
