"""Daraja's callbacks, read strictly: the one place a body Daraja posted becomes typed fields.

Daraja signs nothing, so nothing here trusts the body: every field is type-, length- and
range-checked, metadata items are read by Name (never position), and a body that is not
a well-formed STK callback raises CallbackInvalid (the view answers 400). Quirks handled
(docs/daraja.md): ResultCode as a number or a string, Amount as 1 or 1.00, PhoneNumber
and TransactionDate as numbers or strings, TransactionDate in Nairobi time, Balance with
no Value.
"""

import dataclasses
import datetime as dt
import math
import re
from typing import Any
from zoneinfo import ZoneInfo

NAIROBI = ZoneInfo("Africa/Nairobi")


class CallbackInvalid(ValueError):
    """The body is not a well-formed STK callback."""


@dataclasses.dataclass(frozen=True)
class StkCallback:
    merchant_request_id: str
    checkout_request_id: str
    result_code: str
    result_desc: str
    amount: int | None = None
    receipt_number: str | None = None
    phone_number: str = ""
    transaction_date: dt.datetime | None = None

    @property
    def paid(self) -> bool:
        return self.result_code == "0"


MAX_CALLBACK_AMOUNT = 2_000_000_000  # fits the PositiveIntegerField on every database
_RECEIPT = re.compile(r"^[A-Za-z0-9]{1,32}$")
MAX_DIGITS = 15  # an MSISDN is 12, a TransactionDate 14
_DIGITS = re.compile(rf"^\d{{1,{MAX_DIGITS}}}$")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(container: dict, key: str, *, required: bool, limit: int) -> str:
    value = container.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise CallbackInvalid(f"{key} must be a non-empty string")
    if len(value) > limit:
        raise CallbackInvalid(f"{key} is longer than {limit} characters")
    return value.strip()


def _whole_number(value, name: str, *, below: int) -> int:
    """A JSON number that is a whole number in [0, below). Integers are range-checked
    before anything converts them: a 400-digit integer is valid JSON and overflows a
    float (math.isfinite raises OverflowError)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    else:
        raise CallbackInvalid(f"{name} must be a whole number")
    if not 0 <= number < below:
        raise CallbackInvalid(f"{name} is out of range")
    return number


def _whole_shillings(value) -> int:
    """Daraja sends Amount as a JSON number, sometimes 1.00: whole shillings only."""
    amount = _whole_number(value, "Amount", below=MAX_CALLBACK_AMOUNT + 1)
    if amount < 1:
        raise CallbackInvalid("Amount is out of range")
    return amount


def _digits(value, name: str) -> str:
    if _is_number(value):
        value = str(_whole_number(value, name, below=10**MAX_DIGITS))
    if not isinstance(value, str) or not _DIGITS.match(value.strip()):
        raise CallbackInvalid(f"{name} must be digits")
    return value.strip()


def _transaction_date(value) -> dt.datetime:
    text = _digits(value, "TransactionDate")
    try:
        return dt.datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
    except ValueError as error:
        raise CallbackInvalid("TransactionDate must be YYYYMMDDHHmmss") from error


def _contains_nul(value) -> bool:
    """JSON may carry U+0000, which PostgreSQL can store neither in text nor in jsonb.
    Daraja never sends it, so a body containing one is refused whole."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def parse_stk_callback(body) -> StkCallback:
    """Validate Daraja's STK callback strictly; metadata items are read by Name, never position."""
    if not isinstance(body, dict) or not isinstance(body.get("Body"), dict):
        raise CallbackInvalid("not an STK callback: no Body")
    try:
        has_nul = _contains_nul(body)
    except RecursionError:
        raise CallbackInvalid("the body is nested too deeply") from None
    if has_nul:
        raise CallbackInvalid("the body contains a NUL character")
    callback = body["Body"].get("stkCallback")
    if not isinstance(callback, dict):
        raise CallbackInvalid("not an STK callback: no Body.stkCallback")
    merchant_request_id = _text(callback, "MerchantRequestID", required=True, limit=64)
    checkout_request_id = _text(callback, "CheckoutRequestID", required=True, limit=64)
    code = callback.get("ResultCode")
    if isinstance(code, bool) or not (isinstance(code, int) or (isinstance(code, str) and 0 < len(code.strip()) <= 32)):
        raise CallbackInvalid("ResultCode must be a number or a short string")
    result_code = str(code).strip()
    result_desc = _text(callback, "ResultDesc", required=False, limit=1000)[:255]
    if result_code != "0":
        return StkCallback(merchant_request_id, checkout_request_id, result_code, result_desc)

    metadata = callback.get("CallbackMetadata")
    items = metadata.get("Item") if isinstance(metadata, dict) else None
    if not isinstance(items, list):
        raise CallbackInvalid("a successful callback needs CallbackMetadata.Item")
    values: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            raise CallbackInvalid("each CallbackMetadata item needs a Name")
        name = item["Name"]
        if name in values:
            raise CallbackInvalid(f"CallbackMetadata item {name} appears twice")
        values[name] = item.get("Value")  # Balance usually has no Value at all

    if values.get("Amount") is None:
        raise CallbackInvalid("a successful callback needs an Amount")
    receipt = values.get("MpesaReceiptNumber")
    if not isinstance(receipt, str) or not _RECEIPT.match(receipt.strip()):
        raise CallbackInvalid("a successful callback needs an MpesaReceiptNumber")
    phone = values.get("PhoneNumber")
    when = values.get("TransactionDate")
    return StkCallback(
        merchant_request_id,
        checkout_request_id,
        result_code,
        result_desc,
        amount=_whole_shillings(values["Amount"]),
        receipt_number=receipt.strip(),
        phone_number=_digits(phone, "PhoneNumber") if phone is not None else "",
        transaction_date=_transaction_date(when) if when is not None else None,
    )
