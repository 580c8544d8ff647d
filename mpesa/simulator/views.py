"""The simulator's HTTP face: Daraja's endpoints, the virtual phone, and a JSON control API.

Daraja endpoints validate like Daraja and answer with its envelopes (docs/daraja.md):
errors are {"requestId", "errorCode", "errorMessage"}. Everything here is csrf-exempt:
Daraja's clients send no CSRF token, and the phone page is a development tool.
"""

import base64
import binascii
import datetime as dt
import hmac
import re
import time
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import safe_json
from core.phones import to_msisdn
from mpesa.client import NAIROBI, stk_password
from mpesa.simulator import services, transfers
from mpesa.simulator.models import (
    SimulatedSms,
    SimulatedStkPush,
    SimulatedTransfer,
    SimulatorDirective,
    SimulatorTransferDirective,
)

STK_PUSH_FIELDS = (
    "BusinessShortCode",
    "Password",
    "Timestamp",
    "TransactionType",
    "Amount",
    "PartyA",
    "PartyB",
    "PhoneNumber",
    "CallBackURL",
    "AccountReference",
    "TransactionDesc",
)
STK_QUERY_FIELDS = ("BusinessShortCode", "Password", "Timestamp", "CheckoutRequestID")
TRANSACTION_TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
TIMESTAMP_TOLERANCE = dt.timedelta(minutes=5)
_MSISDN = re.compile(r"^254[17]\d{8}$")
_DARAJA_TEXT = re.compile(r"^[A-Za-z0-9 \-]+$")
_HTML_ERROR = (
    "<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>"
)


class _RespondThen(JsonResponse):
    """A JSON response that runs `after` once the server has sent it (WSGI close())."""

    def __init__(self, data, *, after, **kwargs):
        super().__init__(data, **kwargs)
        self._after = after

    def close(self):
        super().close()
        self._after()


def daraja_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(
        {
            "requestId": f"{uuid.uuid4().hex[:5]}-{uuid.uuid4().int % 10**8}-1",
            "errorCode": code,
            "errorMessage": message,
        },
        status=status,
    )


def _invalid(field: str) -> JsonResponse:
    return daraja_error(400, "400.002.02", f"Bad Request - Invalid {field}")


def _bearer_ok(request) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    return header.startswith("Bearer ") and services.token_is_valid(header[len("Bearer ") :].strip())


def _json_body(request):
    try:
        body = safe_json.loads(request.body or b"")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _check_fields(body: dict, expected: tuple[str, ...]) -> JsonResponse | None:
    for field in body:
        if field not in expected:
            return _invalid(field)
    for field in expected:
        if body.get(field) in (None, ""):
            return _invalid(field)
    return None


def _check_credentials(body: dict) -> JsonResponse | None:
    """Shortcode, Timestamp (Africa/Nairobi, fresh) and Password, like Daraja."""
    shortcode = str(body["BusinessShortCode"])
    if shortcode != settings.MPESA_SIMULATOR_SHORTCODE:
        return daraja_error(500, "500.001.1001", "Merchant does not exist")
    timestamp = str(body["Timestamp"])
    try:
        sent = dt.datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
    except ValueError:
        return _invalid("Timestamp")
    if len(timestamp) != 14 or abs(timezone.now() - sent) > TIMESTAMP_TOLERANCE:
        # A server that formats UTC instead of Nairobi time is three hours off.
        return _invalid("Timestamp")
    expected = stk_password(shortcode=shortcode, passkey=settings.MPESA_SIMULATOR_PASSKEY, timestamp=timestamp)
    if not hmac.compare_digest(str(body["Password"]), expected):
        return daraja_error(500, "500.001.1001", "Wrong credentials")
    return None


def _whole_number(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _valid_callback_url(value: str) -> bool:
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


# --- Daraja endpoints -----------------------------------------------------------------------------------


@csrf_exempt
@require_GET
def oauth_generate(request):
    header = request.META.get("HTTP_AUTHORIZATION", "")
    try:
        key, _, secret = base64.b64decode(header.removeprefix("Basic ").strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        key, secret = "", ""
    authentic = header.startswith("Basic ") and hmac.compare_digest(
        f"{key}:{secret}", f"{settings.MPESA_SIMULATOR_CONSUMER_KEY}:{settings.MPESA_SIMULATOR_CONSUMER_SECRET}"
    )
    if not authentic:
        return daraja_error(400, "400.008.01", "Invalid Authentication passed")
    if request.GET.get("grant_type") != "client_credentials":
        return daraja_error(400, "400.008.02", "Invalid grant type passed")
    # Daraja documents expires_in as a number but sends a string.
    return JsonResponse({"access_token": services.token_issue(), "expires_in": str(services.TOKEN_LIFETIME_SECONDS)})


@csrf_exempt
@require_POST
def stk_push(request):
    if not _bearer_ok(request):
        return daraja_error(404, "404.001.03", "Invalid Access Token")
    body = _json_body(request)
    if body is None:
        return _invalid("JSON")
    problem = _check_fields(body, STK_PUSH_FIELDS) or _check_credentials(body)
    if problem:
        return problem
    if body["TransactionType"] not in TRANSACTION_TYPES:
        return _invalid("TransactionType")
    amount = _whole_number(body["Amount"])
    if amount is None or not 1 <= amount <= 250_000:
        return _invalid("Amount")
    for field in ("PartyA", "PhoneNumber"):
        if not _MSISDN.match(str(body[field])):
            return _invalid(field)
    if body["TransactionType"] == "CustomerPayBillOnline" and str(body["PartyB"]) != str(body["BusinessShortCode"]):
        return _invalid("PartyB")
    if not _valid_callback_url(body["CallBackURL"]):
        return _invalid("CallBackURL")
    for field, limit in (("AccountReference", 12), ("TransactionDesc", 13)):
        value = body[field]
        if not isinstance(value, str) or len(value) > limit or not _DARAJA_TEXT.match(value):
            return _invalid(field)

    phone = str(body["PhoneNumber"])
    directive = services.directive_take(phone_number=phone)
    mode = directive.push_response if directive else "accept"
    if mode == "error_500":
        return daraja_error(500, "500.003.1001", "Internal Server Error")
    if mode == "error_400":
        return daraja_error(400, "400.002.02", "Bad Request - Invalid PhoneNumber")
    if mode == "html":
        return HttpResponse(_HTML_ERROR, status=503, content_type="text/html")
    if mode == "empty":
        return HttpResponse(b"", status=500)
    if mode == "token_expired":
        return daraja_error(404, "404.001.03", "Invalid Access Token")
    if services.phone_is_locked(phone_number=phone):
        return daraja_error(
            500,
            "500.001.1001",
            "Unable to lock subscriber, a transaction is already in process for the current subscriber",
        )
    prompt = services.prompt_create(payload={**body, "Amount": amount}, directive=directive)
    if mode == "timeout":
        # The prompt went out, but the answer comes too late for the caller.
        time.sleep(settings.MPESA_SIMULATOR_SLOW_SECONDS)
    answer = {
        "MerchantRequestID": prompt.merchant_request_id,
        "CheckoutRequestID": prompt.checkout_request_id,
        "ResponseCode": "0",
        "ResponseDescription": "Success. Request accepted for processing",
        "CustomerMessage": "Success. Request accepted for processing",
    }
    auto_action = directive.auto_action if directive else ""
    if auto_action in services.ACTIONS:

        def answer_on_the_phone():
            try:
                services.prompt_respond(
                    checkout_request_id=prompt.checkout_request_id, action=auto_action, amount=directive.paid_amount
                )
            except services.PromptNotPending:
                return
            services.deliver_in_background(prompt.pk, delay=services.AUTO_ACTION_DELAY_SECONDS)

        return _RespondThen(answer, after=answer_on_the_phone)
    return JsonResponse(answer)


@csrf_exempt
@require_POST
def stk_query(request):
    if not _bearer_ok(request):
        return daraja_error(404, "404.001.03", "Invalid Access Token")
    body = _json_body(request)
    if body is None:
        return _invalid("JSON")
    problem = _check_fields(body, STK_QUERY_FIELDS) or _check_credentials(body)
    if problem:
        return problem
    services.prompts_expire_stale()
    prompt = SimulatedStkPush.objects.filter(checkout_request_id=str(body["CheckoutRequestID"])).first()
    if prompt is None:
        return _invalid("CheckoutRequestID")
    processing = daraja_error(500, "500.001.1001", "The transaction is being processed")
    if prompt.query_mode == "pending_500":
        return processing
    if prompt.query_mode == "error_503":
        return HttpResponse(_HTML_ERROR, status=503, content_type="text/html")
    envelope = {
        "ResponseCode": "0",
        "ResponseDescription": "The service request has been accepted successsfully",  # Daraja's spelling
        "MerchantRequestID": prompt.merchant_request_id,
        "CheckoutRequestID": prompt.checkout_request_id,
    }
    if prompt.query_mode == "pending_4999":
        return JsonResponse(
            {**envelope, "ResultCode": "4999", "ResultDesc": "The transaction is still under processing"}
        )
    if prompt.state == SimulatedStkPush.State.PENDING:
        return processing
    return JsonResponse({**envelope, "ResultCode": prompt.result_code, "ResultDesc": prompt.result_desc})


# --- JSON control API (tests and the demo) --------------------------------------------------------------


def _api_error(status: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)


def _prompt_or_404(checkout_request_id: str) -> SimulatedStkPush:
    prompt = SimulatedStkPush.objects.filter(checkout_request_id=checkout_request_id).first()
    if prompt is None:
        raise Http404("No such prompt")
    return prompt


@csrf_exempt
@require_GET
def api_prompt_list(request):
    services.prompts_expire_stale()
    prompts = SimulatedStkPush.objects.all()
    phone = request.GET.get("phone_number", "").strip()
    if phone:
        try:
            prompts = prompts.filter(phone_number=to_msisdn(phone))
        except ValidationError:
            return _api_error(400, "Not a Kenyan mobile number.", "invalid_phone")
    state = request.GET.get("state", "").strip()
    if state:
        prompts = prompts.filter(state=state)
    return JsonResponse({"results": [services.prompt_as_dict(p) for p in prompts.order_by("-created_at", "-id")[:100]]})


@csrf_exempt
@require_GET
def api_prompt_detail(request, checkout_request_id: str):
    return JsonResponse(services.prompt_as_dict(_prompt_or_404(checkout_request_id)))


@csrf_exempt
@require_POST
def api_prompt_respond(request, checkout_request_id: str):
    """{"action": pay|cancel|wrong_pin|insufficient|timeout, "amount"?: int} -> the prompt; callback follows."""
    body = _json_body(request)
    if body is None or body.get("action") not in services.ACTIONS:
        return _api_error(400, f"action must be one of {', '.join(services.ACTIONS)}", "invalid_action")
    amount = body.get("amount")
    if amount is not None and (_whole_number(amount) is None or _whole_number(amount) < 1):
        return _api_error(400, "amount must be a positive whole number", "invalid_amount")
    prompt = _prompt_or_404(checkout_request_id)
    try:
        prompt = services.prompt_respond(
            checkout_request_id=prompt.checkout_request_id,
            action=body["action"],
            amount=_whole_number(amount) if amount is not None else None,
        )
    except services.PromptNotPending:
        return _api_error(409, "This prompt was already answered.", "prompt_not_pending")
    return _RespondThen(services.prompt_as_dict(prompt), after=lambda: services.deliver_in_background(prompt.pk))


@csrf_exempt
@require_POST
def api_prompt_modes(request, checkout_request_id: str):
    """{"callback_mode"?: once|twice|never, "query_mode"?: normal|pending_500|pending_4999|error_503}."""
    body = _json_body(request) or {}
    callback_mode, query_mode = body.get("callback_mode"), body.get("query_mode")
    if callback_mode not in (None, *services.CALLBACK_MODES) or query_mode not in (None, *services.QUERY_MODES):
        return _api_error(400, "Unknown callback_mode or query_mode.", "invalid_mode")
    prompt = services.prompt_set_modes(
        prompt=_prompt_or_404(checkout_request_id), callback_mode=callback_mode, query_mode=query_mode
    )
    return JsonResponse(services.prompt_as_dict(prompt))


@csrf_exempt
@require_POST
def api_prompt_resend(request, checkout_request_id: str):
    """Deliver an answered prompt's callback (again) now: a late or repeated callback."""
    prompt = _prompt_or_404(checkout_request_id)
    if prompt.state == SimulatedStkPush.State.PENDING:
        return _api_error(409, "The prompt has not been answered yet.", "prompt_pending")
    return _RespondThen(
        {"detail": "Callback on its way.", "checkout_request_id": prompt.checkout_request_id},
        status=202,
        after=lambda: services.deliver_in_background(prompt.pk, force_once=True),
    )


@csrf_exempt
@require_POST
def api_directive_create(request):
    """A one-shot instruction for the next STK push to a phone."""
    body = _json_body(request)
    if body is None:
        return _api_error(400, "Send a JSON object.", "invalid_json")
    try:
        phone = to_msisdn(body.get("phone_number"))
    except ValidationError:
        return _api_error(400, "phone_number must be a Kenyan mobile number.", "invalid_phone")
    choices = {
        "push_response": (body.get("push_response") or "accept", services.PUSH_RESPONSES),
        "auto_action": (body.get("auto_action") or "", ("", *services.ACTIONS)),
        "callback_mode": (body.get("callback_mode") or "once", services.CALLBACK_MODES),
        "query_mode": (body.get("query_mode") or "normal", services.QUERY_MODES),
    }
    for name, (value, allowed) in choices.items():
        if value not in allowed:
            shown = ", ".join(repr(a) for a in allowed)
            return _api_error(400, f"{name} must be one of {shown}", "invalid_directive")
    paid_amount = body.get("paid_amount")
    if paid_amount is not None and (_whole_number(paid_amount) is None or _whole_number(paid_amount) < 1):
        return _api_error(400, "paid_amount must be a positive whole number", "invalid_directive")
    directive = SimulatorDirective.objects.create(
        phone_number=phone,
        paid_amount=_whole_number(paid_amount) if paid_amount is not None else None,
        **{name: value for name, (value, _) in choices.items()},
    )
    return JsonResponse(
        {
            "id": directive.pk,
            "phone_number": phone,
            "paid_amount": directive.paid_amount,
            **{name: value for name, (value, _) in choices.items()},
        },
        status=201,
    )


@csrf_exempt
@require_GET
def api_sms_list(request):
    """The SMS the simulated gateway delivered, newest first (?phone_number= one phone's)."""
    messages_ = SimulatedSms.objects.all()
    phone = request.GET.get("phone_number", "").strip()
    if phone:
        try:
            messages_ = messages_.filter(phone_number=to_msisdn(phone))
        except ValidationError:
            return _api_error(400, "Not a Kenyan mobile number.", "invalid_phone")
    return JsonResponse(
        {
            "results": [
                {"id": m.pk, "phone_number": m.phone_number, "message": m.message, "created_at": m.created_at.isoformat()}
                for m in messages_.order_by("-created_at", "-id")[:100]
            ]
        }
    )


@csrf_exempt
@require_POST
def api_tokens_expire(request):
    """Every OAuth token issued so far stops working (the client must refresh once and retry)."""
    services.tokens_expire_all()
    return JsonResponse({"detail": "All access tokens expired."})


# --- The virtual phone ------------------------------------------------------------------------------------


@csrf_exempt
@never_cache
@require_http_methods(["GET"])
def phone_list(request):
    services.prompts_expire_stale()
    wanted = request.GET.get("msisdn", "").strip()
    if wanted:
        try:
            return redirect("simulator:phone", msisdn=to_msisdn(wanted))
        except ValidationError:
            messages.error(request, "Enter a Kenyan mobile number such as 0712 345 678.")
    phones = list(
        SimulatedStkPush.objects.values("phone_number")
        .annotate(pending=Count("id", filter=Q(state=SimulatedStkPush.State.PENDING)), last=Max("created_at"))
        .order_by("-pending", "-last")
    )
    # Phones that only ever received SMS are listed after those with prompts.
    listed = {p["phone_number"] for p in phones}
    for row in SimulatedSms.objects.values("phone_number").annotate(last=Max("created_at")).order_by("-last"):
        if row["phone_number"] not in listed:
            phones.append({"phone_number": row["phone_number"], "pending": 0, "last": row["last"]})
            listed.add(row["phone_number"])
    # And phones that were only ever sent money (refunds, payouts).
    received = (
        SimulatedTransfer.objects.filter(kind__in=("b2c", "reversal"), result_code="0")
        .values("party")
        .annotate(last=Max("created_at"))
        .order_by("-last")
    )
    for row in received:
        if row["party"] not in listed:
            phones.append({"phone_number": row["party"], "pending": 0, "last": row["last"]})
            listed.add(row["party"])
    return render(request, "simulator/phone_list.html", {"phones": phones})


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def phone(request, msisdn: str):
    try:
        normalised = to_msisdn(msisdn)
    except ValidationError:
        raise Http404("Not a Kenyan mobile number")
    if normalised != msisdn:
        return redirect("simulator:phone", msisdn=normalised)
    if request.method == "POST":
        return _phone_answer(request, msisdn)
    services.prompts_expire_stale()
    prompts = SimulatedStkPush.objects.filter(phone_number=msisdn)
    context = {
        "msisdn": msisdn,
        "pending": prompts.filter(state=SimulatedStkPush.State.PENDING).order_by("created_at"),
        "history": prompts.exclude(state=SimulatedStkPush.State.PENDING).order_by("-completed_at", "-id")[:10],
        "poll_url": reverse("simulator:api_prompt_list") + f"?phone_number={msisdn}&state=pending",
        "sms": SimulatedSms.objects.filter(phone_number=msisdn).order_by("-created_at", "-id")[:20],
        "sms_poll_url": reverse("simulator:api_sms_list") + f"?phone_number={msisdn}",
        "received": [
            {"transfer": t, "message": transfers.received_message(t)}
            for t in transfers.money_received(phone_number=msisdn)[:20]
        ],
        "received_poll_url": reverse("simulator:api_transfer_list") + f"?party={msisdn}&received=1",
    }
    return render(request, "simulator/phone.html", context)


def _phone_answer(request, msisdn: str):
    """The person pressed Pay / Cancel / Wrong PIN / Ignore on a prompt."""
    action = {"pay": "pay", "cancel": "cancel", "wrong_pin": "wrong_pin", "ignore": "timeout"}.get(
        request.POST.get("action", "")
    )
    checkout_request_id = request.POST.get("checkout_request_id", "")
    prompt = SimulatedStkPush.objects.filter(checkout_request_id=checkout_request_id, phone_number=msisdn).first()
    if action is None or prompt is None:
        messages.error(request, "That prompt is not on this phone.")
        return redirect("simulator:phone", msisdn=msisdn)
    if action == "pay" and not re.fullmatch(r"\d{4}", request.POST.get("pin", "").strip()):
        messages.error(request, "Enter your 4-digit M-Pesa PIN to pay.")
        return redirect("simulator:phone", msisdn=msisdn)
    try:
        prompt = services.prompt_respond(checkout_request_id=checkout_request_id, action=action)
    except services.PromptNotPending:
        messages.error(request, "This prompt was already answered.")
        return redirect("simulator:phone", msisdn=msisdn)
    services.deliver_in_background(prompt.pk, delay=services.AUTO_ACTION_DELAY_SECONDS)
    if action == "pay":
        messages.success(
            request,
            f"{prompt.receipt_number} Confirmed. Ksh{prompt.paid_amount:,}.00 sent to NEXUS "
            f"for account {prompt.account_reference}.",
        )
    else:
        messages.info(request, f"{prompt.get_state_display()} (ResultCode {prompt.result_code}).")
    return redirect("simulator:phone", msisdn=msisdn)


# --- Money going out: B2C, B2B, Reversal, Transaction Status (mpesa.simulator.transfers) ---------------

B2C_FIELDS = (
    "OriginatorConversationID",
    "InitiatorName",
    "SecurityCredential",
    "CommandID",
    "Amount",
    "PartyA",
    "PartyB",
    "Remarks",
    "QueueTimeOutURL",
    "ResultURL",
)
B2B_FIELDS = (
    "Initiator",
    "SecurityCredential",
    "CommandID",
    "SenderIdentifierType",
    "RecieverIdentifierType",  # Daraja's spelling
    "Amount",
    "PartyA",
    "PartyB",
    "Remarks",
    "QueueTimeOutURL",
    "ResultURL",
)
REVERSAL_FIELDS = (
    "Initiator",
    "SecurityCredential",
    "CommandID",
    "TransactionID",
    "Amount",
    "ReceiverParty",
    "RecieverIdentifierType",
    "ResultURL",
    "QueueTimeOutURL",
    "Remarks",
)
STATUS_FIELDS = (
    "Initiator",
    "SecurityCredential",
    "CommandID",
    "PartyA",
    "IdentifierType",
    "ResultURL",
    "QueueTimeOutURL",
    "Remarks",
)
B2C_COMMANDS = ("BusinessPayment", "SalaryPayment", "PromotionPayment")
B2B_RECEIVER_TYPES = {"BusinessPayBill": "4", "BusinessBuyGoods": "2"}
TRANSFER_MAX_AMOUNT = 250_000
_SHORTCODE = re.compile(r"^\d{5,10}$")


def _transfer_problem(body: dict, required: tuple[str, ...]) -> JsonResponse | None:
    """Daraja's 400 for a missing or malformed common field (extra fields are ignored, as Daraja does)."""
    for field in required:
        if body.get(field) in (None, ""):
            return _invalid(field)
    for field in ("ResultURL", "QueueTimeOutURL"):
        if not _valid_callback_url(body[field]):
            return _invalid(field)
    for field in ("Remarks", "Occasion"):
        value = body.get(field)
        if value is not None and (not isinstance(value, str) or len(value) > 100):
            return _invalid(field)
    return None


def _transfer_amount(body: dict) -> int | JsonResponse:
    amount = _whole_number(body["Amount"])
    if amount is None or not 1 <= amount <= TRANSFER_MAX_AMOUNT:
        return _invalid("Amount")
    return amount


def _transfer_answer(*, kind: str, body: dict, party: str, amount: int, command_id: str, initiator: str):
    """What the directive for `party` says: an error now, or accept (maybe slowly) and post the result."""
    directive = transfers.directive_take(party=party)
    mode = directive.response if directive else "accept"
    if mode == "error_500":
        return daraja_error(500, "500.003.1001", "Internal Server Error")
    if mode == "error_400":
        return daraja_error(400, "400.002.02", "Bad Request - Invalid PartyB")
    if mode == "html":
        return HttpResponse(_HTML_ERROR, status=503, content_type="text/html")
    transfer, created = transfers.transfer_accept(
        kind=kind, body=body, party=party, amount=amount, command_id=command_id, initiator=initiator,
        directive=directive,
    )
    if mode == "timeout":
        # Accepted and processed, but the answer comes too late for the caller.
        time.sleep(settings.MPESA_SIMULATOR_SLOW_SECONDS)
    if not created:
        # A repeat of a request already answered: the same answer, no second result.
        return JsonResponse(transfers.sync_answer(transfer))
    return _RespondThen(
        transfers.sync_answer(transfer),
        after=lambda: transfers.deliver_in_background(transfer.pk, delay=services.AUTO_ACTION_DELAY_SECONDS),
    )


def _read_transfer(request, fields, *, with_amount: bool = True):
    """What every money-out endpoint checks first, as Daraja does: the Bearer token, a JSON
    body, the fields, and (but for Transaction Status) a whole-shilling Amount. Returns
    (body, amount) or the error answer."""
    if not _bearer_ok(request):
        return daraja_error(404, "404.001.03", "Invalid Access Token")
    body = _json_body(request)
    if body is None:
        return _invalid("JSON")
    problem = _transfer_problem(body, fields)
    if problem:
        return problem
    if not with_amount:
        return body, 0
    amount = _transfer_amount(body)
    if isinstance(amount, JsonResponse):
        return amount
    return body, amount


@csrf_exempt
@require_POST
def b2c_payment(request):
    read = _read_transfer(request, B2C_FIELDS)
    if isinstance(read, JsonResponse):
        return read
    body, amount = read
    if body["CommandID"] not in B2C_COMMANDS:
        return _invalid("CommandID")
    if not _SHORTCODE.match(str(body["PartyA"])):
        return _invalid("PartyA")
    if not _MSISDN.match(str(body["PartyB"])):
        return _invalid("PartyB")
    originator = body["OriginatorConversationID"]
    if not isinstance(originator, str) or len(originator) > 100:
        return _invalid("OriginatorConversationID")
    return _transfer_answer(
        kind="b2c", body=body, party=str(body["PartyB"]), amount=amount, command_id=body["CommandID"],
        initiator=str(body["InitiatorName"]),
    )


@csrf_exempt
@require_POST
def b2b_payment(request):
    read = _read_transfer(request, B2B_FIELDS)
    if isinstance(read, JsonResponse):
        return read
    body, amount = read
    command = body["CommandID"]
    if command not in B2B_RECEIVER_TYPES:
        return _invalid("CommandID")
    if str(body["SenderIdentifierType"]) != "4":
        return _invalid("SenderIdentifierType")
    if str(body["RecieverIdentifierType"]) != B2B_RECEIVER_TYPES[command]:
        return _invalid("RecieverIdentifierType")
    for field in ("PartyA", "PartyB"):
        if not _SHORTCODE.match(str(body[field])):
            return _invalid(field)
    if command == "BusinessPayBill" and not str(body.get("AccountReference") or "").strip():
        return _invalid("AccountReference")
    originator = body.get("OriginatorConversationID")
    if originator is not None and (not isinstance(originator, str) or len(originator) > 100):
        return _invalid("OriginatorConversationID")
    return _transfer_answer(
        kind="b2b", body=body, party=str(body["PartyB"]), amount=amount, command_id=command,
        initiator=str(body["Initiator"]),
    )


@csrf_exempt
@require_POST
def reversal(request):
    read = _read_transfer(request, REVERSAL_FIELDS)
    if isinstance(read, JsonResponse):
        return read
    body, amount = read
    if body["CommandID"] != "TransactionReversal":
        return _invalid("CommandID")
    if str(body["RecieverIdentifierType"]) not in ("11", "4"):
        return _invalid("RecieverIdentifierType")
    if not _SHORTCODE.match(str(body["ReceiverParty"])):
        return _invalid("ReceiverParty")
    receipt = body["TransactionID"]
    if not isinstance(receipt, str) or len(receipt) > 32:
        return _invalid("TransactionID")
    # The directive is the paying phone's; an unknown receipt has no phone (its result says so).
    push = SimulatedStkPush.objects.filter(receipt_number=receipt.strip(), state=SimulatedStkPush.State.PAID).first()
    return _transfer_answer(
        kind="reversal", body=body, party=push.phone_number if push else "", amount=amount,
        command_id="TransactionReversal", initiator=str(body["Initiator"]),
    )


@csrf_exempt
@require_POST
def transaction_status(request):
    read = _read_transfer(request, STATUS_FIELDS, with_amount=False)
    if isinstance(read, JsonResponse):
        return read
    body, _amount = read
    if body["CommandID"] != "TransactionStatusQuery":
        return _invalid("CommandID")
    if str(body["IdentifierType"]) not in ("1", "2", "4"):
        return _invalid("IdentifierType")
    if not _SHORTCODE.match(str(body["PartyA"])):
        return _invalid("PartyA")
    asked = [body.get(k) for k in ("TransactionID", "OriginalConversationID", "OriginatorConversationID")]
    if not any(isinstance(v, str) and v.strip() for v in asked):
        return _invalid("TransactionID")
    if any(v is not None and (not isinstance(v, str) or len(v) > 100) for v in asked):
        return _invalid("TransactionID")
    return _transfer_answer(
        kind="status", body=body, party=transfers.status_party(body), amount=0,
        command_id="TransactionStatusQuery", initiator=str(body["Initiator"]),
    )


# Control API for transfers -------------------------------------------------------------------------------


def _party(value) -> str | None:
    """A phone (normalised to 2547…) or a business number, as directives and lists key them."""
    text = str(value or "").strip()
    if _SHORTCODE.match(text) and not text.startswith(("07", "01", "254", "+")):
        return text
    try:
        return to_msisdn(text)
    except ValidationError:
        return None


@csrf_exempt
@require_POST
def api_transfer_directive_create(request):
    """{"party", "response"?, "result"?, "delivery"?}: a one-shot instruction for the next
    B2C/B2B/Reversal/Status request whose receiving party this is."""
    body = _json_body(request)
    if body is None:
        return _api_error(400, "Send a JSON object.", "invalid_json")
    party = _party(body.get("party"))
    if party is None:
        return _api_error(400, "party must be a Kenyan mobile number or a business number.", "invalid_party")
    response = body.get("response") or "accept"
    delivery = body.get("delivery") or "once"
    result = str(body.get("result") if body.get("result") not in (None, "") else "success")
    if response not in transfers.RESPONSES:
        return _api_error(400, f"response must be one of {', '.join(transfers.RESPONSES)}", "invalid_directive")
    if delivery not in transfers.DELIVERIES:
        return _api_error(400, f"delivery must be one of {', '.join(transfers.DELIVERIES)}", "invalid_directive")
    if result not in transfers.RESULT_WORDS and not transfers.RESULT_CODE.match(result):
        return _api_error(400, "result must be success, failure or a Daraja result code", "invalid_directive")
    directive = SimulatorTransferDirective.objects.create(
        party=party, response=response, result=result, delivery=delivery
    )
    return JsonResponse(
        {"id": directive.pk, "party": party, "response": response, "result": result, "delivery": delivery},
        status=201,
    )


def _transfer_or_404(originator_conversation_id: str):
    transfer = SimulatedTransfer.objects.filter(
        Q(originator_conversation_id=originator_conversation_id) | Q(conversation_id=originator_conversation_id)
    ).first()
    if transfer is None:
        raise Http404("No such transfer")
    return transfer


@csrf_exempt
@require_GET
def api_transfer_list(request):
    """Newest first; ?party= one phone's or business number's, ?kind= b2c|b2b|reversal|status,
    ?received=1 only money that reached a phone."""
    rows = SimulatedTransfer.objects.select_related("queried")
    if request.GET.get("party", "").strip():
        party = _party(request.GET["party"])
        if party is None:
            return _api_error(400, "party must be a Kenyan mobile number or a business number.", "invalid_party")
        rows = rows.filter(party=party)
    kind = request.GET.get("kind", "").strip()
    if kind:
        rows = rows.filter(kind=kind)
    if request.GET.get("received"):
        # What the virtual phone shows: money that arrived (successful B2C payments and reversals).
        rows = rows.filter(kind__in=("b2c", "reversal"), result_code="0")
    return JsonResponse({"results": [transfers.transfer_as_dict(t) for t in rows.order_by("-created_at", "-id")[:100]]})


@csrf_exempt
@require_GET
def api_transfer_detail(request, originator_conversation_id: str):
    return JsonResponse(transfers.transfer_as_dict(_transfer_or_404(originator_conversation_id)))


@csrf_exempt
@require_POST
def api_transfer_resend(request, originator_conversation_id: str):
    """Post the transfer's result to its ResultURL (again) now: a late or repeated result."""
    transfer = _transfer_or_404(originator_conversation_id)
    return _RespondThen(
        {"detail": "Result on its way.", "originator_conversation_id": transfer.originator_conversation_id},
        status=202,
        after=lambda: transfers.deliver_in_background(transfer.pk, force_once=True),
    )
