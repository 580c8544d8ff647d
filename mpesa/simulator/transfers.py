"""The simulator's money going out: B2C, B2B, Reversal and Transaction Status.

Like Daraja, the HTTP answer only says "queued"; the outcome is decided at once, stored on a
SimulatedTransfer, and posted as `{"Result": {...}}` to the ResultURL from a background thread
after the answer has gone out (or to the QueueTimeOutURL, or twice, or never, as a one-shot
directive for the receiving party says). Shapes and codes: docs/daraja.md.

Outcomes, first match wins: the initiator name and the SecurityCredential (decrypted with
the simulator's own key, mpesa.simulator.keys) -> 2001; then what Daraja itself refuses
(B2C under KES 10 -> 2; a reversal of an unknown, already reversed or smaller receipt ->
R000002 / R000001; a status query about nothing it knows -> R000002); then the directive's
result (success, failure, or any Daraja code).
"""

import datetime as dt
import hmac
import logging
import re
import secrets
import time

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from mpesa.client import NAIROBI, daraja_timestamp
from mpesa.simulator import services
from mpesa.simulator.keys import decrypt_credential
from mpesa.simulator.models import SimulatedStkPush, SimulatedTransfer, SimulatorTransferDirective

logger = logging.getLogger(__name__)

RESPONSES = ("accept", "error_500", "error_400", "timeout", "html")
DELIVERIES = ("once", "twice", "never", "timeout")
RESULT_WORDS = ("success", "failure")
RESULT_CODE = re.compile(r"^[A-Za-z0-9_]{1,16}$")
B2C_MINIMUM = 10
SUCCESS_DESC = "The service request is processed successfully."
RESULT_DESCRIPTIONS = {
    "0": SUCCESS_DESC,
    "1": "The balance is insufficient for the transaction.",
    "2": "Declined due to limit rule: less than the minimum transaction amount.",
    "11": "The DebitParty is in an invalid state.",
    "17": "System internal error.",
    "21": "The initiator is not allowed to initiate this request.",
    "2001": "The initiator information is invalid.",
    "2040": "Credit Party customer type (Unregistered or Registered Customer) can't be supported by the service.",
    "8006": "The security credential is locked.",
    "R000001": "The transaction has already been reversed.",
    "R000002": "The OriginalTransactionID is invalid.",
    "SFC_IC0003": "Receiver party is invalid",
}
DEFAULT_FAILURE = {"b2c": "1", "b2b": "1", "reversal": "R000002", "status": "R000002"}
TIMEOUT_CODE, TIMEOUT_DESC = 1037, "The request timed out in the queue: the outcome is not known."
BUSINESS_NAME = "NEXUS"


def _digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def new_conversation_id() -> str:
    return f"AG_{timezone.now().astimezone(NAIROBI):%Y%m%d}_{secrets.token_hex(10)}"


def new_originator_conversation_id() -> str:
    """What Daraja makes up for a Reversal or a Status query: "NNNNN-NNNNNNNN-N"."""
    return f"{_digits(5)}-{_digits(8)}-{secrets.choice('123')}"


def directive_take(*, party: str) -> SimulatorTransferDirective | None:
    if not party:
        return None
    with transaction.atomic():
        directive = (
            SimulatorTransferDirective.objects.select_for_update()
            .filter(party=party)
            .order_by("created_at", "id")
            .first()
        )
        if directive is not None:
            directive.delete()
    return directive


def credential_is_valid(*, initiator: str, credential: str) -> bool:
    if not hmac.compare_digest(str(initiator or ""), settings.MPESA_SIMULATOR_INITIATOR_NAME):
        return False
    password = decrypt_credential(credential)
    return password is not None and hmac.compare_digest(password, settings.MPESA_SIMULATOR_INITIATOR_PASSWORD)


def _chosen_code(kind: str, directive: SimulatorTransferDirective | None) -> str:
    wanted = directive.result if directive else "success"
    if wanted == "success":
        return "0"
    if wanted == "failure":
        return DEFAULT_FAILURE[kind]
    return wanted


def _completed(moment: dt.datetime) -> tuple[str, int]:
    """Daraja's two ways of writing a completion time (Nairobi): "29.11.2026 17:45:50" and 20261129174550."""
    local = moment.astimezone(NAIROBI)
    return local.strftime("%d.%m.%Y %H:%M:%S"), int(daraja_timestamp(moment))


def _params(kind: str, transfer: SimulatedTransfer, now: dt.datetime, extra: dict) -> list[tuple[str, object]]:
    dotted, compact = _completed(now)
    if kind == "b2c":
        return [
            ("TransactionAmount", transfer.amount),
            ("TransactionReceipt", transfer.transaction_id),
            ("B2CRecipientIsRegisteredCustomer", "Y"),
            ("B2CChargesPaidAccountAvailableFunds", 0.00),
            ("ReceiverPartyPublicName", f"{transfer.party} - M-PESA Customer"),
            ("TransactionCompletedDateTime", dotted),
            ("B2CUtilityAccountAvailableFunds", 250000.00),
            ("B2CWorkingAccountAvailableFunds", 0.00),
        ]
    if kind == "b2b":
        params = [
            ("DebitAccountBalance", "Working Account|KES|250000.00|250000.00|0.00|0.00"),
            ("Amount", transfer.amount),
            ("DebitPartyAffectedAccountBalance", "Working Account|KES|250000.00|250000.00|0.00|0.00"),
            ("TransCompletedTime", compact),
            ("DebitPartyCharges", ""),
            ("ReceiverPartyPublicName", f"{transfer.party} - Business {transfer.party}"),
            ("Currency", "KES"),
        ]
        if transfer.command_id == "BusinessPayBill":
            params.append(("BillReferenceNumber", transfer.account_reference))
        return params
    if kind == "reversal":
        return [
            ("DebitAccountBalance", "Utility Account|KES|250000.00|250000.00|0.00|0.00"),
            ("Amount", float(transfer.amount)),  # Daraja writes it 1500.0 here
            ("TransCompletedTime", compact),
            ("OriginalTransactionID", transfer.original_transaction_id),
            ("Charge", 0.0),
            ("CreditPartyPublicName", f"{transfer.party} - M-PESA Customer"),
            ("DebitPartyPublicName", f"{settings.MPESA_SIMULATOR_SHORTCODE} - {BUSINESS_NAME}"),
        ]
    return list(extra.items())


def build_result_body(transfer: SimulatedTransfer, *, params: list[tuple[str, object]]) -> dict:
    code = transfer.result_code
    result = {
        "ResultType": 0,
        "ResultCode": int(code) if code.isdigit() else code,
        "ResultDesc": transfer.result_desc,
        "OriginatorConversationID": transfer.originator_conversation_id,
        "ConversationID": transfer.conversation_id,
        "TransactionID": transfer.transaction_id,
    }
    if params:
        result["ResultParameters"] = {"ResultParameter": [{"Key": k, "Value": v} for k, v in params]}
    # One reference item is an object, not a list (docs/daraja.md).
    result["ReferenceData"] = {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": transfer.timeout_url}}
    return {"Result": result}


def timeout_body(transfer: SimulatedTransfer) -> dict:
    return {
        "Result": {
            "ResultType": 1,
            "ResultCode": TIMEOUT_CODE,
            "ResultDesc": TIMEOUT_DESC,
            "OriginatorConversationID": transfer.originator_conversation_id,
            "ConversationID": transfer.conversation_id,
            "TransactionID": "",
            "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": transfer.timeout_url}},
        }
    }


# --- Accepting requests -------------------------------------------------------------------------


def _status_target(body: dict):
    """The transaction a status query asks about: a SimulatedTransfer, a paid STK push, or None."""
    asked = [str(body.get(k) or "").strip() for k in ("TransactionID", "OriginalConversationID", "OriginatorConversationID")]
    transaction_id, conversation_id, originator_id = asked
    transfers = SimulatedTransfer.objects.exclude(kind=SimulatedTransfer.Kind.STATUS)
    if transaction_id:
        found = transfers.filter(transaction_id=transaction_id).first()
        if found is None:
            found = SimulatedStkPush.objects.filter(
                receipt_number=transaction_id, state=SimulatedStkPush.State.PAID
            ).first()
        if found is None:  # some clients put the conversation id in TransactionID
            found = transfers.filter(Q(conversation_id=transaction_id) | Q(originator_conversation_id=transaction_id)).first()
        if found is not None:
            return found
    for wanted in (conversation_id, originator_id):
        if wanted:
            found = transfers.filter(Q(conversation_id=wanted) | Q(originator_conversation_id=wanted)).first()
            if found is not None:
                return found
    return None


def status_party(body: dict) -> str:
    target = _status_target(body)
    if isinstance(target, SimulatedTransfer):
        return target.party
    if isinstance(target, SimulatedStkPush):
        return target.phone_number
    return ""


def _status_params(target, now: dt.datetime) -> tuple[str, str, list[tuple[str, object]], SimulatedTransfer | None]:
    """(code, desc, params, queried transfer) of a status result about `target`."""
    if target is None:
        return "R000002", RESULT_DESCRIPTIONS["R000002"], [], None
    if isinstance(target, SimulatedStkPush):
        finished = target.completed_at or now
        return "0", SUCCESS_DESC, [
            ("DebitPartyName", f"{target.phone_number} - M-PESA Customer"),
            ("CreditPartyName", f"{target.shortcode} - {BUSINESS_NAME}"),
            ("OriginatorConversationID", target.merchant_request_id),
            ("InitiatedTime", int(daraja_timestamp(target.created_at))),
            ("DebitAccountType", "MMF Account For Customer"),
            ("DebitPartyCharges", ""),
            ("TransactionReason", ""),
            ("ReasonType", "Pay Bill Online"),
            ("TransactionStatus", "Completed"),
            ("FinalisedTime", int(daraja_timestamp(finished))),
            ("Amount", target.paid_amount or target.amount),
            ("ConversationID", target.checkout_request_id),
            ("ReceiptNo", target.receipt_number),
        ], None
    ids = [("OriginatorConversationID", target.originator_conversation_id), ("ConversationID", target.conversation_id)]
    if not target.succeeded:
        # M-Pesa moved no money: the query answers with the failure, naming the request.
        return target.result_code, target.result_desc, [*ids, ("TransactionStatus", "Failed")], target
    finished = target.completed_at or now
    reason = {"b2c": "Business Payment to Individual", "b2b": "Business to Business Transfer",
              "reversal": "Reversal"}.get(target.kind, "")
    return "0", SUCCESS_DESC, [
        ("DebitPartyName", f"{settings.MPESA_SIMULATOR_SHORTCODE} - {BUSINESS_NAME}"),
        ("CreditPartyName", f"{target.party} - M-PESA Customer"),
        ids[0],
        ("InitiatedTime", int(daraja_timestamp(target.created_at))),
        ("DebitAccountType", "Utility Account"),
        ("DebitPartyCharges", ""),
        ("TransactionReason", target.remarks[:100]),
        ("ReasonType", reason),
        ("TransactionStatus", "Completed"),
        ("FinalisedTime", int(daraja_timestamp(finished))),
        ("Amount", target.amount),
        ids[1],
        ("ReceiptNo", target.transaction_id),
    ], target


def transfer_accept(
    *,
    kind: str,
    body: dict,
    party: str,
    amount: int,
    command_id: str,
    initiator: str,
    directive: SimulatorTransferDirective | None,
) -> tuple[SimulatedTransfer, bool]:
    """Record an accepted request and decide its result: (transfer, created). Repeats of one
    OriginatorConversationID (B2C/B2B) give back the first request: the money moves once."""
    own_id = kind in ("b2c", "b2b") and str(body.get("OriginatorConversationID") or "").strip()
    if own_id:
        existing = SimulatedTransfer.objects.filter(originator_conversation_id=own_id).first()
        if existing is not None:
            return existing, False
    now = timezone.now()
    valid = credential_is_valid(initiator=initiator, credential=str(body.get("SecurityCredential") or ""))
    code = "2001" if not valid else None
    extra: dict = {}
    with transaction.atomic():
        push = None
        target = None
        if kind == "reversal":
            receipt = str(body.get("TransactionID") or "").strip()
            push = SimulatedStkPush.objects.select_for_update().filter(
                receipt_number=receipt, state=SimulatedStkPush.State.PAID
            ).first()
            if code is None:
                if push is None:
                    code = "R000002"
                elif push.reversed_at is not None:
                    code = "R000001"
                elif amount > (push.paid_amount or push.amount):
                    code = "R000002"
                    extra["desc"] = "The amount is more than the original transaction amount."
        elif kind == "b2c" and code is None and amount < B2C_MINIMUM:
            code = "2"
        elif kind == "status":
            target = _status_target(body)
        if code is None:
            code = _chosen_code(kind, directive)
        transfer = SimulatedTransfer(
            kind=kind,
            originator_conversation_id=own_id or new_originator_conversation_id(),
            conversation_id=new_conversation_id(),
            party=party,
            command_id=command_id,
            amount=amount,
            initiator=str(initiator or "")[:100],
            credential_valid=valid,
            account_reference=str(body.get("AccountReference") or "")[:100],
            remarks=str(body.get("Remarks") or "")[:255],
            occasion=str(body.get("Occasion") or "")[:255],
            result_url=str(body["ResultURL"]),
            timeout_url=str(body.get("QueueTimeOutURL") or ""),
            transaction_id=services.new_receipt(),
            original_transaction_id=str(
                body.get("TransactionID") or body.get("OriginalConversationID") or body.get("OriginatorConversationID") or ""
            )[:100] if kind in ("reversal", "status") else "",
            result_code=code,
            result_desc=extra.get("desc") or RESULT_DESCRIPTIONS.get(code, "The service request failed."),
            result_body={},
            delivery=directive.delivery if directive else "once",
            request_body={k: ("<redacted>" if k == "SecurityCredential" else v) for k, v in body.items()},
            completed_at=now,
        )
        params: list[tuple[str, object]] = []
        if kind == "status" and code == "0":
            # The query itself went through: its result tells about the transaction asked about.
            status_code, status_desc, params, transfer.queried = _status_params(target, now)
            transfer.result_code, transfer.result_desc = status_code, status_desc
        elif code == "0":
            params = _params(kind, transfer, now, extra)
        transfer.result_body = build_result_body(transfer, params=params)
        try:
            with transaction.atomic():
                transfer.save()
        except IntegrityError:
            # The same OriginatorConversationID at the same moment: the first one stands.
            return SimulatedTransfer.objects.get(originator_conversation_id=own_id), False
        if kind == "reversal" and push is not None and transfer.succeeded:
            push.reversed_at, push.reversal_transaction_id = now, transfer.transaction_id
            push.save(update_fields=["reversed_at", "reversal_transaction_id"])
    logger.info(
        "simulator transfer kind=%s originator_conversation_id=%s result_code=%s delivery=%s",
        kind,
        transfer.originator_conversation_id,
        transfer.result_code,
        transfer.delivery,
    )
    return transfer, True


def sync_answer(transfer: SimulatedTransfer) -> dict:
    return {
        "ConversationID": transfer.conversation_id,
        "OriginatorConversationID": transfer.originator_conversation_id,
        "ResponseCode": "0",
        "ResponseDescription": "Accept the service request successfully.",
    }


# --- Delivering results ----------------------------------------------------------------------------


def _post(transfer: SimulatedTransfer, url: str, body: dict, counter: str) -> str:
    try:
        response = requests.post(url, json=body, timeout=services.CALLBACK_TIMEOUT_SECONDS)
        outcome = f"HTTP {response.status_code}"
    except requests.RequestException as error:
        outcome = f"error {type(error).__name__}"[:64]
    SimulatedTransfer.objects.filter(pk=transfer.pk).update(**{counter: F(counter) + 1}, last_delivery_status=outcome)
    logger.info("simulator transfer %s originator_conversation_id=%s %s", counter, transfer.originator_conversation_id,
                outcome)
    return outcome


def results_deliver(transfer_id: int, *, delay: float = 0.0, force_once: bool = False) -> int:
    """Post as the transfer's delivery says (once, twice, never, timeout). Returns how many posts."""
    if delay:
        time.sleep(delay)
    transfer = SimulatedTransfer.objects.get(pk=transfer_id)
    if force_once:
        _post(transfer, transfer.result_url, transfer.result_body, "results_sent")
        return 1
    if transfer.delivery == "timeout":
        if not transfer.timeout_url:
            return 0
        _post(transfer, transfer.timeout_url, timeout_body(transfer), "timeouts_sent")
        return 1
    times = {"once": 1, "twice": 2, "never": 0}.get(transfer.delivery, 1)
    for _ in range(times):
        _post(transfer, transfer.result_url, transfer.result_body, "results_sent")
    return times


def deliver_in_background(transfer_id: int, *, delay: float = 0.0, force_once: bool = False):
    return services.background(
        lambda: results_deliver(transfer_id, delay=delay, force_once=force_once),
        name=f"simulator-result-{transfer_id}",
    )


# --- Reading --------------------------------------------------------------------------------------------


def transfer_as_dict(transfer: SimulatedTransfer) -> dict:
    return {
        "id": transfer.pk,
        "kind": transfer.kind,
        "originator_conversation_id": transfer.originator_conversation_id,
        "conversation_id": transfer.conversation_id,
        "party": transfer.party,
        "command_id": transfer.command_id,
        "amount": transfer.amount,
        "initiator": transfer.initiator,
        "credential_valid": transfer.credential_valid,
        "account_reference": transfer.account_reference,
        "remarks": transfer.remarks,
        "occasion": transfer.occasion,
        "transaction_id": transfer.transaction_id,
        "original_transaction_id": transfer.original_transaction_id,
        "queried_originator_conversation_id": transfer.queried.originator_conversation_id if transfer.queried else None,
        "result_code": transfer.result_code,
        "result_desc": transfer.result_desc,
        "succeeded": transfer.succeeded,
        "delivery": transfer.delivery,
        "results_sent": transfer.results_sent,
        "timeouts_sent": transfer.timeouts_sent,
        "posts_sent": transfer.results_sent + transfer.timeouts_sent,
        "last_delivery_status": transfer.last_delivery_status,
        "result_url": transfer.result_url,
        "timeout_url": transfer.timeout_url,
        "result_body": transfer.result_body,
        "timeout_body": timeout_body(transfer),
        "request": transfer.request_body,
        "created_at": transfer.created_at.isoformat(),
        "completed_at": transfer.completed_at.isoformat() if transfer.completed_at else None,
    }


def money_received(*, phone_number: str):
    """What the virtual phone shows as received: successful B2C payments and reversals."""
    return SimulatedTransfer.objects.filter(
        party=phone_number,
        kind__in=(SimulatedTransfer.Kind.B2C, SimulatedTransfer.Kind.REVERSAL),
        result_code="0",
    ).order_by("-created_at", "-id")


def received_message(transfer: SimulatedTransfer) -> str:
    """M-Pesa's confirmation SMS, in its words."""
    moment = (transfer.completed_at or transfer.created_at).astimezone(NAIROBI)
    when = f"on {moment:%-d/%-m/%y} at {moment:%-I:%M %p}"
    if transfer.kind == SimulatedTransfer.Kind.REVERSAL:
        return (
            f"{transfer.transaction_id} Confirmed. Transaction {transfer.original_transaction_id} "
            f"of KES {transfer.amount:,} to {BUSINESS_NAME} has been reversed {when}. "
            f"KES {transfer.amount:,} has been credited to your M-PESA account."
        )
    return (
        f"{transfer.transaction_id} Confirmed. You have received KES {transfer.amount:,} from "
        f"{BUSINESS_NAME} {settings.MPESA_SIMULATOR_SHORTCODE} {when}."
    )
