"""Helpers for the fuzzers: call the real WSGI app in-process inside the test's transaction."""

import sys
import traceback

import pytest
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections


@pytest.fixture
def wsgi_in_test_transaction():
    """Serve WSGI requests on the test's own connection, as Django's test Client does.

    Django closes "old" connections at the start and end of each request; inside the
    test's transaction that would close the connection the test is using.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def server_tracebacks():
    """Tracebacks of exceptions Django turned into 500 responses during the test."""
    captured: list[str] = []

    def record(sender, request=None, **kwargs):
        captured.append("".join(traceback.format_exception(*sys.exc_info())))

    got_request_exception.connect(record, weak=False)
    try:
        yield captured
    finally:
        got_request_exception.disconnect(record)
