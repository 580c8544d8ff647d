"""schemathesis against /api/schema/: every documented operation, with valid and invalid
input, as a logged-in guest who owns a booking. The app is called in-process (WSGI) on
the test's database.

Two properties, checked separately so a failure of one does not hide the other
(hypothesis stops an operation at its first failure):
- nothing answers 5xx, and every answer's body and content type match the schema;
- every status code is one the schema documents for the operation.
"""

import pytest
import schemathesis
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.views import APIView
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from nexus.wsgi import application
from tests.factories import UserFactory, make_booking, make_property

# Loaded at collection: serving /api/schema/ to an anonymous client touches no database.
# (schemathesis.pytest.from_fixture would defer this, but it reads a pytest internal that
# pytest 9 removed.)
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)

FUZZ_SETTINGS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI failures reproduce locally
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def fuzz_user(db):
    """A guest with a token, one listing and one of their bookings, so small ids hit real rows."""
    user = UserFactory(phone_number="+254712345678")
    listing = make_property()
    make_booking(property=listing, guest=user)
    return Token.objects.create(user=user).key


def _reaches_an_api_view(path: str) -> bool:
    """False when a malformed path parameter (e.g. "AAA" for an integer id) no longer matches
    the API's URL pattern, so the request falls through to the site's page router."""
    try:
        match = resolve(path)
    except Resolver404:
        return False
    view_class = getattr(match.func, "view_class", None) or getattr(match.func, "cls", None)
    return isinstance(view_class, type) and issubclass(view_class, APIView)


def _call(case, token, server_tracebacks):
    response = case.call(headers={"Authorization": f"Token {token}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}\n"
        f"query={case.query} body={case.body!r}\n" + "\n".join(server_tracebacks[-1:])
    )
    return response


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_never_answers_5xx_and_bodies_match_the_schema(
    case, fuzz_user, wsgi_in_test_transaction, server_tracebacks
):
    response = _call(case, fuzz_user, server_tracebacks)
    if not _reaches_an_api_view(case.formatted_path):
        assert response.status_code in (403, 404, 405), response.status_code
        return
    case.validate_response(
        response, checks=[not_a_server_error, content_type_conformance, response_schema_conformance]
    )


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_status_codes_are_documented(case, fuzz_user, wsgi_in_test_transaction, server_tracebacks):
    response = _call(case, fuzz_user, server_tracebacks)
    if not _reaches_an_api_view(case.formatted_path):
        assert response.status_code in (403, 404, 405), response.status_code
        return
    case.validate_response(response, checks=[status_code_conformance])
