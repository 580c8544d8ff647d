"""The Daraja simulator's behaviour: tokens, prompts on the virtual phone, callbacks.

It plays Safaricom for development, the demo and the tests, so it answers in Daraja's
shapes (docs/daraja.md) and posts callbacks over real HTTP to the CallBackURL it was given,
from a background thread once its own HTTP answer has gone out.
"""

import datetime as dt
import logging
import secrets
import string
import threading
import time

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connections, transaction
from django.db.models import F
from django.utils import timezone

from mpesa.client import NAIROBI, daraja_timestamp
from mpesa.simulator.models import SimulatedStkPush, SimulatorDirective

logger = logging.getLogger(__name__)

TOKEN_LIFETIME_SECONDS = 3599
_TOKEN_KEY = "mpesa-simulator:token:"
_GENERATION_KEY = "mpesa-simulator:token-generation"
CALLBACK_TIMEOUT_SECONDS = 10
# Gap before an automatic answer, so the push's HTTP answer reaches the caller first, as
# with a real customer who needs seconds to read the prompt.
AUTO_ACTION_DELAY_SECONDS = 0.3

PUSH_RESPONSES = ("accept", "error_500", "error_400", "timeout", "html", "empty", "token_expired")
ACTIONS = ("pay", "cancel", "wrong_pin", "insufficient", "timeout")
CALLBACK_MODES = ("once", "twice", "never")
QUERY_MODES = ("normal", "pending_500", "pending_4999", "error_503")

# action -> (state, ResultCode, ResultDesc), as Daraja reports them (docs/daraja.md).
OUTCOMES = {
    "pay": (SimulatedStkPush.State.PAID, "0", "The service request is processed successfully."),
    "cancel": (SimulatedStkPush.State.CANCELLED, "1032", "Request cancelled by user"),
    "wrong_pin": (SimulatedStkPush.State.WRONG_PIN, "2001", "The initiator information is invalid."),
    "insufficient": (SimulatedStkPush.State.INSUFFICIENT, "1", "The balance is insufficient for the transaction."),
    "timeout": (SimulatedStkPush.State.TIMEOUT, "1037", "DS timeout user cannot be reached"),
}


class PromptNotPending(Exception):
    pass


# --- OAuth tokens ------------------------------------------------------------------------------


def _generation() -> int:
    return cache.get(_GENERATION_KEY) or 0


def token_issue() -> str:
    token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(28))
    cache.set(_TOKEN_KEY + token, _generation(), timeout=TOKEN_LIFETIME_SECONDS)
    return token


def token_is_valid(token: str) -> bool:
    if not token:
        return False
    issued_in = cache.get(_TOKEN_KEY + token)
    return issued_in is not None and issued_in == _generation()


def tokens_expire_all() -> None:
    """Every token issued so far becomes invalid (Daraja answers 404.001.03 to them)."""
    try:
        cache.incr(_GENERATION_KEY)
    except ValueError:
        cache.set(_GENERATION_KEY, 1, timeout=None)


# --- Prompts ---------------------------------------------------------------------------------------


def _digits(count: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(count))


def new_ids() -> tuple[str, str]:
    """MerchantRequestID and CheckoutRequestID in Daraja's look."""
    merchant = f"{_digits(5)}-{_digits(8)}-1"
    checkout = "ws_CO_" + timezone.now().astimezone(NAIROBI).strftime("%d%m%Y%H%M%S") + _digits(9)
    return merchant, checkout


def new_receipt() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return secrets.choice(string.ascii_uppercase) + "".join(secrets.choice(alphabet) for _ in range(9))


def directive_take(*, phone_number: str) -> SimulatorDirective | None:
    """The oldest one-shot directive for this phone, removed as it is used."""
    with transaction.atomic():
        directive = (
            SimulatorDirective.objects.select_for_update()
            .filter(phone_number=phone_number)
            .order_by("created_at", "id")
            .first()
        )
        if directive is not None:
            directive.delete()
    return directive


def prompts_expire_stale() -> int:
    """Prompts nobody answered within the TTL end as 1037, as a real phone's prompt does."""
    cutoff = timezone.now() - dt.timedelta(seconds=settings.MPESA_SIMULATOR_PROMPT_TTL_SECONDS)
    stale = list(
        SimulatedStkPush.objects.filter(state=SimulatedStkPush.State.PENDING, created_at__lt=cutoff).values_list(
            "checkout_request_id", flat=True
        )
    )
    for checkout_request_id in stale:
        try:
            prompt = prompt_respond(checkout_request_id=checkout_request_id, action="timeout")
        except PromptNotPending:
            continue
        deliver_in_background(prompt.pk)
    return len(stale)


def phone_is_locked(*, phone_number: str) -> bool:
    prompts_expire_stale()
    return SimulatedStkPush.objects.filter(phone_number=phone_number, state=SimulatedStkPush.State.PENDING).exists()


def prompt_create(*, payload: dict, directive: SimulatorDirective | None) -> SimulatedStkPush:
    merchant, checkout = new_ids()
    return SimulatedStkPush.objects.create(
        merchant_request_id=merchant,
        checkout_request_id=checkout,
        shortcode=str(payload["BusinessShortCode"]),
        phone_number=str(payload["PhoneNumber"]),
        amount=int(payload["Amount"]),
        account_reference=payload["AccountReference"],
        transaction_desc=payload["TransactionDesc"],
        callback_url=payload["CallBackURL"],
        paid_amount=directive.paid_amount if directive else None,
        callback_mode=directive.callback_mode if directive else "once",
        query_mode=directive.query_mode if directive else "normal",
    )


def prompt_respond(*, checkout_request_id: str, action: str, amount: int | None = None) -> SimulatedStkPush:
    """The customer answers the prompt. Raises SimulatedStkPush.DoesNotExist or PromptNotPending."""
    state, code, desc = OUTCOMES[action]
    with transaction.atomic():
        prompt = SimulatedStkPush.objects.select_for_update().get(checkout_request_id=checkout_request_id)
        if prompt.state != SimulatedStkPush.State.PENDING:
            raise PromptNotPending(checkout_request_id)
        prompt.state, prompt.result_code, prompt.result_desc = state, code, desc
        prompt.completed_at = timezone.now()
        fields = ["state", "result_code", "result_desc", "completed_at"]
        if action == "pay":
            prompt.receipt_number = new_receipt()
            prompt.paid_amount = amount or prompt.paid_amount or prompt.amount
            fields += ["receipt_number", "paid_amount"]
        prompt.save(update_fields=fields)
    logger.info("simulator prompt %s checkout_request_id=%s result_code=%s", action, checkout_request_id, code)
    return prompt


def prompt_set_modes(
    *, prompt: SimulatedStkPush, callback_mode: str | None, query_mode: str | None
) -> SimulatedStkPush:
    fields = []
    if callback_mode:
        prompt.callback_mode = callback_mode
        fields.append("callback_mode")
    if query_mode:
        prompt.query_mode = query_mode
        fields.append("query_mode")
    if fields:
        prompt.save(update_fields=fields)
    return prompt


def prompt_as_dict(prompt: SimulatedStkPush) -> dict:
    return {
        "merchant_request_id": prompt.merchant_request_id,
        "checkout_request_id": prompt.checkout_request_id,
        "phone_number": prompt.phone_number,
        "amount": prompt.amount,
        "account_reference": prompt.account_reference,
        "transaction_desc": prompt.transaction_desc,
        "callback_url": prompt.callback_url,
        "state": prompt.state,
        "result_code": prompt.result_code,
        "result_desc": prompt.result_desc,
        "receipt_number": prompt.receipt_number,
        "paid_amount": prompt.paid_amount,
        "callback_mode": prompt.callback_mode,
        "query_mode": prompt.query_mode,
        "callbacks_sent": prompt.callbacks_sent,
        "last_callback_status": prompt.last_callback_status,
        "created_at": prompt.created_at.isoformat(),
        "completed_at": prompt.completed_at.isoformat() if prompt.completed_at else None,
        "reversed_at": prompt.reversed_at.isoformat() if prompt.reversed_at else None,
        "reversal_transaction_id": prompt.reversal_transaction_id,
    }


# --- Callbacks --------------------------------------------------------------------------------------


def callback_body(prompt: SimulatedStkPush) -> dict:
    """The body Daraja posts: numbers as numbers, the Amount sometimes as a float (1.00),
    a Balance item with no Value; no metadata at all on a failure."""
    callback = {
        "MerchantRequestID": prompt.merchant_request_id,
        "CheckoutRequestID": prompt.checkout_request_id,
        "ResultCode": int(prompt.result_code) if prompt.result_code.isdigit() else prompt.result_code,
        "ResultDesc": prompt.result_desc,
    }
    if prompt.state == SimulatedStkPush.State.PAID:
        paid = prompt.paid_amount or prompt.amount
        completed = prompt.completed_at or timezone.now()
        callback["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": float(paid) if prompt.pk % 2 == 0 else paid},
                {"Name": "MpesaReceiptNumber", "Value": prompt.receipt_number},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": int(daraja_timestamp(completed))},
                {"Name": "PhoneNumber", "Value": int(prompt.phone_number)},
            ]
        }
    return {"Body": {"stkCallback": callback}}


def callback_post(prompt: SimulatedStkPush) -> str:
    """POST the callback once and record how it went."""
    try:
        response = requests.post(prompt.callback_url, json=callback_body(prompt), timeout=CALLBACK_TIMEOUT_SECONDS)
        outcome = f"HTTP {response.status_code}"
    except requests.RequestException as error:
        outcome = f"error {type(error).__name__}"[:64]
    SimulatedStkPush.objects.filter(pk=prompt.pk).update(
        callbacks_sent=F("callbacks_sent") + 1, last_callback_status=outcome
    )
    logger.info("simulator callback checkout_request_id=%s %s", prompt.checkout_request_id, outcome)
    return outcome


def callbacks_deliver(prompt_id: int, *, delay: float = 0.0, force_once: bool = False) -> int:
    """Send the callback as the prompt's callback_mode says (once, twice, never). Returns how many."""
    if delay:
        time.sleep(delay)
    prompt = SimulatedStkPush.objects.get(pk=prompt_id)
    if prompt.state == SimulatedStkPush.State.PENDING:
        return 0
    times = 1 if force_once else {"once": 1, "twice": 2, "never": 0}.get(prompt.callback_mode, 1)
    for _ in range(times):
        callback_post(prompt)
    return times


_deliveries: set[threading.Thread] = set()
_deliveries_lock = threading.Lock()


def _deliver_thread(prompt_id: int, delay: float, force_once: bool) -> None:
    close_old_connections()
    try:
        callbacks_deliver(prompt_id, delay=delay, force_once=force_once)
    except Exception:
        logger.exception("simulator callback delivery failed prompt_id=%s", prompt_id)
    finally:
        connections.close_all()
        with _deliveries_lock:
            _deliveries.discard(threading.current_thread())


def deliver_in_background(prompt_id: int, *, delay: float = 0.0, force_once: bool = False) -> threading.Thread:
    """Deliver from a thread, so it works the same under runserver, gunicorn and a test live server."""
    thread = threading.Thread(
        target=_deliver_thread, args=(prompt_id, delay, force_once), name=f"simulator-callback-{prompt_id}", daemon=True
    )
    with _deliveries_lock:
        _deliveries.add(thread)
    thread.start()
    return thread


def background(target, *args, name: str = "simulator-delivery") -> threading.Thread:
    """Run target(*args) in a thread that deliveries_join() waits for (transfer results too)."""

    def run() -> None:
        close_old_connections()
        try:
            target(*args)
        except Exception:
            logger.exception("simulator background delivery failed name=%s", name)
        finally:
            connections.close_all()
            with _deliveries_lock:
                _deliveries.discard(threading.current_thread())

    thread = threading.Thread(target=run, name=name, daemon=True)
    with _deliveries_lock:
        _deliveries.add(thread)
    thread.start()
    return thread


def deliveries_join(timeout: float = 15.0) -> None:
    """Wait for callbacks still being delivered (tests call this before they end)."""
    deadline = time.monotonic() + timeout
    while True:
        with _deliveries_lock:
            pending = list(_deliveries)
        if not pending:
            return
        for thread in pending:
            thread.join(max(deadline - time.monotonic(), 0.01))
        if time.monotonic() > deadline:
            return
