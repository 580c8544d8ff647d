"""The simulator's B2C, B2B, Reversal and Transaction Status: Daraja's synchronous answers and
errors, then results posted over HTTP as its scenarios say (success, failure codes, twice,
never, queue timeout), and the virtual phone showing the money that arrived."""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from mpesa import transfer_client
from mpesa.credentials import security_credential
from mpesa.models import CallbackRecord
from mpesa.results import parse_result
from mpesa.simulator.models import SimulatedStkPush, SimulatorTransferDirective
from tests.mpesa.conftest import CALLBACK_TOKEN
from tests.mpesa.test_transfer_client import PHONE, paid_push
from tests.processes import wait_until

# Playwright's sync API runs an event loop in this thread; Django's ORM must still work here
# (as in tests/browser/conftest.py).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


class Recorder:
    """A tiny HTTP server that keeps every body posted to it, in order, with its path."""

    def __init__(self):
        posts = self.posts = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                posts.append((self.path, json.loads(self.rfile.read(length) or b"null")))
                answer = b'{"ResultCode": 0, "ResultDesc": "Accepted"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def results(self) -> list[dict]:
        return [body["Result"] for path, body in self.posts if path.startswith("/payments/result/")]

    def timeouts(self) -> list[dict]:
        return [body["Result"] for path, body in self.posts if path.startswith("/payments/timeout/")]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder(simulator, settings):
    """Results go to the recorder instead of the site (ResultURL is built from this base)."""
    recording = Recorder()
    settings.MPESA_CALLBACK_BASE_URL = recording.url
    yield recording
    recording.close()


def params(result: dict) -> dict:
    items = result.get("ResultParameters", {}).get("ResultParameter", [])
    return {item["Key"]: item["Value"] for item in ([items] if isinstance(items, dict) else items)}


def b2c(originator="nexus-refund-1", amount=1500, phone=PHONE):
    answer = transfer_client.b2c_payment(
        originator_conversation_id=originator, phone_number=phone, amount=amount, remarks="Refund"
    )
    assert isinstance(answer, transfer_client.TransferAccepted), answer
    return answer


def status_of(**ids):
    answer = transfer_client.transaction_status(**ids)
    assert isinstance(answer, transfer_client.TransferAccepted), answer
    return answer


def result_of(simulator, recorder, originator: str, count: int = 1) -> dict:
    simulator.wait_for_transfer_results(originator, count)
    mine = [r for r in recorder.results() if r["OriginatorConversationID"] == originator]
    assert len(mine) == count, recorder.posts
    return mine[-1]


@pytest.mark.django_db(transaction=True)
def test_a_b2c_result_is_posted_as_daraja_shapes_it(simulator, recorder):
    sent = b2c()
    result = result_of(simulator, recorder, "nexus-refund-1")
    assert result["ResultCode"] == 0 and result["ResultType"] == 0
    assert result["ResultDesc"] == "The service request is processed successfully."
    assert result["ConversationID"] == sent.conversation_id
    values = params(result)
    assert values["TransactionAmount"] == 1500 and values["TransactionReceipt"] == result["TransactionID"]
    assert values["ReceiverPartyPublicName"].startswith(PHONE)
    assert isinstance(result["ReferenceData"]["ReferenceItem"], dict)  # one item: an object, not a list
    parsed = parse_result({"Result": result})  # the site's own strict reader takes it
    assert (parsed.succeeded, parsed.amount, parsed.receipt) == (True, 1500, result["TransactionID"])
    assert parsed.completed_at is not None
    assert recorder.posts[0][0] == f"/payments/result/{CALLBACK_TOKEN}/"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "wanted, code, desc",
    [
        ("failure", 1, "The balance is insufficient for the transaction."),
        ("2040", 2040, "Credit Party customer type (Unregistered or Registered Customer) can't be supported by the service."),
        ("SFC_IC0003", "SFC_IC0003", "Receiver party is invalid"),
    ],
)
def test_a_failure_result_has_its_code_and_no_parameters(simulator, recorder, wanted, code, desc):
    simulator.transfer_directive(PHONE, result=wanted)
    b2c()
    result = result_of(simulator, recorder, "nexus-refund-1")
    assert (result["ResultCode"], result["ResultDesc"]) == (code, desc)
    assert "ResultParameters" not in result
    assert not parse_result({"Result": result}).succeeded


@pytest.mark.django_db(transaction=True)
def test_a_wrong_security_credential_or_initiator_is_result_2001(simulator, recorder, settings):
    settings.MPESA_INITIATOR_PASSWORD = "not-the-password"
    b2c(originator="nexus-wrong-password")
    settings.MPESA_INITIATOR_PASSWORD = settings.MPESA_SIMULATOR_INITIATOR_PASSWORD
    settings.MPESA_INITIATOR_NAME = "someone-else"
    b2c(originator="nexus-wrong-initiator")
    for originator in ("nexus-wrong-password", "nexus-wrong-initiator"):
        result = result_of(simulator, recorder, originator)
        assert (result["ResultCode"], result["ResultDesc"]) == (2001, "The initiator information is invalid.")
        assert simulator.transfer(originator)["credential_valid"] is False


@pytest.mark.django_db(transaction=True)
def test_b2c_under_ten_shillings_is_declined_by_the_limit_rule(simulator, recorder):
    b2c(amount=9)
    result = result_of(simulator, recorder, "nexus-refund-1")
    assert result["ResultCode"] == 2
    assert result["ResultDesc"] == "Declined due to limit rule: less than the minimum transaction amount."


@pytest.mark.django_db(transaction=True)
def test_a_reversal_reverses_once_and_marks_the_receipt(simulator, recorder):
    push = paid_push(receipt="NLJ7RT61SV", amount=1500)
    first = transfer_client.reversal(transaction_id="NLJ7RT61SV", amount=1500, remarks="Cancelled")
    result = result_of(simulator, recorder, first.originator_conversation_id)
    assert result["ResultCode"] == 0
    values = params(result)
    assert values["OriginalTransactionID"] == "NLJ7RT61SV" and values["Amount"] == 1500.0
    assert parse_result({"Result": result}).amount == 1500
    push.refresh_from_db()
    assert push.reversed_at is not None and push.reversal_transaction_id == result["TransactionID"]
    assert simulator.prompt(push.checkout_request_id)["reversal_transaction_id"] == result["TransactionID"]

    again = transfer_client.reversal(transaction_id="NLJ7RT61SV", amount=1500, remarks="Cancelled")
    repeat = result_of(simulator, recorder, again.originator_conversation_id)
    assert (repeat["ResultCode"], repeat["ResultDesc"]) == ("R000001", "The transaction has already been reversed.")


@pytest.mark.django_db(transaction=True)
def test_a_reversal_of_an_unknown_receipt_or_of_more_than_was_paid_fails(simulator, recorder):
    paid_push(receipt="NLJ7RT61SV", amount=1500)
    unknown = transfer_client.reversal(transaction_id="NOSUCH0001", amount=1500, remarks="Cancelled")
    too_much = transfer_client.reversal(transaction_id="NLJ7RT61SV", amount=1501, remarks="Cancelled")
    for answer in (unknown, too_much):
        result = result_of(simulator, recorder, answer.originator_conversation_id)
        assert result["ResultCode"] == "R000002"  # a code that is text
        assert "ResultParameters" not in result
    assert SimulatedStkPush.objects.get(receipt_number="NLJ7RT61SV").reversed_at is None


@pytest.mark.django_db(transaction=True)
def test_b2b_paybill_result_names_the_account(simulator, recorder):
    simulator.transfer_directive("600100", delivery="once")
    answer = transfer_client.b2b_payment(
        originator_conversation_id="nexus-payout-9", business_number="600100", account_reference="OWNER-17",
        till=False, amount=13_500, remarks="Payout",
    )
    assert isinstance(answer, transfer_client.TransferAccepted)
    values = params(result_of(simulator, recorder, "nexus-payout-9"))
    assert (values["Amount"], values["BillReferenceNumber"]) == (13_500, "OWNER-17")


@pytest.mark.django_db(transaction=True)
def test_the_result_can_come_twice(simulator, recorder):
    simulator.transfer_directive(PHONE, delivery="twice")
    b2c()
    simulator.wait_for_transfer_results("nexus-refund-1", 2)
    first, second = recorder.results()
    assert first == second


@pytest.mark.django_db(transaction=True)
def test_a_result_never_posted_is_answered_by_transaction_status(simulator, recorder):
    simulator.transfer_directive(PHONE, delivery="never")
    sent = b2c()
    assert simulator.transfer("nexus-refund-1")["posts_sent"] == 0
    query = status_of(original_conversation_id=sent.conversation_id, originator_conversation_id="nexus-refund-1")
    answer = result_of(simulator, recorder, query.originator_conversation_id)
    assert answer["ResultCode"] == 0 and answer["ConversationID"] == query.conversation_id
    values = params(answer)
    receipt = simulator.transfer("nexus-refund-1")["transaction_id"]
    assert (values["TransactionStatus"], values["ReceiptNo"], values["Amount"]) == ("Completed", receipt, 1500)
    assert values["OriginatorConversationID"] == "nexus-refund-1"
    assert values["ConversationID"] == sent.conversation_id
    parsed = parse_result({"Result": answer})
    assert parsed.transaction_status == "Completed" and {"nexus-refund-1", receipt} <= parsed.original_ids
    assert simulator.transfer("nexus-refund-1")["posts_sent"] == 0  # the original result still never came

    by_receipt = status_of(transaction_id=receipt)
    assert params(result_of(simulator, recorder, by_receipt.originator_conversation_id))["ReceiptNo"] == receipt


@pytest.mark.django_db(transaction=True)
def test_transaction_status_of_nothing_known_or_of_a_failure_is_a_failure(simulator, recorder):
    unknown = status_of(original_conversation_id="AG_20261129_00000000000000000000")
    answer = result_of(simulator, recorder, unknown.originator_conversation_id)
    assert answer["ResultCode"] == "R000002" and "ResultParameters" not in answer

    simulator.transfer_directive(PHONE, result="2040", delivery="never")
    failed = b2c(originator="nexus-failed")
    query = status_of(original_conversation_id=failed.conversation_id)
    answer = result_of(simulator, recorder, query.originator_conversation_id)
    assert answer["ResultCode"] == 2040
    assert params(answer)["TransactionStatus"] == "Failed"
    assert "nexus-failed" in parse_result({"Result": answer}).original_ids


@pytest.mark.django_db(transaction=True)
def test_a_queue_timeout_goes_to_the_timeout_url_and_status_then_knows(simulator, recorder):
    simulator.transfer_directive(PHONE, delivery="timeout")
    sent = b2c()
    simulator.wait_for_transfer_results("nexus-refund-1", 1)
    assert recorder.results() == []
    (timeout,) = recorder.timeouts()
    assert timeout["OriginatorConversationID"] == "nexus-refund-1"
    assert timeout["ConversationID"] == sent.conversation_id
    parse_result({"Result": timeout})  # well-formed for the site's reader
    assert recorder.posts[0][0] == f"/payments/timeout/{CALLBACK_TOKEN}/"

    query = status_of(original_conversation_id=sent.conversation_id)
    assert params(result_of(simulator, recorder, query.originator_conversation_id))["TransactionStatus"] == "Completed"

    simulator.resend_transfer("nexus-refund-1")  # and the real result comes late
    assert result_of(simulator, recorder, "nexus-refund-1")["ResultCode"] == 0


@pytest.mark.django_db(transaction=True)
def test_the_same_originator_conversation_id_moves_money_once(simulator, recorder):
    first = b2c()
    simulator.wait_for_transfer_results("nexus-refund-1", 1)
    second = b2c()
    assert second.conversation_id == first.conversation_id
    assert len(simulator.transfers(party=PHONE)) == 1
    assert simulator.transfer("nexus-refund-1")["results_sent"] == 1


@pytest.mark.django_db(transaction=True)
def test_daraja_refuses_malformed_requests_and_bad_tokens(simulator, live_server, settings):
    url = f"{live_server.url}/simulator/mpesa/b2c/v3/paymentrequest"
    body = {
        "OriginatorConversationID": "x-1", "InitiatorName": settings.MPESA_INITIATOR_NAME,
        "SecurityCredential": security_credential(), "CommandID": "BusinessPayment", "Amount": 100,
        "PartyA": "174379", "PartyB": PHONE, "Remarks": "ok",
        "QueueTimeOutURL": "https://example.com/t/", "ResultURL": "https://example.com/r/",
    }
    bad_token = requests.post(url, json=body, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert (bad_token.status_code, bad_token.json()["errorCode"]) == (404, "404.001.03")
    token = requests.get(
        f"{live_server.url}/simulator/oauth/v1/generate",
        params={"grant_type": "client_credentials"},
        auth=(settings.MPESA_CONSUMER_KEY, settings.MPESA_CONSUMER_SECRET),
        timeout=10,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for change, field in [
        ({"Remarks": None}, "Remarks"),
        ({"PartyB": "0712345678"}, "PartyB"),
        ({"Amount": 10.5}, "Amount"),
        ({"CommandID": "Gift"}, "CommandID"),
        ({"ResultURL": "not a url"}, "ResultURL"),
    ]:
        answer = requests.post(url, json={k: v for k, v in {**body, **change}.items() if v is not None},
                               headers=headers, timeout=10)
        assert answer.status_code == 400, change
        assert answer.json()["errorMessage"] == f"Bad Request - Invalid {field}"
    status = requests.post(
        f"{live_server.url}/simulator/mpesa/transactionstatus/v1/query",
        json={"Initiator": "a", "SecurityCredential": "b", "CommandID": "TransactionStatusQuery", "PartyA": "174379",
              "IdentifierType": "4", "ResultURL": "https://example.com/r/", "QueueTimeOutURL": "https://example.com/t/",
              "Remarks": "status"},
        headers=headers,
        timeout=10,
    )
    assert (status.status_code, status.json()["errorMessage"]) == (400, "Bad Request - Invalid TransactionID")
    assert simulator.transfers() == []


@pytest.mark.django_db(transaction=True)
def test_transfer_directives_are_validated_and_one_shot(simulator, recorder):
    url = f"{simulator.base}/api/transfer-directives/"
    for bad in ({"party": "hello"}, {"party": PHONE, "response": "explode"}, {"party": PHONE, "delivery": "thrice"},
                {"party": PHONE, "result": "no such code!"}):
        answer = requests.post(url, json=bad, timeout=10)
        assert answer.status_code == 400 and answer.json()["code"] in ("invalid_party", "invalid_directive"), bad
    made = simulator.transfer_directive("0708 374 149", response="error_500")
    assert made["party"] == PHONE
    assert isinstance(
        transfer_client.b2c_payment(originator_conversation_id="a-1", phone_number=PHONE, amount=100, remarks="r"),
        transfer_client.Indeterminate,
    )
    b2c(originator="a-2")  # used up: accepted now
    assert not SimulatorTransferDirective.objects.exists()
    assert requests.get(f"{simulator.base}/api/transfers/nope/", timeout=10).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_virtual_phone_shows_money_received_and_reversed(simulator, recorder, live_server):
    paid_push(receipt="NLJ7RT61SV", amount=2000)
    b2c(amount=1500)
    reversal = transfer_client.reversal(transaction_id="NLJ7RT61SV", amount=2000, remarks="Cancelled")
    simulator.wait_for_transfer_results("nexus-refund-1")
    simulator.wait_for_transfer_results(reversal.originator_conversation_id)
    receipt = simulator.transfer("nexus-refund-1")["transaction_id"]

    page = requests.get(f"{live_server.url}/simulator/phone/{PHONE}/", timeout=10).text
    assert f"{receipt} Confirmed. You have received KES 1,500 from NEXUS" in page
    assert f'data-testid="received-{receipt}"' in page
    assert "Transaction NLJ7RT61SV of KES 2,000 to NEXUS has been reversed" in page
    assert 'data-testid="reversed-ws_CO_NLJ7RT61SV"' in page

    # The phone-number box still finds the phone, and the list names a phone that only got money.
    found = requests.get(f"{live_server.url}/simulator/phone/", params={"msisdn": "0708 374 149"}, timeout=10)
    assert found.url.endswith(f"/simulator/phone/{PHONE}/") and "You have received KES 1,500" in found.text
    b2c(originator="nexus-other", phone="0711 000 111")
    simulator.wait_for_transfer_results("nexus-other")
    listing = requests.get(f"{live_server.url}/simulator/phone/", timeout=10).text
    assert 'data-testid="phone-254711000111"' in listing
    received = requests.get(f"{simulator.base}/api/transfers/", params={"party": PHONE, "received": 1}, timeout=10)
    assert {t["kind"] for t in received.json()["results"]} == {"b2c", "reversal"}


@pytest.mark.django_db(transaction=True)
def test_end_to_end_results_reach_the_sites_result_ledger(simulator):
    """Over the live server: the simulator's posts land at /payments/result/ and /payments/timeout/."""
    simulator.transfer_directive(PHONE, delivery="twice")
    sent = b2c()
    simulator.wait_for_transfer_results("nexus-refund-1", 2)
    transfer = simulator.transfer("nexus-refund-1")
    assert transfer["last_delivery_status"] == "HTTP 200"
    record = wait_until(
        lambda: CallbackRecord.objects.filter(kind=CallbackRecord.Kind.RESULT, conversation_id=sent.conversation_id)
        .first(),
        timeout=10,
        message="the stored result",
    )
    assert CallbackRecord.objects.filter(kind=CallbackRecord.Kind.RESULT).count() == 1  # twice -> one row
    assert (record.result_code, record.amount, record.originator_conversation_id) == ("0", 1500, "nexus-refund-1")
    assert record.receipt == transfer["transaction_id"]
    assert json.loads(record.raw_body) == transfer["result_body"]

    simulator.transfer_directive(PHONE, delivery="timeout")
    late = b2c(originator="nexus-refund-2")
    simulator.wait_for_transfer_results("nexus-refund-2")
    assert simulator.transfer("nexus-refund-2")["last_delivery_status"] == "HTTP 200"
    wait_until(
        lambda: CallbackRecord.objects.filter(kind=CallbackRecord.Kind.TIMEOUT, conversation_id=late.conversation_id)
        .exists(),
        timeout=10,
        message="the stored queue timeout",
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_money_arriving_shows_up_on_the_open_phone_page(simulator, recorder, live_server, chromium):
    from playwright.sync_api import expect

    browser = chromium.new_context()
    try:
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{live_server.url}/simulator/phone/{PHONE}/")
        expect(page.get_by_test_id("no-money-received")).to_be_visible()
        b2c(amount=1500)  # arrives while the page is open
        expect(page.get_by_test_id("money-received")).to_contain_text(
            "You have received KES 1,500 from NEXUS", timeout=10_000
        )
        assert not errors, errors
    finally:
        browser.close()
