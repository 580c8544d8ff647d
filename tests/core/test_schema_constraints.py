"""The OpenAPI schema declares what the API enforces (core.schema.add_constraints).

- Data generated FROM the schema (schemathesis, positive mode) for every writable operation is
  accepted, or refused only by a business rule (dates in the past or taken, a wrong
  password, an unknown invitation...): never by a format rule the schema did not declare.
- The phone pattern accepts what the API accepts, for a table of sample numbers, and every
  string the pattern generates is a number the API takes.
"""

import itertools
import json
import re
from collections import Counter

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings, strategies as st
import schemathesis
from schemathesis.generation.modes import GenerationMode
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.phones import to_msisdn
from core.schema import PHONE_OR_BLANK_PATTERN, PHONE_PATTERN
from tests.factories import OwnerFactory, UserFactory, future_date, make_booking, make_property

EXAMPLES = 30
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

# Operation -> the refusals that are business rules (field, message fragment); "*" is any
# field. A 400 outside these is the schema failing to declare a rule the API enforces.
BUSINESS_RULES = {
    "register": [("email", "already exists"), ("password", "too similar"), ("password", "too common")],
    "token_obtain": [("non_field_errors", "")],  # wrong email or password
    "me_delete": [("password", "")],  # not this account's password
    "invitation_accept": [("token", "")],  # not a live invitation
    "booking_list_create_post": [
        ("check_in", "in the past"), ("check_out", "after check-in"), ("check_out", "nights"),
        ("check_in", "nights"), ("guests", "at most"),
    ],
    "booking_payment_list_create_post": [("amount", "balance")],
    # The payout fields a method needs (described in the schema, not expressible as types).
    "me_patch": [("payout_phone_number", ""), ("payout_business_number", ""), ("payout_account_reference", ""),
                 ("payout_method", "Give the method"), ("non_field_errors", "Send sms_notifications")],
    "booking_cancel": [],
    "booking_guest_create": [],
    "calendar_feed_list_create_post": [("url", "address"), ("url", "could not be found")],  # a host we may not or cannot fetch
}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _writable_operations(schema):
    """(operationId, path, method, schemathesis operation) for every POST/PUT/PATCH."""
    loaded = schemathesis.openapi.from_dict(schema)
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if method in ("post", "put", "patch"):
                yield operation["operationId"], path, method, loaded[path][method.upper()]


def _reason(response) -> str:
    """"409 booking_canceled", "400 check_in"...: what refused it, for the printed table."""
    data = response.json() if response.content else {}
    if isinstance(data, dict) and "code" in data:
        what = data["code"]
    elif isinstance(data, dict):
        what = "; ".join(f"{field}: {str(messages)[:60]}" for field, messages in sorted(data.items()))
    else:
        what = ""
    return f"  {response.status_code} {what}"


def _business(operation_id, response) -> bool:
    if response.status_code in (403, 404, 409):
        return True  # not yours / not found / refused by a rule (docs/api.md)
    if response.status_code != 400:
        return False
    data = response.json()
    if "code" in data and "detail" in data:
        return True  # a whole-request refusal with its code: a business rule by construction
    rules = BUSINESS_RULES[operation_id]
    for field, messages in data.items():
        texts = messages if isinstance(messages, list) else [str(messages)]
        for text in texts:
            if not any(rule_field in (field, "*") and fragment in str(text) for rule_field, fragment in rules):
                return False
    return True


@pytest.fixture
def world(db):
    owner = OwnerFactory(phone_number="+254722000111")
    guest = UserFactory(phone_number="+254712345678")
    place = make_property(owner=owner, max_guests=4)
    booking = make_booking(property=place, guest=guest, nights=2)
    days = itertools.count(60)
    return {
        "guest": Token.objects.create(user=guest).key,
        "owner": Token.objects.create(user=owner).key,
        "ids": {"booking_id": booking.pk, "property_id": place.pk},
        "property": place.pk,
        "new_booking": lambda: make_booking(property=place, guest=guest, check_in=future_date(next(days)), nights=1),
    }


def test_schema_valid_input_is_refused_only_by_business_rules(schema, world):
    outcomes: dict[str, Counter] = {}
    unexplained: list[str] = []
    for operation_id, path, method, api_operation in _writable_operations(schema):
        # Hosts' operations as the host; everything else as the guest who owns the booking.
        token = world["owner"] if operation_id in ("me_patch", "calendar_feed_list_create_post") else world["guest"]
        counts = outcomes.setdefault(operation_id, Counter())
        # The JSON body (the API also takes forms; the rules are the same).
        strategy = api_operation.as_strategy(GenerationMode.POSITIVE, path_parameters=world["ids"]).filter(
            lambda case: case.media_type in (None, "application/json")
        )

        @SETTINGS
        @given(case=strategy)
        def run(case):
            body = case.body if isinstance(case.body, dict) else {}
            assert "id_photo" not in body  # a file travels in multipart only
            if operation_id == "booking_list_create_post":
                body["property"] = world["property"]  # an id is a reference, not a format
            if operation_id == "me_delete":
                return  # a right password would erase the account the other operations use
            ids = dict(world["ids"])
            if "{booking_id}" in path:
                # A fresh pending booking each time: cancelling one must not refuse the next example.
                ids["booking_id"] = world["new_booking"]().pk
            url = re.sub(r"{(\w+)}", lambda m: str(ids[m.group(1)]), path)
            cache.clear()  # throttles: every example is the first request of the minute
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            response = client.generic(method.upper(), url, data=json.dumps(body), content_type="application/json")
            assert response.status_code < 500, (operation_id, body, response.status_code)
            kind = "2xx" if response.status_code < 300 else ("business" if _business(operation_id, response) else "unexplained")
            counts[kind] += 1
            if kind == "business":
                counts[_reason(response)] += 1
            if kind == "unexplained":
                unexplained.append(f"{operation_id} {response.status_code} {body!r} -> {response.content[:300]!r}")

        run()
    table = "\n".join(f"{op}: {dict(c)}" for op, c in sorted(outcomes.items()))
    print(table)
    total = sum(sum(c.values()) for c in outcomes.values())
    assert total >= EXAMPLES * 5, table
    assert not unexplained, f"{len(unexplained)} schema-valid requests refused by an undeclared rule:\n" + "\n".join(unexplained[:20])


# (input, the API accepts it)
PHONES = [
    ("0712345678", True),
    ("0712 345 678", True),
    ("0712-345-678", True),
    ("+254712345678", True),
    ("+254 712 345 678", True),
    ("254712345678", True),
    ("712345678", True),
    ("0110345678", True),
    ("+254110345678", True),
    ("0799999999", True),
    ("0190345678", False),  # 019X is not a mobile range
    ("0612345678", False),
    ("071234567", False),
    ("07123456789", False),
    ("+255712345678", False),  # Tanzania
    ("254812345678", False),
    ("0202345678", False),  # a Nairobi landline
    ("", False),
    ("07l2345678", False),
    ("phone", False),
]


def _api_accepts(value: str) -> bool:
    try:
        to_msisdn(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("value,accepted", PHONES)
def test_the_phone_pattern_accepts_what_the_api_accepts(value, accepted):
    assert _api_accepts(value) is accepted
    assert bool(re.search(PHONE_PATTERN, value)) is accepted
    assert bool(re.search(PHONE_OR_BLANK_PATTERN, value)) is (accepted or value == "")


# Forms the API is lenient about (libphonenumber drops punctuation) that the schema does not
# advertise: a client following the schema never needs them.
LENIENT = ["(0712) 345 678", "0712.345.678", "07 12 34 56 78"]


@pytest.mark.parametrize("value", LENIENT)
def test_the_api_is_more_lenient_than_the_pattern_never_stricter(value):
    assert _api_accepts(value)
    assert not re.search(PHONE_PATTERN, value)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.from_regex(PHONE_PATTERN, fullmatch=True))
def test_every_number_the_pattern_describes_is_one_the_api_takes(value):
    assert _api_accepts(value), value
    assert re.fullmatch(r"254[17][0-9]{8}", to_msisdn(value))


def test_the_schema_declares_the_rules(schema):
    components = schema["components"]["schemas"]
    register = components["RegisterInputRequest"]["properties"]
    assert register["phone_number"]["pattern"] == PHONE_PATTERN
    assert register["password"]["minLength"] == 8
    assert register["password"]["maxLength"] == 128
    payment = components["BookingPaymentCreateInputRequest"]["properties"]
    assert payment["amount"] == {**payment["amount"], "type": "integer", "minimum": 1, "maximum": 250000}
    assert payment["phone_number"]["pattern"] == PHONE_PATTERN
    booking = components["BookingListCreateInputRequest"]["properties"]
    assert booking["check_in"]["format"] == "date" and booking["check_out"]["format"] == "date"
    assert "after check_in" in booking["check_out"]["description"]
    assert booking["guests"]["maxItems"] == 49
    search = {p["name"]: p["schema"] for p in schema["paths"]["/api/properties/"]["get"]["parameters"]}
    assert search["guests"]["minimum"] == 1 and search["guests"]["maximum"] >= 1
    assert search["check_in"]["format"] == "date"
