"""Fetching another site's calendar (listings/calendar/fetch.py) against a real HTTP server on
127.0.0.1: the address rules (scheme, private networks, redirects), the size and time
limits, the conditional GET. The test settings allow 127.0.0.1; tests of the private-address
rules take that away (CALENDAR_IMPORT_ALLOWED_HOSTS = []) and check the server saw nothing."""

import pytest

from listings.calendar import fetch
from listings.calendar.fetch import (
    PRIVATE_ADDRESS,
    CalendarAddressRefused,
    CalendarFetchError,
    address_is_public,
    address_refusal,
    calendar_fetch,
)
from tests.ical_server import render_fixture


@pytest.fixture
def nothing_allowed(settings):
    settings.CALENDAR_IMPORT_ALLOWED_HOSTS = []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/calendar.ics",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_stats",
        "javascript:alert(1)",
        "//www.airbnb.com/calendar/ical/1.ics",
        "www.airbnb.com/calendar/ical/1.ics",
        "",
    ],
)
def test_only_http_and_https_addresses_are_accepted(url):
    refusal = address_refusal(url)
    assert refusal is not None
    assert "http" in refusal or "host" in refusal


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",  # the cloud metadata service
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fd00:ec2::254",  # AWS's metadata service over IPv6
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
        "not-an-address",
    ],
)
def test_non_public_addresses_are_not_public(address):
    assert not address_is_public(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "41.90.64.10", "2606:4700:4700::1111"])
def test_public_addresses_are_public(address):
    assert address_is_public(address)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/calendar.ics",
        "http://localhost/calendar.ics",
        "http://10.0.0.5/calendar.ics",
        "http://192.168.1.1/calendar.ics",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/calendar.ics",
        "http://[::ffff:127.0.0.1]/calendar.ics",
        "http://0.0.0.0/calendar.ics",
        "http://2130706433/calendar.ics",  # 127.0.0.1 written as one number
        "http://0x7f.1/calendar.ics",
    ],
)
def test_private_loopback_and_metadata_addresses_are_refused(url, nothing_allowed):
    assert address_refusal(url) == PRIVATE_ADDRESS


def test_a_public_address_passes_and_other_ports_do_not(nothing_allowed):
    # IP literals: resolving them needs no DNS.
    assert address_refusal("https://93.184.215.14/calendar/ical/123.ics?s=abc") is None
    assert "standard port" in address_refusal("https://93.184.215.14:8443/calendar.ics")
    assert "user name or password" in address_refusal("https://user:secret@93.184.215.14/calendar.ics")


def test_an_unknown_host_is_refused(nothing_allowed):
    assert "could not be found" in address_refusal("https://no-such-host.invalid/calendar.ics")


def test_allowed_hosts_are_trusted_by_name_not_by_address(ical_server, settings):
    settings.CALENDAR_IMPORT_ALLOWED_HOSTS = ["127.0.0.1"]
    assert address_refusal(ical_server.url("/airbnb.ics")) is None
    # localhost is 127.0.0.1 too, but only the name listed is trusted.
    assert address_refusal(f"http://localhost:{ical_server.port}/airbnb.ics") == PRIVATE_ADDRESS


def test_fetch_refuses_a_private_address_without_sending_a_request(ical_server, nothing_allowed):
    url = ical_server.serve_fixture("/airbnb.ics", "airbnb.ics")
    with pytest.raises(CalendarAddressRefused):
        calendar_fetch(url)
    assert ical_server.hits == []


def test_the_connection_itself_refuses_a_private_peer(ical_server, nothing_allowed):
    """What stops DNS rebinding: even when the look-up before the request said public (here it is
    skipped), the socket's actual peer is checked before a byte is sent."""
    url = ical_server.serve_fixture("/airbnb.ics", "airbnb.ics")
    with fetch._session() as session, pytest.raises(CalendarAddressRefused):
        session.get(url, timeout=5)
    assert ical_server.hits == []


def test_a_redirect_to_a_private_address_is_refused(ical_server):
    ical_server.serve_fixture("/airbnb.ics", "airbnb.ics")
    url = ical_server.redirect("/moved.ics", f"http://localhost:{ical_server.port}/airbnb.ics")
    with pytest.raises(CalendarAddressRefused, match="private"):
        calendar_fetch(url)
    assert [hit.path for hit in ical_server.hits] == ["/moved.ics"]


def test_a_redirect_to_the_metadata_service_is_refused(ical_server):
    url = ical_server.redirect("/moved.ics", "http://169.254.169.254/latest/meta-data/iam/", status=307)
    with pytest.raises(CalendarAddressRefused):
        calendar_fetch(url)


def test_a_redirect_to_another_scheme_is_refused(ical_server):
    url = ical_server.redirect("/moved.ics", "file:///etc/passwd", status=301)
    with pytest.raises(CalendarAddressRefused, match="http"):
        calendar_fetch(url)


def test_allowed_redirects_are_followed_up_to_three(ical_server):
    ical_server.serve_fixture("/final.ics", "airbnb.ics")
    ical_server.redirect("/r3", "/final.ics")
    ical_server.redirect("/r2", "/r3")
    ical_server.redirect("/r1", ical_server.url("/r2"))
    fetched = calendar_fetch(ical_server.url("/r1"))
    assert fetched.body == render_fixture("airbnb.ics")

    ical_server.redirect("/r0", "/r1")
    with pytest.raises(CalendarFetchError, match="redirected more than 3 times"):
        calendar_fetch(ical_server.url("/r0"))


def test_a_declared_oversized_body_is_refused_before_reading(ical_server):
    url = ical_server.serve("/huge.ics", b"X" * (fetch.MAX_BYTES + 1))
    with pytest.raises(CalendarFetchError, match="larger than 2 MB"):
        calendar_fetch(url)


def test_an_oversized_body_without_a_length_is_cut_off_while_streaming(ical_server):
    url = ical_server.serve("/huge.ics", b"X" * (fetch.MAX_BYTES + 100_000), send_length=False)
    with pytest.raises(CalendarFetchError, match="larger than 2 MB"):
        calendar_fetch(url)


def test_a_body_of_exactly_the_limit_is_read(ical_server):
    url = ical_server.serve("/big.ics", b"X" * fetch.MAX_BYTES, send_length=False)
    assert len(calendar_fetch(url).body) == fetch.MAX_BYTES


def test_a_server_dripping_bytes_is_cut_off_at_the_total_time_limit(ical_server, monkeypatch):
    monkeypatch.setattr(fetch, "TOTAL_SECONDS", 1)
    url = ical_server.serve("/slow.ics", b"BEGIN:VCALENDAR\r\n" * 10, drip_seconds=0.1)
    with pytest.raises(CalendarFetchError, match="too long"):
        calendar_fetch(url)


def test_error_statuses_are_reported(ical_server):
    url = ical_server.serve("/gone.ics", b"gone", status=410)
    with pytest.raises(CalendarFetchError, match="HTTP 410"):
        calendar_fetch(url)
    with pytest.raises(CalendarFetchError, match="HTTP 404"):
        calendar_fetch(ical_server.url("/never-served.ics"))


def test_nothing_listening_is_reported(ical_server):
    url = ical_server.url("/airbnb.ics")
    ical_server.close()
    with pytest.raises(CalendarFetchError, match="connect"):
        calendar_fetch(url)


def test_conditional_get_sends_the_validators_back_and_honours_304(ical_server):
    url = ical_server.serve_fixture(
        "/airbnb.ics", "airbnb.ics", etag='"v1"', last_modified="Wed, 01 Jan 2026 09:00:00 GMT"
    )
    first = calendar_fetch(url)
    assert not first.not_modified
    assert (first.etag, first.last_modified) == ('"v1"', "Wed, 01 Jan 2026 09:00:00 GMT")
    assert "if-none-match" not in ical_server.hits[0].headers

    second = calendar_fetch(url, etag=first.etag, last_modified=first.last_modified)
    assert second.not_modified and second.body == b""
    assert ical_server.hits[1].headers["if-none-match"] == '"v1"'
    assert ical_server.hits[1].headers["if-modified-since"] == "Wed, 01 Jan 2026 09:00:00 GMT"


def test_a_304_to_an_unconditional_request_is_an_error(ical_server):
    url = ical_server.serve("/odd.ics", b"", status=304)
    with pytest.raises(CalendarFetchError, match="HTTP 304"):
        calendar_fetch(url)
