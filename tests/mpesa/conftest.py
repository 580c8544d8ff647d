"""The Daraja simulator over real HTTP: a live server serves both the site (callback URL)
and the simulator (Daraja's endpoints), and the client talks to it like to Safaricom."""

import shutil

import pytest
import requests
from rest_framework.test import APIClient

from mpesa.models import Payment
from mpesa.simulator.keys import CERTIFICATE_NAME, PRIVATE_KEY_NAME
from mpesa.simulator.services import deliveries_join
from tests.daraja import use_the_simulator
from tests.processes import wait_until

CALLBACK_TOKEN = "test-token-4f9c1b7e2d8a6c3f5e1b9d7a"


class Simulator:
    """The simulator's JSON control API, as a test uses it."""

    def __init__(self, base_url: str):
        self.base = base_url.rstrip("/") + "/simulator"
        self.http = requests.Session()

    def _post(self, path: str, json: dict | None = None, expect: int = 200) -> dict:
        response = self.http.post(self.base + path, json=json or {}, timeout=10)
        assert response.status_code == expect, (path, response.status_code, response.text)
        return response.json()

    def directive(self, phone_number: str, **fields) -> dict:
        return self._post("/api/directives/", {"phone_number": phone_number, **fields}, expect=201)

    def prompts(self, phone_number: str | None = None, state: str | None = None) -> list[dict]:
        params = {k: v for k, v in {"phone_number": phone_number, "state": state}.items() if v}
        response = self.http.get(self.base + "/api/prompts/", params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def prompt(self, checkout_request_id: str) -> dict:
        response = self.http.get(f"{self.base}/api/prompts/{checkout_request_id}/", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def respond(self, checkout_request_id: str, action: str, amount: int | None = None) -> dict:
        body = {"action": action, **({"amount": amount} if amount is not None else {})}
        return self._post(f"/api/prompts/{checkout_request_id}/respond/", body)

    def modes(self, checkout_request_id: str, **modes) -> dict:
        return self._post(f"/api/prompts/{checkout_request_id}/modes/", modes)

    def resend(self, checkout_request_id: str) -> dict:
        return self._post(f"/api/prompts/{checkout_request_id}/resend/", expect=202)

    def expire_tokens(self) -> None:
        self._post("/api/tokens/expire/")

    def wait_for_callbacks(self, checkout_request_id: str, count: int = 1) -> dict:
        return wait_until(
            lambda: (p := self.prompt(checkout_request_id))["callbacks_sent"] >= count and p,
            timeout=20,
            message=f"{count} callback(s) for {checkout_request_id}",
        )

    # Money going out (B2C, B2B, Reversal, Transaction Status) ---------------------------------

    def transfer_directive(self, party: str, **fields) -> dict:
        """One-shot: response accept|error_500|error_400|timeout|html, result success|failure|<code>,
        delivery once|twice|never|timeout, for the next request to this phone or business number."""
        return self._post("/api/transfer-directives/", {"party": party, **fields}, expect=201)

    def transfers(self, party: str | None = None, kind: str | None = None) -> list[dict]:
        params = {k: v for k, v in {"party": party, "kind": kind}.items() if v}
        response = self.http.get(self.base + "/api/transfers/", params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def transfer(self, originator_id: str) -> dict:
        """By OriginatorConversationID (or ConversationID)."""
        response = self.http.get(f"{self.base}/api/transfers/{originator_id}/", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def resend_transfer(self, originator_id: str) -> dict:
        return self._post(f"/api/transfers/{originator_id}/resend/", expect=202)

    def wait_for_transfer_results(self, originator_id: str, count: int = 1) -> dict:
        """Until `count` posts (results and queue timeouts together) were made for it."""
        return wait_until(
            lambda: (t := self.transfer(originator_id))["posts_sent"] >= count and t,
            timeout=20,
            message=f"{count} result(s) for {originator_id}",
        )


@pytest.fixture
def simulator(live_server, settings, tmp_path, _simulator_key_pair):
    """Point the Daraja client and the callback URL at the live server's simulator."""
    key_dir = tmp_path / "simulator-keys"
    key_dir.mkdir()
    private_key, certificate = _simulator_key_pair
    shutil.copy2(private_key, key_dir / PRIVATE_KEY_NAME)
    shutil.copy2(certificate, key_dir / CERTIFICATE_NAME)
    settings.MPESA_SIMULATOR_KEY_DIR = str(key_dir)
    settings.MPESA_CERTIFICATE_PATH = str(key_dir / CERTIFICATE_NAME)
    settings.MPESA_INITIATOR_NAME = settings.MPESA_SIMULATOR_INITIATOR_NAME
    settings.MPESA_INITIATOR_PASSWORD = settings.MPESA_SIMULATOR_INITIATOR_PASSWORD
    settings.MPESA_B2C_SHORTCODE = settings.MPESA_SIMULATOR_SHORTCODE
    use_the_simulator(settings, live_server.url, callback_token=CALLBACK_TOKEN)
    simulator = Simulator(live_server.url)
    yield simulator
    deliveries_join()
    simulator.http.close()


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def wait_for_status(payment_id: int, *statuses: str, timeout: float = 20) -> Payment:
    return wait_until(
        lambda: (p := Payment.objects.get(pk=payment_id)).status in statuses and p,
        timeout=timeout,
        message=f"payment {payment_id} to become {'/'.join(statuses)}",
    )
