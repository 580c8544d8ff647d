"""The Daraja callback endpoint under structure-aware fuzzing (hypothesis).

Bodies are built from the real STK callback shape (docs/daraja.md) for a payment we issued,
then broken the ways a buggy or hostile sender would: wrong types, missing items,
huge numbers, unicode, nested junk, not JSON at all. Properties:
- never a 5xx;
- a body that is not a valid STK callback changes nothing (payments, bookings, audit);
- a valid callback dressed in junk Daraja may add (extra keys, extra items, unicode
  descriptions) is applied exactly once, and its repeat changes nothing.
"""

import copy
import json

import pytest
from django.conf import settings
from django.test import Client
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.models import AuditEntry
from mpesa.models import CallbackRecord, Payment
from reservations.models import Booking
from tests.factories import future_date, make_booking, make_payment, make_property

FUZZ = hypothesis_settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Examples that each create a booking and a payment first: fewer, and reported as found
# (shrinking one that writes rows takes minutes).
FEWER = hypothesis_settings(
    FUZZ, max_examples=60, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.explain]
)

# --- Strategies ---------------------------------------------------------------------------

junk_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**31, max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x10FFFF, exclude_categories=("Cs",)), max_size=20),
    st.just("x" * 5000),
)
junk = st.recursive(
    junk_scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=12,
)
not_a_string = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.lists(junk_scalars, max_size=3),
                         st.dictionaries(st.text(max_size=5), junk_scalars, max_size=3))
not_a_number = st.one_of(st.none(), st.booleans(), st.text(max_size=12), st.lists(junk_scalars, max_size=3),
                         st.dictionaries(st.text(max_size=5), junk_scalars, max_size=3))
bad_amount = st.one_of(
    not_a_number,
    st.integers(max_value=0),
    st.integers(min_value=2**31),
    st.floats(min_value=0.01, max_value=1e6).filter(lambda value: value != int(value)),
    st.floats(min_value=1e12, allow_infinity=False),
)
bad_receipt = st.one_of(
    not_a_string,
    st.just(""),
    st.text(min_size=33, max_size=80, alphabet="ABC123"),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x2FFF, exclude_categories=("Cs",)), min_size=1, max_size=10),
    st.just("NLJ7 RT61SV"),
    st.just("NLJ7RT61SV'; DROP TABLE mpesa_payment;--"),
)
bad_result_code = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=False), st.lists(junk_scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), junk_scalars, max_size=3), st.just(""), st.just("   "),
    st.text(min_size=33, max_size=60, alphabet="0123456789ABC"),
)
bad_id = st.one_of(not_a_string, st.just(""), st.just("   "), st.text(min_size=65, max_size=200, alphabet="ws_CO0123456789"))


def success_body(payment: Payment, *, receipt: str, amount=None) -> dict:
    return {"Body": {"stkCallback": {
        "MerchantRequestID": payment.merchant_request_id,
        "CheckoutRequestID": payment.checkout_request_id,
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": [
            {"Name": "Amount", "Value": float(payment.amount if amount is None else amount)},
            {"Name": "MpesaReceiptNumber", "Value": receipt},
            {"Name": "Balance"},
            {"Name": "TransactionDate", "Value": 20270110093015},
            {"Name": "PhoneNumber", "Value": int(payment.phone_number)},
        ]},
    }}}


def _items(body):
    return body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]


def _set_item(body, name, value):
    for item in _items(body):
        if item["Name"] == name:
            item["Value"] = value


MUTATIONS = st.sampled_from([
    "top_level_not_object", "no_body", "body_not_object", "no_stk_callback", "stk_callback_not_object",
    "no_checkout_id", "checkout_id_wrong_type", "checkout_id_unicode", "no_merchant_id", "merchant_id_wrong_type",
    "no_result_code", "result_code_wrong_type", "no_metadata", "metadata_wrong_type", "items_wrong_type",
    "item_not_object", "item_without_name", "duplicate_amount", "no_amount", "amount_wrong", "no_receipt",
    "receipt_wrong", "phone_wrong", "date_wrong",
])


@st.composite
def invalid_callbacks(draw, template: dict):
    """A valid success body broken one way, with the status the endpoint must answer: 400 for
    a body that is not an STK callback, or (200, 400) where a strict parser may still read it
    as a callback for a CheckoutRequestID we never issued. Either way nothing may change."""
    body = copy.deepcopy(template)
    callback = body["Body"]["stkCallback"]
    kind = draw(MUTATIONS)
    expected: tuple[int, ...] = (400,)
    if kind == "top_level_not_object":
        body = draw(st.one_of(st.lists(junk, max_size=3), junk_scalars))
    elif kind == "no_body":
        body = {draw(st.sampled_from(["body", "BODY", "stkCallback", ""])): body["Body"]}
    elif kind == "body_not_object":
        body["Body"] = draw(st.one_of(junk_scalars, st.lists(junk, max_size=3)))
    elif kind == "no_stk_callback":
        body["Body"] = {"StkCallback": callback}
    elif kind == "stk_callback_not_object":
        body["Body"]["stkCallback"] = draw(st.one_of(junk_scalars, st.lists(junk, max_size=3)))
    elif kind == "no_checkout_id":
        del callback["CheckoutRequestID"]
    elif kind == "checkout_id_wrong_type":
        callback["CheckoutRequestID"] = draw(bad_id)
    elif kind == "checkout_id_unicode":
        # A well-formed string that we never issued: accepted or refused, never applied.
        callback["CheckoutRequestID"] = draw(st.text(min_size=1, max_size=64).filter(lambda s: s.strip()))
        expected = (200, 400)
    elif kind == "no_merchant_id":
        del callback["MerchantRequestID"]
    elif kind == "merchant_id_wrong_type":
        callback["MerchantRequestID"] = draw(bad_id)
    elif kind == "no_result_code":
        del callback["ResultCode"]
    elif kind == "result_code_wrong_type":
        callback["ResultCode"] = draw(bad_result_code)
    elif kind == "no_metadata":
        del callback["CallbackMetadata"]
    elif kind == "metadata_wrong_type":
        callback["CallbackMetadata"] = draw(st.one_of(junk_scalars, st.lists(junk, max_size=3)))
    elif kind == "items_wrong_type":
        callback["CallbackMetadata"]["Item"] = draw(st.one_of(junk_scalars, st.dictionaries(st.text(max_size=8), junk, max_size=3)))
    elif kind == "item_not_object":
        _items(body).insert(draw(st.integers(0, 5)), draw(st.one_of(junk_scalars, st.lists(junk, max_size=2))))
    elif kind == "item_without_name":
        _items(body).append({"Value": draw(junk), **draw(st.sampled_from([{}, {"Name": None}, {"Name": 5}, {"Name": ["Amount"]}]))})
    elif kind == "duplicate_amount":
        _items(body).append({"Name": "Amount", "Value": draw(st.integers(1, 10**6))})
    elif kind == "no_amount":
        callback["CallbackMetadata"]["Item"] = [i for i in _items(body) if i["Name"] != "Amount"]
    elif kind == "amount_wrong":
        _set_item(body, "Amount", draw(bad_amount))
    elif kind == "no_receipt":
        callback["CallbackMetadata"]["Item"] = [i for i in _items(body) if i["Name"] != "MpesaReceiptNumber"]
    elif kind == "receipt_wrong":
        _set_item(body, "MpesaReceiptNumber", draw(bad_receipt))
    elif kind == "phone_wrong":
        _set_item(body, "PhoneNumber", draw(st.one_of(
            st.text(min_size=1, max_size=12).filter(lambda s: not s.strip().isdigit()), st.lists(junk_scalars, max_size=2),
            st.integers(max_value=-1), st.integers(min_value=10**16), st.floats(min_value=0.5, max_value=1e6).filter(lambda v: v != int(v)),
        )))
    elif kind == "date_wrong":
        _set_item(body, "TransactionDate", draw(st.one_of(
            st.integers(min_value=0, max_value=10**13), st.just(20271340250000), st.just(20270230120000),
            st.text(min_size=1, max_size=20).filter(lambda s: not s.strip().isdigit()), st.lists(junk_scalars, max_size=2),
        )))
    if isinstance(body, dict) and draw(st.booleans()):
        # Nested junk under keys Daraja does not define changes nothing about validity.
        body[draw(st.text(min_size=1, max_size=10).filter(lambda k: k != "Body"))] = draw(junk)
    return kind, body, expected


# --- Fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
def callback_path():
    return f"/payments/callback/{settings.MPESA_CALLBACK_TOKEN}/"


@pytest.fixture
def pending_payment(db):
    booking = make_booking(nights=2)
    return make_payment(booking=booking, status="PENDING", amount=booking.total_price)


def state() -> tuple:
    """Everything a callback may change: payments, bookings, their audit trail, and what the
    ledger holds about our payments. A well-formed callback for a CheckoutRequestID we never
    issued is stored in the ledger (unmatched, for staff) by design, and changes none of these."""
    payments = tuple(Payment.objects.order_by("pk").values_list(
        "pk", "status", "received_amount", "mpesa_receipt_number", "result_code", "flagged", "needs_refund",
        "raw_callback",
    ))
    bookings = tuple(Booking.objects.order_by("pk").values_list("pk", "status", "amount_paid", "balance_due"))
    ours = Payment.objects.exclude(checkout_request_id=None).values("checkout_request_id")
    ledger = CallbackRecord.objects.filter(checkout_request_id__in=ours).count()
    return payments, bookings, AuditEntry.objects.exclude(action__startswith="callback.").count(), ledger


def post(client: Client, path: str, payload) -> int:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(path, data=data, content_type="application/json").status_code


# --- Properties -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_invalid_callbacks_answer_4xx_and_change_nothing(pending_payment, callback_path):
    template = success_body(pending_payment, receipt="NLJ7RT61SV")
    client = Client()
    before = state()

    @FUZZ
    @given(invalid_callbacks(template))
    def check(case):
        kind, body, expected = case
        status = post(client, callback_path, body)
        assert status in expected, f"{kind}: {status} for {json.dumps(body)[:500]}"
        assert state() == before, f"{kind} changed the database: {json.dumps(body)[:500]}"

    check()
    # The template itself is valid: the mutations, not the fixture, were refused.
    assert post(client, callback_path, template) == 200
    pending_payment.refresh_from_db()
    assert pending_payment.status == "SUCCESS"


@pytest.mark.django_db
def test_bytes_that_are_not_a_json_object_answer_400_and_change_nothing(pending_payment, callback_path):
    client = Client()
    before = state()

    @FUZZ
    @given(st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(str.encode),
        st.sampled_from([b"", b"{", b"null", b"[]", b'"Body"', b"NaN", b'{"Body": NaN}', b'{"Body": Infinity}',
                         b"\xff\xfe{}", b'{"Body": {"stkCallback": ' * 600 + b"}" * 600, b"1" * 5000]),
    ))
    def check(raw):
        try:
            if isinstance(json.loads(raw), dict) and isinstance(json.loads(raw).get("Body"), dict):
                return  # the rare generated object that looks like a callback is another test's business
        except (ValueError, UnicodeDecodeError, RecursionError):
            pass
        status = post(client, callback_path, raw)
        assert status == 400, f"{status} for {raw[:200]!r}"
        assert state() == before

    check()


# Junk a real callback may carry: any unicode but U+0000 (which no JSON text from Daraja
# holds and PostgreSQL cannot store; a body with one is invalid, see the NUL test below),
# small enough to keep the body well under the endpoint's 64 KiB limit.
def clean_text(**kwargs):
    return st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), **kwargs)


small_junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              clean_text(max_size=30)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(clean_text(max_size=8), children, max_size=3)),
    max_leaves=8,
)
junk_keys = st.dictionaries(
    clean_text(min_size=1, max_size=12).filter(
        lambda k: k not in {"Body", "stkCallback", "MerchantRequestID", "CheckoutRequestID", "ResultCode", "ResultDesc",
                            "CallbackMetadata", "Item", "Name", "Value"}
    ),
    small_junk, max_size=3,
)


@pytest.mark.django_db
def test_valid_callbacks_in_junk_apply_exactly_once(callback_path):
    client = Client()
    counter = iter(range(10**6))
    listing = make_property()

    @FEWER
    @given(
        top=junk_keys, inner=junk_keys,
        desc=clean_text(max_size=300),
        extra_items=st.lists(st.builds(lambda n, v: {"Name": n, "Value": v},
                                       clean_text(min_size=1, max_size=20).filter(
                                           lambda n: n not in {"Amount", "MpesaReceiptNumber", "PhoneNumber",
                                                               "TransactionDate", "Balance"}), small_junk),
                             max_size=3, unique_by=lambda item: item["Name"]),
        shuffle=st.randoms(use_true_random=False),
        amount_as_int=st.booleans(),
        phone_as_text=st.booleans(),
    )
    def check(top, inner, desc, extra_items, shuffle, amount_as_int, phone_as_text):
        n = next(counter)
        booking = make_booking(property=listing, nights=1, check_in=future_date(30 + n), reference=f"FZ{n:08d}")
        payment = make_payment(booking=booking, status="PENDING", amount=booking.total_price)
        body = success_body(payment, receipt=f"FZ{n:08d}")
        body.update(top)
        body["Body"]["stkCallback"].update(inner)
        body["Body"]["stkCallback"]["ResultDesc"] = desc
        items = _items(body) + extra_items
        shuffle.shuffle(items)
        body["Body"]["stkCallback"]["CallbackMetadata"]["Item"] = items
        if amount_as_int:
            _set_item(body, "Amount", payment.amount)
        if phone_as_text:
            _set_item(body, "PhoneNumber", payment.phone_number)

        assert post(client, callback_path, body) == 200, json.dumps(body)[:500]
        payment.refresh_from_db()
        booking.refresh_from_db()
        assert (payment.status, payment.received_amount, payment.mpesa_receipt_number) == (
            "SUCCESS", payment.amount, f"FZ{n:08d}")
        assert (booking.status, booking.amount_paid, booking.balance_due) == ("CONFIRMED", payment.amount, 0)
        after_first = state()
        assert post(client, callback_path, body) == 200
        assert state() == after_first

    check()


@pytest.mark.django_db
def test_failure_callbacks_with_any_result_code_never_500(callback_path):
    """Daraja's ResultCode is a number or a short string (SFC_IC0003); any of them, with junk
    around it, fails the payment once or is refused whole."""
    client = Client()
    counter = iter(range(10**6))
    listing = make_property()

    @FEWER
    @given(
        code=st.one_of(st.integers(), st.text(min_size=1, max_size=40)),
        desc=st.one_of(st.none(), st.text(max_size=2000), small_junk),
        inner=junk_keys,
    )
    def check(code, desc, inner):
        n = next(counter)
        booking = make_booking(property=listing, nights=1, check_in=future_date(30 + n), reference=f"FF{n:08d}")
        payment = make_payment(booking=booking, status="PENDING", amount=booking.total_price)
        callback = {"MerchantRequestID": payment.merchant_request_id, "CheckoutRequestID": payment.checkout_request_id,
                    "ResultCode": code, **inner}
        if desc is not None:
            callback["ResultDesc"] = desc
        before = state()
        status = post(client, callback_path, {"Body": {"stkCallback": callback}})
        assert status in (200, 400), f"{status} for ResultCode={code!r} ResultDesc={desc!r}"
        payment.refresh_from_db()
        if status == 400:
            assert state() == before
        elif str(code).strip() == "0":
            assert payment.status == "PENDING"  # a "success" without metadata is not a payment
        else:
            assert payment.status == "FAILED" and payment.result_code == str(code).strip()

    check()


NUL_PLACES = {
    "ResultDesc": lambda body: body["Body"]["stkCallback"].__setitem__("ResultDesc", "Processed\x00"),
    "CheckoutRequestID": lambda body: body["Body"]["stkCallback"].__setitem__(
        "CheckoutRequestID", body["Body"]["stkCallback"]["CheckoutRequestID"] + "\x00"),
    "MerchantRequestID": lambda body: body["Body"]["stkCallback"].__setitem__("MerchantRequestID", "MR\x00"),
    "extra key value": lambda body: body["Body"]["stkCallback"].__setitem__("Note", "a\x00b"),
    "extra key name": lambda body: body.__setitem__("x\x00y", 1),
    "extra item value": lambda body: _items(body).append({"Name": "Extra", "Value": "\x00"}),
    "ResultCode": lambda body: body["Body"]["stkCallback"].__setitem__("ResultCode", "1032\x00"),
}


@pytest.mark.parametrize("place", sorted(NUL_PLACES))
@pytest.mark.django_db
def test_a_nul_character_anywhere_in_a_callback_never_500(place, pending_payment, callback_path):
    """JSON may carry U+0000, which PostgreSQL text and jsonb cannot store (found by the fuzzers)."""
    body = success_body(pending_payment, receipt="NLJ7RT61SV")
    NUL_PLACES[place](body)
    before = state()
    status = post(Client(), callback_path, body)
    assert status in (200, 400)
    if status == 400:
        assert state() == before
