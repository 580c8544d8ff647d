"""A local HTTP server on 127.0.0.1 that plays Africa's Talking's SMS API, in a thread.

It answers `POST /version1/messaging` the way the real one does (form fields in, a JSON
SMSMessageData out), records every request (method, path, headers, form), and can be told
to refuse: an HTTP error, or a 201 whose recipient has a failure statusCode.
"""

import http.server
import json
import threading
from dataclasses import dataclass
from urllib.parse import parse_qs


@dataclass
class SmsRequest:
    method: str
    path: str
    headers: dict
    form: dict


class AfricasTalkingServer:
    def __init__(self):
        self.requests: list[SmsRequest] = []
        self.mode = "ok"  # ok | http_500 | rejected
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _record(self) -> SmsRequest:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                form = {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}
                request = SmsRequest(self.command, self.path, dict(self.headers), form)
                server.requests.append(request)
                return request

            def _answer(self, status: int, payload) -> None:
                data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._record()
                self._answer(405, b"")

            def do_POST(self):
                request = self._record()
                if request.path != "/version1/messaging":
                    return self._answer(404, {"error": "not found"})
                if request.headers.get("apiKey") != "test-at-key":
                    return self._answer(401, b"The supplied authentication is invalid")
                if server.mode == "http_500":
                    return self._answer(500, b"Internal Server Error")
                numbers = [n for n in request.form.get("to", "").split(",") if n]
                if server.mode == "rejected":
                    recipients = [
                        {"statusCode": 403, "number": n, "status": "InvalidPhoneNumber", "cost": "0", "messageId": "None"}
                        for n in numbers
                    ]
                else:
                    recipients = [
                        {
                            "statusCode": 101,
                            "number": n,
                            "status": "Success",
                            "cost": "KES 0.8000",
                            "messageId": f"ATXid_{len(server.requests)}",
                        }
                        for n in numbers
                    ]
                self._answer(201, {"SMSMessageData": {"Message": f"Sent to {len(numbers)}/{len(numbers)}", "Recipients": recipients}})

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def messages_to(self, number: str) -> list[str]:
        return [r.form["message"] for r in self.requests if r.form.get("to") == number]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def serve_africastalking(settings):
    """For a fixture: SMS_BACKEND=africastalking, pointed at a local server that plays Africa's Talking."""
    server = AfricasTalkingServer()
    settings.SMS_BACKEND = "africastalking"
    settings.AFRICASTALKING_API_URL = server.url
    settings.AFRICASTALKING_USERNAME = "nexus-test"
    settings.AFRICASTALKING_API_KEY = "test-at-key"
    settings.AFRICASTALKING_SENDER_ID = "NEXUS"
    yield server
    server.close()
