"""A real HTTP server on 127.0.0.1 serving .ics files to the calendar import, in a thread.

Routes are set per test: a file from tests/fixtures/ical/ (dates written as @+10@, "ten days
from today" in Africa/Nairobi, so the fixtures never go stale), a redirect, any status, a
huge or slow body. Every request is recorded with its headers, and the conditional GET is
answered the way real servers do: 304 when If-None-Match or If-Modified-Since matches.
"""

import datetime as dt
import http.server
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.utils import timezone

FIXTURES = Path(__file__).parent / "fixtures" / "ical"
_DAY = re.compile(r"@([+-]\d+)@")


def render_fixture(name: str, today: dt.date | None = None) -> bytes:
    """The fixture with each @+N@ replaced by today + N days as YYYYMMDD."""
    today = today or timezone.localdate()
    text = (FIXTURES / name).read_text()
    text = _DAY.sub(lambda match: (today + dt.timedelta(days=int(match.group(1)))).strftime("%Y%m%d"), text)
    # iCalendar lines end in CRLF (RFC 5545), as the real sites send them.
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # The fetch hangs up on purpose (size cap, time limit): that is no server error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict = field(default_factory=dict)
    etag: str = ""
    last_modified: str = ""
    send_length: bool = True
    drip_seconds: float = 0.0  # pause between bytes: a server that never quite finishes


@dataclass
class Hit:
    path: str
    headers: dict


class IcalServer:
    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.hits.append(Hit(path=self.path, headers={k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(self.path)
                if route is None:
                    self._answer(404, b"not found", {"Content-Type": "text/plain"})
                    return
                validators = {}
                if route.etag:
                    validators["ETag"] = route.etag
                if route.last_modified:
                    validators["Last-Modified"] = route.last_modified
                if (route.etag and self.headers.get("If-None-Match") == route.etag) or (
                    route.last_modified and self.headers.get("If-Modified-Since") == route.last_modified
                ):
                    self._answer(304, b"", validators)
                    return
                self._answer(route.status, route.body, {**route.headers, **validators}, route)

            def _answer(self, status, body, headers, route: Route | None = None):
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if route is None or route.send_length:
                    self.send_header("Content-Length", str(len(body)))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                try:
                    if route is not None and route.drip_seconds:
                        for byte in body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(route.drip_seconds)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes = b"", **options) -> str:
        options.setdefault("headers", {"Content-Type": "text/calendar; charset=utf-8"})
        self.routes[path] = Route(body=body, **options)
        return self.url(path)

    def serve_fixture(self, path: str, name: str, **options) -> str:
        return self.serve(path, render_fixture(name), **options)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.routes[path] = Route(status=status, headers={"Location": location})
        return self.url(path)

    def hits_of(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def ical_server():
    server = IcalServer()
    yield server
    server.close()
