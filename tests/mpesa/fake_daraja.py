"""A third-party Daraja fake over real HTTP, for the answers the simulator does not give.

The simulator (mpesa/simulator) plays Safaricom faithfully; this fake plays what a new
user meets when they point Nexus at someone else's Daraja stand-in or at a proxy in
front of Daraja: a 429 from the gateway, a query answer about another push, a callback
posted before the push's own answer. OAuth always succeeds; the push and the query
answer whatever the test sets, and the test may run something (post the callback) after
the push arrived and before it is answered.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache
from django.db import connections

CONSUMER_KEY = "fake-daraja-key"
CONSUMER_SECRET = "fake-daraja-secret"

# Apigee's answer when the spike arrest sheds a request: no Daraja errorCode at all.
SPIKE_ARREST_429 = (
    429,
    "application/json",
    json.dumps(
        {"fault": {"faultstring": "Spike arrest violation", "detail": {"errorcode": "policies.ratelimit.SpikeArrestViolation"}}}
    ),
)


def accepted(checkout_request_id: str, merchant_request_id: str = "29115-34620561-1") -> tuple[int, str, str]:
    return (
        200,
        "application/json",
        json.dumps(
            {
                "MerchantRequestID": merchant_request_id,
                "CheckoutRequestID": checkout_request_id,
                "ResponseCode": "0",
                "ResponseDescription": "Success. Request accepted for processing",
                "CustomerMessage": "Success. Request accepted for processing",
            }
        ),
    )


def query_final(checkout_request_id: str, result_code: str, result_desc: str) -> tuple[int, str, str]:
    return (
        200,
        "application/json",
        json.dumps(
            {
                "ResponseCode": "0",
                "ResponseDescription": "The service request has been accepted successsfully",
                "MerchantRequestID": "29115-34620561-1",
                "CheckoutRequestID": checkout_request_id,
                "ResultCode": result_code,
                "ResultDesc": result_desc,
            }
        ),
    )


class FakeDaraja:
    def __init__(self):
        self.push_answer: tuple[int, str, str] = SPIKE_ARREST_429
        self.query_answer: tuple[int, str, str] = (500, "text/html", "<html>not set</html>")
        # Called with the push's JSON body after it arrived and before it is answered.
        self.on_push = None
        self.received: list[tuple[str, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def _answer(self, answer: tuple[int, str, str]) -> None:
                status, content_type, text = answer
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path.startswith("/oauth/v1/generate"):
                    self._answer((200, "application/json", json.dumps({"access_token": "fake", "expires_in": "3599"})))
                else:
                    self._answer((404, "text/plain", "not found"))

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}")
                fake.received.append((self.path, payload))
                if self.path == "/mpesa/stkpush/v1/processrequest":
                    if fake.on_push is not None:
                        try:
                            fake.on_push(payload)
                        finally:
                            connections.close_all()  # this thread's own database connection, if it used one
                    self._answer(fake.push_answer)
                elif self.path == "/mpesa/stkpushquery/v1/query":
                    self._answer(fake.query_answer)
                else:
                    self._answer((404, "text/plain", "not found"))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-daraja", daemon=True)

    def start(self) -> "FakeDaraja":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def fake_daraja(settings):
    """Point the Daraja client at a FakeDaraja (the callback URL stays the test's to set)."""
    fake = FakeDaraja().start()
    settings.MPESA_BASE_URL = fake.url
    settings.MPESA_CONSUMER_KEY = CONSUMER_KEY
    settings.MPESA_CONSUMER_SECRET = CONSUMER_SECRET
    settings.MPESA_HTTP_TIMEOUT = 5
    cache.clear()
    yield fake
    fake.stop()
