"""Fetching another site's iCal feed without letting an owner's address reach inside our network.

The address is typed by an owner, so the server must not become their way into places
only it can reach (server-side request forgery): the cloud metadata service at
169.254.169.254, the database, admin consoles on localhost. The rules:

- http:// and https:// only, no user name or password in the address, the scheme's
  standard port (80 or 443).
- Every address the host name resolves to must be public: loopback, private, link-local
  (which holds the metadata service), carrier-grade NAT, multicast, reserved and
  unspecified addresses are refused, also when wrapped in IPv6 (::ffff:10.0.0.1, 6to4,
  NAT64).
- Checked before each request, on what the name resolves to then, and again on the socket
  actually connected, before a byte is sent: a name may resolve to a public address for
  the first look and to a private one for the connection (DNS rebinding).
- Redirects are followed here, at most MAX_REDIRECTS, each new address checked the same way.
- Hosts named in settings.CALENDAR_IMPORT_ALLOWED_HOSTS skip the address and port rules
  (empty by default; the test settings list 127.0.0.1 for the local test server).
- Time and size are bounded: CONNECT_TIMEOUT and READ_TIMEOUT per step, TOTAL_SECONDS in
  all (a watchdog shuts the sockets, so a server dripping a byte at a time cannot hold a
  worker), and MAX_BYTES counted as the body streams in.

Conditional GET: the ETag and Last-Modified of the last answer are sent back, and a 304
means the feed has not changed.
"""

import ipaddress
import socket
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

MAX_BYTES = 2 * 1024 * 1024
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 10
TOTAL_SECONDS = 30
MAX_REDIRECTS = 3
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "Nexus-CalendarSync/1.0 (+iCal import)"
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")

PRIVATE_ADDRESS = (
    "This address leads to a private, local or reserved network address; only calendars on the public "
    "internet can be imported."
)


class CalendarFetchError(Exception):
    """Why a feed could not be fetched, in words an owner can act on (stored as last_error)."""


class CalendarAddressRefused(CalendarFetchError):
    """The address itself may not be fetched: scheme, port, credentials or a non-public host."""


@dataclass(frozen=True)
class Fetched:
    not_modified: bool
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""


# --- which addresses may be reached ------------------------------------------------------------


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def host_is_allowed(host: str) -> bool:
    """Named in CALENDAR_IMPORT_ALLOWED_HOSTS: trusted as it is, whatever it resolves to."""
    allowed = {_normal_host(name) for name in settings.CALENDAR_IMPORT_ALLOWED_HOSTS}
    return _normal_host(host) in allowed


def address_is_public(address: str) -> bool:
    """True for an IP address on the public internet (see the module doc for what is not)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id ("fe80::1%eth0") is no part of it
    except ValueError:
        return False
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in NAT64_PREFIX:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not address_is_public(str(embedded)):
            return False
    return ip.is_global and not (
        ip.is_multicast or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified
    )


def _resolve(host: str, port: int) -> set[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise CalendarAddressRefused(f"The host name {host} could not be found.") from None
    return {info[4][0] for info in infos}


def check_address(url: str) -> str:
    """The address's host if it may be fetched now; CalendarAddressRefused (with the reason) if not.

    Resolves the host name: call it where a DNS lookup is acceptable (adding a feed, fetching).
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise CalendarAddressRefused("This is not a valid web address.") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise CalendarAddressRefused("Only http:// and https:// calendar addresses can be imported.")
    host = parts.hostname or ""
    if not host:
        raise CalendarAddressRefused("The address has no host name.")
    if parts.username is not None or parts.password is not None:
        raise CalendarAddressRefused("Addresses with a user name or password in them cannot be imported.")
    if host_is_allowed(host):
        return host
    port = port or DEFAULT_PORTS[scheme]
    if not all(address_is_public(address) for address in _resolve(host, port)):
        raise CalendarAddressRefused(PRIVATE_ADDRESS)
    if port != DEFAULT_PORTS[scheme]:
        raise CalendarAddressRefused(f"Only the standard port of {scheme}:// ({DEFAULT_PORTS[scheme]}) can be used.")
    return host


def address_refusal(url: str) -> str | None:
    """Why this address may not be imported, or None. For forms and the API (resolves DNS)."""
    try:
        check_address(url)
    except CalendarAddressRefused as refusal:
        return str(refusal)
    return None


# --- connections that check the address they reached ---------------------------------------------

# The sockets opened by the fetch running in this context, for its watchdog to shut.
_fetch_sockets: ContextVar[list | None] = ContextVar("calendar_fetch_sockets", default=None)


class _ConnectedPeerCheck:
    """urllib3 connection that refuses, right after connecting, a peer that is not public."""

    def _new_conn(self):
        sock = super()._new_conn()
        if not host_is_allowed(self.host):
            try:
                peer = sock.getpeername()[0]
            except OSError:
                peer = ""
            if not address_is_public(peer):
                sock.close()
                raise CalendarAddressRefused(PRIVATE_ADDRESS)
        sockets = _fetch_sockets.get()
        if sockets is not None:
            sockets.append(sock)
        return sock


class _CheckedHTTPConnection(_ConnectedPeerCheck, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_ConnectedPeerCheck, HTTPSConnection):
    pass


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}


def _session() -> requests.Session:
    session = requests.Session()
    # No proxy or .netrc from the environment: through a proxy, the connection checked
    # would be the proxy's, not the calendar server's.
    session.trust_env = False
    adapter = _CheckedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "text/calendar, */*;q=0.5"})
    return session


def _shut(sockets: list) -> None:
    for sock in list(sockets):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


# --- the fetch ---------------------------------------------------------------------------------


def calendar_fetch(url: str, *, etag: str = "", last_modified: str = "") -> Fetched:
    """GET the feed at `url` under the rules above. CalendarFetchError says why it failed."""
    conditional = {}
    if etag:
        conditional["If-None-Match"] = etag
    if last_modified:
        conditional["If-Modified-Since"] = last_modified
    deadline = time.monotonic() + TOTAL_SECONDS
    sockets: list = []
    context_token = _fetch_sockets.set(sockets)
    watchdog = threading.Timer(TOTAL_SECONDS, _shut, args=(sockets,))
    watchdog.daemon = True
    watchdog.start()
    try:
        with _session() as session:
            for _hop in range(MAX_REDIRECTS + 1):
                check_address(url)
                response = _get(session, url, conditional, deadline)
                with response:
                    if response.status_code in REDIRECT_STATUSES:
                        location = response.headers.get("Location", "").strip()
                        if not location:
                            raise CalendarFetchError("The calendar server redirected to no address.")
                        url = urljoin(url, location)
                        continue
                    if response.status_code == 304 and conditional:
                        return Fetched(not_modified=True, etag=etag, last_modified=last_modified)
                    if response.status_code != 200:
                        raise CalendarFetchError(f"The calendar server answered HTTP {response.status_code}.")
                    body = _read_capped(response, deadline)
                    return Fetched(
                        not_modified=False,
                        body=body,
                        etag=_header(response, "ETag", 255),
                        last_modified=_header(response, "Last-Modified", 64),
                    )
            raise CalendarFetchError(f"The calendar address redirected more than {MAX_REDIRECTS} times.")
    finally:
        watchdog.cancel()
        _fetch_sockets.reset(context_token)


def _get(session: requests.Session, url: str, headers: dict, deadline: float) -> requests.Response:
    try:
        return session.get(
            url, headers=headers, stream=True, allow_redirects=False, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)
        )
    except requests.Timeout:
        raise CalendarFetchError("The calendar server did not answer in time.") from None
    except requests.RequestException:
        if time.monotonic() >= deadline:
            raise CalendarFetchError("The calendar server took too long to answer.") from None
        raise CalendarFetchError("Could not connect to the calendar server.") from None


def _read_capped(response: requests.Response, deadline: float) -> bytes:
    too_large = f"The calendar is larger than {MAX_BYTES // (1024 * 1024)} MB."
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise CalendarFetchError(too_large)
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(chunk_size=64 * 1024):
            size += len(chunk)
            if size > MAX_BYTES:
                raise CalendarFetchError(too_large)
            chunks.append(chunk)
    except requests.RequestException:
        if time.monotonic() >= deadline:
            raise CalendarFetchError("The calendar server took too long to send the calendar.") from None
        raise CalendarFetchError("The connection broke while the calendar was being read.") from None
    # A watchdog shutdown can look like a clean end of the body: a cut calendar would unblock
    # every night after the cut, so a late body is never used.
    if time.monotonic() >= deadline:
        raise CalendarFetchError("The calendar server took too long to send the calendar.")
    return b"".join(chunks)


def _header(response: requests.Response, name: str, max_length: int) -> str:
    value = response.headers.get(name, "").strip()
    # A validator cut to fit would never match again: better none than a wrong one.
    return value if len(value) <= max_length else ""
