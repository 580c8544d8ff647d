"""Daraja's asynchronous results (B2C, B2B, Reversal, Transaction Status), read strictly.

These come to ResultURL (or QueueTimeOutURL) as `{"Result": {...}}`. Like the STK callback
they are signed by nothing, so every field is type- and length-checked and a body that is
not a well-formed result raises ResultInvalid (the view answers 400). Quirks handled
(docs/money-out.md): ResultCode as a number or a string; ResultParameters.ResultParameter
and ReferenceData.ReferenceItem as one object or a list; parameters named by `Key` here
(the STK callback says `Name`); failures that carry no ResultParameters at all;
TransactionCompletedDateTime as "29.11.2026 17:45:50" and FinalisedTime as 20261129174550,
both Nairobi time.
"""

import dataclasses
import datetime as dt
from typing import Any

from mpesa.callbacks import NAIROBI, CallbackInvalid, _contains_nul, _whole_number

MAX_AMOUNT = 2_000_000_000
MAX_PARAMETERS = 50
MAX_VALUE_LENGTH = 500


class ResultInvalid(CallbackInvalid):
    """The body is not a well-formed Daraja result."""


@dataclasses.dataclass(frozen=True)
class TransferResult:
    result_type: int | None
    result_code: str
    result_desc: str
    originator_conversation_id: str
    conversation_id: str
    transaction_id: str
    params: dict[str, Any]
    references: dict[str, Any]

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0"

    def _param(self, *keys: str):
        for key in keys:
            if self.params.get(key) not in (None, ""):
                return self.params[key]
        return None

    @property
    def amount(self) -> int | None:
        """Whole shillings moved, from whichever key this kind of result uses; None when absent."""
        value = self._param("TransactionAmount", "Amount", "DebitAmount")
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = float(value.replace(",", "")) if "." in value else int(value.replace(",", ""))
            except ValueError:
                raise ResultInvalid("the amount is not a number") from None
        try:
            return _whole_number(value, "amount", below=MAX_AMOUNT + 1)
        except CallbackInvalid as error:
            raise ResultInvalid(str(error)) from None

    @property
    def receipt(self) -> str:
        """The M-Pesa id of the money that moved: TransactionReceipt (B2C), ReceiptNo (status),
        else the result's TransactionID."""
        value = self._param("TransactionReceipt", "ReceiptNo")
        return str(value).strip()[:32] if value is not None else self.transaction_id

    @property
    def completed_at(self) -> dt.datetime | None:
        value = self._param("TransactionCompletedDateTime", "TransCompletedTime", "FinalisedTime", "InitiatedTime")
        if value is None:
            return None
        text = str(value).strip()
        for pattern in ("%d.%m.%Y %H:%M:%S", "%Y%m%d%H%M%S"):
            try:
                return dt.datetime.strptime(text, pattern).replace(tzinfo=NAIROBI)
            except ValueError:
                continue
        return None

    @property
    def transaction_status(self) -> str:
        """A Transaction Status result's verdict on the transaction asked about ("Completed", ...)."""
        value = self._param("TransactionStatus")
        return str(value).strip() if value is not None else ""

    @property
    def original_ids(self) -> set[str]:
        """The ids a Transaction Status result names for the transaction it was asked about
        (its own OriginatorConversationID/ConversationID are those of the query)."""
        ids = set()
        for key in ("OriginatorConversationID", "ConversationID", "OriginalConversationID", "ReceiptNo"):
            value = self.params.get(key)
            if isinstance(value, (str, int)) and str(value).strip():
                ids.add(str(value).strip())
        return ids

    @property
    def is_status_query_result(self) -> bool:
        return "TransactionStatus" in self.params or "ReceiptNo" in self.params


def _text(container: dict, key: str, *, limit: int, required: bool = False) -> str:
    value = container.get(key)
    if value is None or value == "":
        if required:
            raise ResultInvalid(f"{key} is required")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ResultInvalid(f"{key} must be a string")
    text = str(value).strip()
    if len(text) > limit:
        raise ResultInvalid(f"{key} is longer than {limit} characters")
    return text


def _one_or_many(value, name: str) -> list:
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return value
    raise ResultInvalid(f"{name} must be an object or a list")


def _key_values(items: list, name: str) -> dict[str, Any]:
    if len(items) > MAX_PARAMETERS:
        raise ResultInvalid(f"too many {name} items")
    values: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("Key"), str) or len(item["Key"]) > 100:
            raise ResultInvalid(f"each {name} item needs a Key")
        value = item.get("Value")
        if isinstance(value, (dict, list)):
            raise ResultInvalid(f"{name} {item['Key']} must be a plain value")
        if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
            raise ResultInvalid(f"{name} {item['Key']} is too long")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
            raise ResultInvalid(f"{name} {item['Key']} is out of range")
        values[item["Key"]] = value
    return values


def parse_result(body) -> TransferResult:
    """Validate a ResultURL / QueueTimeOutURL body; ResultInvalid when it is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("Result"), dict):
        raise ResultInvalid("not a Daraja result: no Result")
    try:
        has_nul = _contains_nul(body)
    except RecursionError:
        raise ResultInvalid("the body is nested too deeply") from None
    if has_nul:
        raise ResultInvalid("the body contains a NUL character")
    result = body["Result"]
    code = result.get("ResultCode")
    if isinstance(code, bool) or not (isinstance(code, int) or (isinstance(code, str) and 0 < len(code.strip()) <= 32)):
        raise ResultInvalid("ResultCode must be a number or a short string")
    if isinstance(code, int) and not -(10**9) < code < 10**9:
        raise ResultInvalid("ResultCode is out of range")
    result_type = result.get("ResultType")
    if result_type is not None and (isinstance(result_type, bool) or not isinstance(result_type, (int, str))):
        raise ResultInvalid("ResultType must be a number")
    originator = _text(result, "OriginatorConversationID", limit=100)
    conversation = _text(result, "ConversationID", limit=100)
    if not originator and not conversation:
        raise ResultInvalid("a result names its request: OriginatorConversationID or ConversationID")
    parameters = result.get("ResultParameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise ResultInvalid("ResultParameters must be an object")
    params = _key_values(_one_or_many((parameters or {}).get("ResultParameter"), "ResultParameter"), "ResultParameter")
    reference = result.get("ReferenceData")
    if reference is not None and not isinstance(reference, dict):
        raise ResultInvalid("ReferenceData must be an object")
    references = _key_values(_one_or_many((reference or {}).get("ReferenceItem"), "ReferenceItem"), "ReferenceItem")
    parsed = TransferResult(
        result_type=int(result_type) if isinstance(result_type, int) or str(result_type or "").isdigit() else None,
        result_code=str(code).strip(),
        result_desc=_text(result, "ResultDesc", limit=1000)[:255],
        originator_conversation_id=originator,
        conversation_id=conversation,
        transaction_id=_text(result, "TransactionID", limit=32),
        params=params,
        references=references,
    )
    if parsed.succeeded:
        parsed.amount  # noqa: B018 - an amount that is there must be a whole number of shillings
    return parsed
