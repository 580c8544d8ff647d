"""Money going out through Daraja: B2C, B2B, Reversal and Transaction Status requests.

All four are asynchronous (docs/daraja.md): Daraja's HTTP answer only says the request was
queued, and the outcome comes later to ResultURL (or QueueTimeOutURL: "unknown", not
"failed"). So each call here gives one of three typed answers and never raises for a
network or Daraja failure:

- TransferAccepted: Daraja queued it; wait for the result (or ask Transaction Status).
- TransferRejected: a definite refusal, nothing was sent (same rule as the STK push:
  mpesa.client._is_definite_refusal), or we could not even build the request.
- mpesa.client.Indeterminate: timeout, 5xx, 429, an empty or HTML body: the request may
  have gone through, so it must never be sent again; ask Transaction Status instead.

The OAuth token is the STK client's (one shared cached token, refreshed once on 404.001.03).
"""

import dataclasses
import logging
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from core.phones import to_msisdn
from mpesa.client import DarajaClient, Indeterminate, _is_definite_refusal
from mpesa.credentials import CredentialUnavailable, security_credential

logger = logging.getLogger(__name__)

B2C_PATH = "/mpesa/b2c/v3/paymentrequest"
B2B_PATH = "/mpesa/b2b/v1/paymentrequest"
REVERSAL_PATH = "/mpesa/reversal/v1/request"
STATUS_PATH = "/mpesa/transactionstatus/v1/query"
TEXT_MAX = 100
MAX_AMOUNT = 250_000
B2C_COMMANDS = ("BusinessPayment", "SalaryPayment", "PromotionPayment")
# Remarks and Occasion: plain text only, so no field is refused for its characters.
_UNSAFE_TEXT = re.compile(r"[^A-Za-z0-9 .,:;/#()'&+\-]")
_BUSINESS_NUMBER = re.compile(r"^\d{5,10}$")


@dataclasses.dataclass(frozen=True)
class TransferAccepted:
    conversation_id: str
    originator_conversation_id: str
    response_description: str
    raw: dict


@dataclasses.dataclass(frozen=True)
class TransferRejected:
    """Daraja refused before doing anything (or we never sent): nothing moved."""

    http_status: int | None
    error_code: str
    error_message: str
    raw: Any = None
    # Where it stopped: "request" (Daraja refused this transfer), "oauth" (no access token) or
    # "setup" (our configuration: no callback token or certificate). Only a "request" refusal
    # is about the transfer itself; the others leave it to be sent once the cause is fixed.
    stage: str = "request"

    @property
    def reason(self) -> str:
        return f"M-Pesa refused the request: {self.error_message} ({self.error_code})"[:255]


TransferAnswer = TransferAccepted | TransferRejected | Indeterminate


def _text(value: str, *, fallback: str = "") -> str:
    cleaned = re.sub(r"\s+", " ", _UNSAFE_TEXT.sub("", str(value or ""))).strip()
    return cleaned[:TEXT_MAX].strip() or fallback


def _callback(path: str) -> str:
    token = settings.MPESA_CALLBACK_TOKEN
    if not token:
        return ""
    return f"{settings.MPESA_CALLBACK_BASE_URL.rstrip('/')}/payments/{path}/{token}/"


def result_url() -> str:
    """Where Daraja posts the outcome ("" when MPESA_CALLBACK_TOKEN is not set)."""
    return _callback("result")


def timeout_url() -> str:
    """Where Daraja posts when its queue gave up: the outcome is unknown."""
    return _callback("timeout")


def _invalid(message: str) -> TransferRejected:
    return TransferRejected(http_status=None, error_code="invalid_request", error_message=message)


def _common() -> dict | TransferRejected:
    """SecurityCredential and the callback URLs every request carries, or why we cannot send."""
    results, timeouts = result_url(), timeout_url()
    if not results:
        return TransferRejected(None, "not_configured", "MPESA_CALLBACK_TOKEN is not set", stage="setup")
    try:
        credential = security_credential()
    except CredentialUnavailable as error:
        return TransferRejected(None, "credential_unavailable", str(error), stage="setup")
    return {"SecurityCredential": credential, "ResultURL": results, "QueueTimeOutURL": timeouts}


def _amount_problem(amount) -> str:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_AMOUNT:
        return f"Amount must be whole shillings from 1 to {MAX_AMOUNT:,}"
    return ""


def _send(path: str, payload: dict, *, originator_conversation_id: str = "") -> TransferAnswer:
    client = DarajaClient()
    answer, oauth_failure = client._authorised_post(path, payload)
    if oauth_failure is not None:
        # No token, so nothing can have been sent.
        body = oauth_failure.json
        return TransferRejected(
            http_status=oauth_failure.status,
            error_code=str(body.get("errorCode") or "oauth_failed"),
            error_message=str(body.get("errorMessage") or f"could not get an access token ({oauth_failure.describe()})"),
            raw=oauth_failure.raw(),
            stage="oauth",
        )
    if answer.status is None:
        return Indeterminate(reason=answer.describe(), raw=answer.raw())
    body = answer.json
    if answer.status == 200 and str(body.get("ResponseCode")) == "0" and body.get("ConversationID"):
        return TransferAccepted(
            conversation_id=str(body["ConversationID"])[:100],
            originator_conversation_id=str(body.get("OriginatorConversationID") or originator_conversation_id)[:100],
            response_description=str(body.get("ResponseDescription") or "")[:255],
            raw=body,
        )
    if _is_definite_refusal(answer.status, body):
        return TransferRejected(
            http_status=answer.status,
            error_code=str(body.get("errorCode")),
            error_message=str(body.get("errorMessage") or answer.describe()),
            raw=answer.raw(),
        )
    logger.warning("mpesa transfer answer indeterminate path=%s %s", path, answer.describe())
    return Indeterminate(
        reason=f"no definite answer: {answer.describe()}", http_status=answer.status, raw=answer.raw()
    )


def b2c_payment(
    *,
    originator_conversation_id: str,
    phone_number: str,
    amount: int,
    remarks: str,
    occasion: str = "",
    command_id: str = "BusinessPayment",
) -> TransferAnswer:
    """Send money from the B2C shortcode to a phone (v3: OriginatorConversationID is ours)."""
    try:
        msisdn = to_msisdn(phone_number)
    except ValidationError:
        return _invalid(f"Not a phone number M-Pesa can pay: {phone_number!r}")
    problem = _amount_problem(amount) or (
        "" if command_id in B2C_COMMANDS else f"CommandID must be one of {', '.join(B2C_COMMANDS)}"
    )
    if problem or not originator_conversation_id:
        return _invalid(problem or "OriginatorConversationID is required")
    common = _common()
    if isinstance(common, TransferRejected):
        return common
    payload = {
        "OriginatorConversationID": originator_conversation_id,
        "InitiatorName": settings.MPESA_INITIATOR_NAME,
        "SecurityCredential": common["SecurityCredential"],
        "CommandID": command_id,
        "Amount": amount,
        "PartyA": str(settings.MPESA_B2C_SHORTCODE),
        "PartyB": msisdn,
        "Remarks": _text(remarks, fallback="Nexus"),
        "QueueTimeOutURL": common["QueueTimeOutURL"],
        "ResultURL": common["ResultURL"],
        "Occasion": _text(occasion),
    }
    return _send(B2C_PATH, payload, originator_conversation_id=originator_conversation_id)


def b2b_payment(
    *,
    originator_conversation_id: str,
    business_number: str,
    account_reference: str,
    till: bool,
    amount: int,
    remarks: str,
) -> TransferAnswer:
    """Send money to a paybill (BusinessPayBill, with an account) or a till (BusinessBuyGoods)."""
    number = str(business_number or "").strip()
    if not _BUSINESS_NUMBER.match(number):
        return _invalid(f"Not a paybill or till number: {business_number!r}")
    reference = _text(account_reference)[:20]
    problem = _amount_problem(amount)
    if not till and not reference:
        problem = problem or "A paybill payment needs an account reference"
    if problem or not originator_conversation_id:
        return _invalid(problem or "OriginatorConversationID is required")
    common = _common()
    if isinstance(common, TransferRejected):
        return common
    payload = {
        # Daraja's B2B v1 does not require it; sending ours lets the result name our request.
        "OriginatorConversationID": originator_conversation_id,
        "Initiator": settings.MPESA_INITIATOR_NAME,
        "SecurityCredential": common["SecurityCredential"],
        "CommandID": "BusinessBuyGoods" if till else "BusinessPayBill",
        "SenderIdentifierType": "4",
        "RecieverIdentifierType": "2" if till else "4",  # Daraja's spelling
        "Amount": amount,
        "PartyA": str(settings.MPESA_B2C_SHORTCODE),
        "PartyB": number,
        "AccountReference": reference or number,
        "Remarks": _text(remarks, fallback="Nexus"),
        "QueueTimeOutURL": common["QueueTimeOutURL"],
        "ResultURL": common["ResultURL"],
    }
    return _send(B2B_PATH, payload, originator_conversation_id=originator_conversation_id)


def reversal(*, transaction_id: str, amount: int, remarks: str, occasion: str = "") -> TransferAnswer:
    """Reverse a whole received payment (its M-Pesa receipt). Daraja makes up the
    OriginatorConversationID of a reversal: keep the answer's ids."""
    receipt = str(transaction_id or "").strip()
    if not re.fullmatch(r"[A-Z0-9]{6,32}", receipt):
        return _invalid(f"Not an M-Pesa receipt: {transaction_id!r}")
    problem = _amount_problem(amount)
    if problem:
        return _invalid(problem)
    common = _common()
    if isinstance(common, TransferRejected):
        return common
    payload = {
        "Initiator": settings.MPESA_INITIATOR_NAME,
        "SecurityCredential": common["SecurityCredential"],
        "CommandID": "TransactionReversal",
        "TransactionID": receipt,
        "Amount": amount,
        "ReceiverParty": str(settings.MPESA_B2C_SHORTCODE),
        "RecieverIdentifierType": "11",  # Safaricom's sample; misspelt on the wire
        "ResultURL": common["ResultURL"],
        "QueueTimeOutURL": common["QueueTimeOutURL"],
        "Remarks": _text(remarks, fallback="Nexus refund"),
        "Occasion": _text(occasion),
    }
    return _send(REVERSAL_PATH, payload)


def transaction_status(
    *,
    transaction_id: str = "",
    original_conversation_id: str = "",
    originator_conversation_id: str = "",
    remarks: str = "",
) -> TransferAnswer:
    """Ask what happened to a transaction: by its receipt when known, else by the conversation
    id Daraja gave the request (and, for a B2C, our OriginatorConversationID too)."""
    if not (transaction_id or original_conversation_id or originator_conversation_id):
        return _invalid("Transaction Status needs a TransactionID or a conversation id")
    common = _common()
    if isinstance(common, TransferRejected):
        return common
    payload = {
        "Initiator": settings.MPESA_INITIATOR_NAME,
        "SecurityCredential": common["SecurityCredential"],
        "CommandID": "TransactionStatusQuery",
        "PartyA": str(settings.MPESA_B2C_SHORTCODE),
        "IdentifierType": "4",
        "ResultURL": common["ResultURL"],
        "QueueTimeOutURL": common["QueueTimeOutURL"],
        "Remarks": _text(remarks, fallback="Status of a transfer"),
        "Occasion": "",
    }
    if transaction_id:
        payload["TransactionID"] = str(transaction_id).strip()
    else:
        payload["OriginalConversationID"] = str(original_conversation_id or originator_conversation_id).strip()
    if originator_conversation_id:
        payload["OriginatorConversationID"] = str(originator_conversation_id).strip()
    return _send(STATUS_PATH, payload)
