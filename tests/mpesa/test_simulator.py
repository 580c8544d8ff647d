"""The Daraja simulator validates like Daraja, answers in its shapes, and its virtual phone
works for a person (and for Playwright)."""

import base64
import datetime as dt
import os

import pytest
import requests

from mpesa.client import NAIROBI, daraja_timestamp, stk_password
from mpesa.simulator.models import SimulatedStkPush, SimulatorDirective
from mpesa.simulator.services import callback_body
from tests.mpesa.conftest import CALLBACK_TOKEN
from tests.processes import wait_until

MSISDN = "254712345678"


class Daraja:
    """Raw HTTP to the simulator's Daraja endpoints, so each check controls every field."""

    def __init__(self, settings, base_url: str):
        self.settings = settings
        self.base = base_url + "/simulator"

    def oauth(self, key=None, secret=None, grant_type="client_credentials") -> requests.Response:
        key = key or self.settings.MPESA_SIMULATOR_CONSUMER_KEY
        secret = secret or self.settings.MPESA_SIMULATOR_CONSUMER_SECRET
        basic = base64.b64encode(f"{key}:{secret}".encode()).decode()
        return requests.get(
            f"{self.base}/oauth/v1/generate",
            params={"grant_type": grant_type},
            headers={"Authorization": f"Basic {basic}"},
            timeout=10,
        )

    def token(self) -> str:
        return self.oauth().json()["access_token"]

    def push_body(self, **overrides) -> dict:
        timestamp = overrides.pop("Timestamp", None) or daraja_timestamp()
        shortcode = self.settings.MPESA_SIMULATOR_SHORTCODE
        body = {
            "BusinessShortCode": shortcode,
            "Password": stk_password(
                shortcode=shortcode, passkey=self.settings.MPESA_SIMULATOR_PASSKEY, timestamp=timestamp
            ),
            "Timestamp": timestamp,
            "TransactionType": "CustomerPayBillOnline",
            "Amount": 100,
            "PartyA": MSISDN,
            "PartyB": shortcode,
            "PhoneNumber": MSISDN,
            "CallBackURL": f"{self.base[: -len('/simulator')]}/payments/callback/{CALLBACK_TOKEN}/",
            "AccountReference": "NX7F3K2Q",
            "TransactionDesc": "Nexus booking",
        }
        body.update(overrides)
        return {k: v for k, v in body.items() if v is not None}

    def post(self, path: str, body, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token if token is not None else self.token()}"}
        return requests.post(self.base + path, json=body, headers=headers, timeout=10)

    def push(self, token=None, **overrides) -> requests.Response:
        return self.post("/mpesa/stkpush/v1/processrequest", self.push_body(**overrides), token)

    def query(self, checkout_request_id: str) -> requests.Response:
        timestamp = daraja_timestamp()
        shortcode = self.settings.MPESA_SIMULATOR_SHORTCODE
        body = {
            "BusinessShortCode": shortcode,
            "Password": stk_password(
                shortcode=shortcode, passkey=self.settings.MPESA_SIMULATOR_PASSKEY, timestamp=timestamp
            ),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_request_id,
        }
        return self.post("/mpesa/stkpushquery/v1/query", body)


@pytest.fixture
def api(simulator, live_server, settings):
    return Daraja(settings, live_server.url)


def _error(response) -> tuple[int, str, str]:
    body = response.json()
    assert set(body) == {"requestId", "errorCode", "errorMessage"}
    return response.status_code, body["errorCode"], body["errorMessage"]


@pytest.mark.django_db(transaction=True)
def test_oauth_gives_a_token_with_expires_in_as_a_string_and_refuses_bad_credentials(api):
    good = api.oauth()
    assert good.status_code == 200
    assert good.json()["expires_in"] == "3599" and len(good.json()["access_token"]) == 28
    assert _error(api.oauth(secret="nope")) == (400, "400.008.01", "Invalid Authentication passed")
    assert _error(api.oauth(grant_type="password")) == (400, "400.008.02", "Invalid grant type passed")


@pytest.mark.django_db(transaction=True)
def test_accepted_push_answers_like_daraja_and_puts_a_prompt_on_the_phone(api):
    response = api.push()
    assert response.status_code == 200
    body = response.json()
    assert body["ResponseCode"] == "0" and body["CheckoutRequestID"].startswith("ws_CO_")
    assert body["CustomerMessage"] == "Success. Request accepted for processing"
    prompt = SimulatedStkPush.objects.get(checkout_request_id=body["CheckoutRequestID"])
    assert (prompt.state, prompt.amount, prompt.phone_number) == ("pending", 100, MSISDN)


REFUSED_PUSHES = [
        ({"Extra": "field"}, (400, "400.002.02", "Bad Request - Invalid Extra")),
        ({"TransactionDesc": None}, (400, "400.002.02", "Bad Request - Invalid TransactionDesc")),
        ({"Amount": 0}, (400, "400.002.02", "Bad Request - Invalid Amount")),
        ({"Amount": 250_001}, (400, "400.002.02", "Bad Request - Invalid Amount")),
        ({"Amount": 10.5}, (400, "400.002.02", "Bad Request - Invalid Amount")),
        ({"PhoneNumber": "0712345678"}, (400, "400.002.02", "Bad Request - Invalid PhoneNumber")),
        ({"PartyA": "255712345678"}, (400, "400.002.02", "Bad Request - Invalid PartyA")),
        ({"PartyB": "600000"}, (400, "400.002.02", "Bad Request - Invalid PartyB")),
        ({"CallBackURL": "https://example.com/call back"}, (400, "400.002.02", "Bad Request - Invalid CallBackURL")),
        ({"CallBackURL": "not a url"}, (400, "400.002.02", "Bad Request - Invalid CallBackURL")),
        ({"AccountReference": "NX7F3K2Q-TOO-LONG"}, (400, "400.002.02", "Bad Request - Invalid AccountReference")),
        ({"AccountReference": "NX#1"}, (400, "400.002.02", "Bad Request - Invalid AccountReference")),
        ({"TransactionDesc": "Fourteen chars"}, (400, "400.002.02", "Bad Request - Invalid TransactionDesc")),
        ({"TransactionType": "Bogus"}, (400, "400.002.02", "Bad Request - Invalid TransactionType")),
        ({"BusinessShortCode": "999999"}, (500, "500.001.1001", "Merchant does not exist")),
        ({"Password": base64.b64encode(b"wrong").decode()}, (500, "500.001.1001", "Wrong credentials")),
]


@pytest.mark.django_db(transaction=True)
def test_push_is_validated_like_daraja(api):
    for overrides, expected in REFUSED_PUSHES:
        assert _error(api.push(**overrides)) == expected, overrides
    assert not SimulatedStkPush.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_utc_timestamp_is_an_invalid_timestamp(api):
    utc_now = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")  # the classic bug: not Nairobi time
    assert _error(api.push(Timestamp=utc_now)) == (400, "400.002.02", "Bad Request - Invalid Timestamp")
    stale = (dt.datetime.now(NAIROBI) - dt.timedelta(minutes=10)).strftime("%Y%m%d%H%M%S")
    assert _error(api.push(Timestamp=stale))[2] == "Bad Request - Invalid Timestamp"
    assert _error(api.push(Timestamp="2027-01-10"))[2] == "Bad Request - Invalid Timestamp"


@pytest.mark.django_db(transaction=True)
def test_push_without_a_valid_token_is_404_invalid_access_token(api, simulator):
    assert _error(api.push(token="made-up")) == (404, "404.001.03", "Invalid Access Token")
    token = api.token()
    simulator.expire_tokens()
    assert _error(api.push(token=token)) == (404, "404.001.03", "Invalid Access Token")


@pytest.mark.django_db(transaction=True)
def test_one_pending_prompt_per_phone(api, simulator):
    first = api.push().json()["CheckoutRequestID"]
    assert _error(api.push())[:2] == (500, "500.001.1001")
    assert "Unable to lock subscriber" in api.push().json()["errorMessage"]
    simulator.modes(first, callback_mode="never")
    simulator.respond(first, "cancel")
    assert api.push().status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_unanswered_prompt_ends_as_1037_after_its_lifetime(api, settings):
    settings.MPESA_SIMULATOR_PROMPT_TTL_SECONDS = 60
    checkout = api.push().json()["CheckoutRequestID"]
    SimulatedStkPush.objects.filter(checkout_request_id=checkout).update(
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=61), callback_mode="never"
    )
    answer = api.query(checkout).json()
    assert (answer["ResultCode"], answer["ResultDesc"]) == ("1037", "DS timeout user cannot be reached")
    assert api.push().status_code == 200  # the phone is free again


@pytest.mark.django_db(transaction=True)
def test_query_answers_pending_then_final_with_a_string_result_code(api, simulator):
    checkout = api.push().json()["CheckoutRequestID"]
    assert _error(api.query(checkout)) == (500, "500.001.1001", "The transaction is being processed")
    simulator.modes(checkout, query_mode="pending_4999", callback_mode="never")
    still = api.query(checkout)
    assert (still.status_code, still.json()["ResultCode"]) == (200, "4999")
    simulator.modes(checkout, query_mode="normal")
    simulator.respond(checkout, "pay")
    final = api.query(checkout).json()
    assert final["ResultCode"] == "0" and final["ResponseCode"] == "0"
    assert final["ResponseDescription"] == "The service request has been accepted successsfully"
    assert "MpesaReceiptNumber" not in final  # the query never carries a receipt
    assert _error(api.query("ws_CO_nope")) == (400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")


@pytest.mark.django_db(transaction=True)
def test_the_callback_is_daraja_shaped(api, simulator):
    checkout = api.push(Amount=250).json()["CheckoutRequestID"]
    simulator.modes(checkout, callback_mode="never")
    simulator.respond(checkout, "pay")
    prompt = SimulatedStkPush.objects.get(checkout_request_id=checkout)
    callback = callback_body(prompt)["Body"]["stkCallback"]
    assert callback["ResultCode"] == 0 and callback["CheckoutRequestID"] == checkout
    items = {item["Name"]: item for item in callback["CallbackMetadata"]["Item"]}
    assert "Value" not in items["Balance"]
    assert items["Amount"]["Value"] == 250 and isinstance(items["Amount"]["Value"], (int, float))
    assert isinstance(items["PhoneNumber"]["Value"], int) and isinstance(items["TransactionDate"]["Value"], int)
    assert items["MpesaReceiptNumber"]["Value"] == prompt.receipt_number and len(prompt.receipt_number) == 10
    prompt.state, prompt.result_code, prompt.result_desc = "cancelled", "1032", "Request cancelled by user"
    assert "CallbackMetadata" not in callback_body(prompt)["Body"]["stkCallback"]


@pytest.mark.django_db(transaction=True)
def test_directives_are_one_shot_and_validated(api, simulator):
    simulator.directive("0712 345 678", push_response="error_500")
    assert _error(api.push())[:2] == (500, "500.003.1001")
    assert api.push().status_code == 200  # used up
    bad = requests.post(
        f"{simulator.base}/api/directives/", json={"phone_number": MSISDN, "push_response": "explode"}, timeout=10
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_directive")
    assert not SimulatorDirective.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_respond_api_refuses_unknown_actions_and_answered_prompts(api, simulator):
    checkout = api.push().json()["CheckoutRequestID"]
    url = f"{simulator.base}/api/prompts/{checkout}/respond/"
    assert requests.post(url, json={"action": "dance"}, timeout=10).status_code == 400
    simulator.modes(checkout, callback_mode="never")
    simulator.respond(checkout, "cancel")
    again = requests.post(url, json={"action": "pay"}, timeout=10)
    assert (again.status_code, again.json()["code"]) == (409, "prompt_not_pending")
    assert (
        requests.post(
            f"{simulator.base}/api/prompts/ws_CO_nope/respond/", json={"action": "pay"}, timeout=10
        ).status_code
        == 404
    )


# --- The virtual phone -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_phone_page_shows_the_prompt_and_pay_needs_a_pin(api, simulator, live_server):
    checkout = api.push(Amount=5000).json()["CheckoutRequestID"]
    simulator.modes(checkout, callback_mode="never")
    session = requests.Session()
    listing = session.get(f"{live_server.url}/simulator/phone/", timeout=10).text
    assert f'data-testid="phone-{MSISDN}"' in listing
    page = session.get(f"{live_server.url}/simulator/phone/{MSISDN}/", timeout=10).text
    for testid in (
        f"prompt-{checkout}",
        f"pin-{checkout}",
        f"pay-{checkout}",
        f"cancel-{checkout}",
        f"wrong-pin-{checkout}",
        f"ignore-{checkout}",
    ):
        assert f'data-testid="{testid}"' in page
    assert "Ksh5,000" in page and "NX7F3K2Q" in page

    no_pin = session.post(
        f"{live_server.url}/simulator/phone/{MSISDN}/",
        data={"checkout_request_id": checkout, "action": "pay", "pin": ""},
        timeout=10,
    )
    assert "Enter your 4-digit M-Pesa PIN" in no_pin.text
    assert SimulatedStkPush.objects.get(checkout_request_id=checkout).state == "pending"

    paid = session.post(
        f"{live_server.url}/simulator/phone/{MSISDN}/",
        data={"checkout_request_id": checkout, "action": "pay", "pin": "1234"},
        timeout=10,
    )
    prompt = SimulatedStkPush.objects.get(checkout_request_id=checkout)
    assert prompt.state == "paid" and f"{prompt.receipt_number} Confirmed. Ksh5,000.00" in paid.text
    assert f'data-testid="history-{checkout}"' in paid.text and 'data-testid="no-prompts"' in paid.text


@pytest.mark.django_db(transaction=True)
def test_phone_buttons_end_the_prompt_with_darajas_codes(api, simulator, live_server):
    for button, state, code in [("cancel", "cancelled", "1032"), ("wrong_pin", "wrong_pin", "2001"),
                                ("ignore", "timeout", "1037")]:
        checkout = api.push().json()["CheckoutRequestID"]
        simulator.modes(checkout, callback_mode="never")
        requests.post(
            f"{live_server.url}/simulator/phone/{MSISDN}/",
            data={"checkout_request_id": checkout, "action": button},
            timeout=10,
        )
        prompt = SimulatedStkPush.objects.get(checkout_request_id=checkout)
        assert (prompt.state, prompt.result_code) == (state, code), button


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_new_prompt_appears_on_the_open_phone_page_and_can_be_paid_in_a_browser(api, simulator, live_server, chromium):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect

    browser = chromium.new_context()
    try:
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{live_server.url}/simulator/phone/{MSISDN}/")
        expect(page.get_by_test_id("no-prompts")).to_be_visible()

        checkout = api.push(Amount=700).json()["CheckoutRequestID"]  # arrives while the page is open
        prompt = page.get_by_test_id(f"prompt-{checkout}")
        expect(prompt).to_be_visible(timeout=10_000)
        expect(prompt).to_have_attribute("data-amount", "700")
        page.get_by_test_id(f"pin-{checkout}").fill("4321")
        prompt.get_by_role("button", name="Pay").click()
        expect(page.get_by_test_id("phone-message")).to_contain_text("Confirmed. Ksh700.00")
        expect(page.get_by_test_id(f"history-{checkout}")).to_have_attribute("data-state", "paid")
        assert not errors, errors
    finally:
        browser.close()  # the context; the shared browser stays up
    wait_until(
        lambda: SimulatedStkPush.objects.get(checkout_request_id=checkout).callbacks_sent == 1,
        timeout=10,
        message="the callback",
    )
