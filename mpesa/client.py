"""Daraja (M-Pesa Express / STK push) over HTTP. Knows Daraja's shapes, nothing about bookings.

Every call has a timeout and every answer becomes a typed result; nothing here raises
for a Daraja or network failure. The facts (shapes, codes, quirks) are Safaricom's,
condensed in docs/daraja.md:

- OAuth tokens live an hour and a new one may invalidate the previous one, so all
  processes share one token through Django's cache and refresh it ~5 minutes early.
  `404.001.03` (Invalid Access Token) means refresh once and retry once.
- Timestamp and Password use Africa/Nairobi time: a UTC timestamp is "Invalid Timestamp".
- The STK push is never retried on our initiative (each retry prompts the customer
  again); only the token-refresh retry is safe, as Daraja refused before prompting.
- Error bodies may be empty or HTML; ResultCode is a number in callbacks and a string
  in queries; a query can say "still pending" in two shapes.
"""

import base64
import dataclasses
import datetime as dt
import logging
import re
import time
from typing import Any
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError

from core import safe_json
from core.phones import to_msisdn

logger = logging.getLogger(__name__)

NAIROBI = ZoneInfo("Africa/Nairobi")
TOKEN_REFRESH_MARGIN_SECONDS = 300
TOKEN_LOCK_SECONDS = 15
MAX_AMOUNT = 250_000
ACCOUNT_REFERENCE_MAX = 12
TRANSACTION_DESC_MAX = 13
INVALID_TOKEN_CODE = "404.001.03"
STILL_PROCESSING_CODE = "500.001.1001"
QUERY_PENDING_RESULT_CODE = "4999"
# Only these statuses, with Daraja's own errorCode in a JSON body, are a definite refusal
# of an STK push (400 bad request, 401/403 credentials, 404 wrong path or shortcode).
# 408 and 429 are not: the gateway may have timed out or shed us after forwarding.
DEFINITE_REFUSAL_STATUSES = frozenset({400, 401, 403, 404})
# Daraja's 500 catch-all code is a definite refusal only for these messages, which say
# the prompt was never sent; "being processed", spike arrest and quota are not.
REFUSAL_MESSAGES_OF_500 = ("unable to lock subscriber", "merchant does not exist", "wrong credentials")
_DARAJA_TEXT = re.compile(r"[^A-Za-z0-9 \-]")


# --- Typed results -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StkPushAccepted:
    merchant_request_id: str
    checkout_request_id: str
    customer_message: str
    raw: dict


@dataclasses.dataclass(frozen=True)
class StkPushRejected:
    """Daraja answered and refused (or we never got past OAuth): no prompt was sent."""

    http_status: int | None
    error_code: str
    error_message: str
    raw: Any = None

    @property
    def reason(self) -> str:
        return f"M-Pesa refused the request: {self.error_message} ({self.error_code})"[:255]


@dataclasses.dataclass(frozen=True)
class Indeterminate:
    """No usable answer (timeout, network error, 5xx, 429, spike arrest...): ask again later."""

    reason: str
    http_status: int | None = None
    raw: Any = None


@dataclasses.dataclass(frozen=True)
class StkQueryFinal:
    result_code: str
    result_desc: str
    merchant_request_id: str
    checkout_request_id: str
    raw: dict

    @property
    def paid(self) -> bool:
        return self.result_code == "0"


@dataclasses.dataclass(frozen=True)
class StkQueryPending:
    """The customer has not answered yet (HTTP 200 ResultCode 4999, or HTTP 500 "being processed")."""

    reason: str
    raw: Any = None


@dataclasses.dataclass(frozen=True)
class _HttpAnswer:
    status: int | None
    body: Any  # dict/list when the body was JSON, else the text (possibly "")
    error: str = ""  # set when no HTTP answer came back at all

    @property
    def json(self) -> dict:
        return self.body if isinstance(self.body, dict) else {}

    def describe(self) -> str:
        if self.error:
            return self.error
        if isinstance(self.body, dict):
            return f"HTTP {self.status} {self.body.get('errorCode', '')} {self.body.get('errorMessage', '')}".strip()
        text = str(self.body or "").strip()
        return f"HTTP {self.status} " + ("(empty body)" if not text else "(not JSON)")

    def raw(self) -> Any:
        if isinstance(self.body, (dict, list)):
            return self.body
        return {"http_status": self.status, "text": str(self.body or "")[:500], "error": self.error}


def _is_definite_refusal(status: int | None, body: dict) -> bool:
    code = str(body.get("errorCode") or "")
    if status in DEFINITE_REFUSAL_STATUSES and code:
        return True
    message = str(body.get("errorMessage") or "").lower()
    return status == 500 and code == STILL_PROCESSING_CODE and any(m in message for m in REFUSAL_MESSAGES_OF_500)


class DarajaRequestInvalid(ValueError):
    """We refused to send a request Daraja would reject (bad phone, amount...)."""


# --- Helpers used by the client and the simulator ------------------------------------------


def daraja_timestamp(now: dt.datetime | None = None) -> str:
    """YYYYMMDDHHmmss in Africa/Nairobi, whatever the server's time zone."""
    moment = now or dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        raise ValueError("daraja_timestamp needs an aware datetime")
    return moment.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def stk_password(*, shortcode: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


def daraja_text(value: str, *, limit: int, fallback: str) -> str:
    """Only the characters Daraja takes in AccountReference/TransactionDesc, cut to its limit."""
    cleaned = re.sub(r"\s+", " ", _DARAJA_TEXT.sub("", str(value or ""))).strip()[:limit].strip()
    return cleaned or fallback


def _json_or_text(response: requests.Response) -> Any:
    text = response.text or ""
    try:
        return safe_json.loads(text)
    except ValueError:
        return text


# --- The client ---------------------------------------------------------------------------------


class DarajaClient:
    def __init__(
        self,
        *,
        base_url: str | None = None,
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        shortcode: str | None = None,
        passkey: str | None = None,
        transaction_type: str | None = None,
        party_b: str | None = None,
        timeout: float | None = None,
    ):
        self.base_url = (base_url if base_url is not None else settings.MPESA_BASE_URL).rstrip("/")
        self.consumer_key = consumer_key if consumer_key is not None else settings.MPESA_CONSUMER_KEY
        self.consumer_secret = consumer_secret if consumer_secret is not None else settings.MPESA_CONSUMER_SECRET
        self.shortcode = str(shortcode if shortcode is not None else settings.MPESA_SHORTCODE)
        self.passkey = passkey if passkey is not None else settings.MPESA_PASSKEY
        self.transaction_type = transaction_type or settings.MPESA_TRANSACTION_TYPE
        self.party_b = str(party_b or settings.MPESA_PARTY_B or self.shortcode)
        self.timeout = timeout if timeout is not None else settings.MPESA_HTTP_TIMEOUT

    # OAuth --------------------------------------------------------------------------------

    @property
    def _token_cache_key(self) -> str:
        # One token per Daraja app: a new token may invalidate the previous one (docs/daraja.md).
        return f"mpesa:oauth:{self.base_url}:{self.consumer_key}"

    def _fetch_token(self) -> tuple[str | None, _HttpAnswer]:
        credentials = base64.b64encode(f"{self.consumer_key}:{self.consumer_secret}".encode()).decode()
        answer = self._http(
            "GET",
            "/oauth/v1/generate",
            params={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {credentials}"},
        )
        token = answer.json.get("access_token") if answer.status == 200 else None
        if not isinstance(token, str) or not token:
            logger.warning("mpesa oauth failed %s", answer.describe())
            return None, answer
        try:
            # Documented as a number, observed as a string ("3599"): accept both.
            expires_in = int(float(answer.json.get("expires_in", 3599)))
        except (TypeError, ValueError, OverflowError):
            expires_in = 3599
        # Tokens live an hour (docs/daraja.md): a larger figure is not to be trusted with the cache.
        lifetime = max(min(expires_in, 3600) - TOKEN_REFRESH_MARGIN_SECONDS, 30)
        cache.set(self._token_cache_key, token, timeout=lifetime)
        return token, answer

    def access_token(self, *, stale: str | None = None) -> tuple[str | None, _HttpAnswer | None]:
        """The shared token; a fresh one when there is none or it is `stale` (Daraja refused it).

        A short cache lock keeps two processes from fetching at once, since the second
        fetch could invalidate the token the first one just cached.
        """
        cached = cache.get(self._token_cache_key)
        if cached and cached != stale:
            return cached, None
        lock_key = self._token_cache_key + ":lock"
        deadline = time.monotonic() + min(self.timeout, TOKEN_LOCK_SECONDS)
        locked = cache.add(lock_key, "1", timeout=TOKEN_LOCK_SECONDS)
        while not locked and time.monotonic() < deadline:
            time.sleep(0.1)
            cached = cache.get(self._token_cache_key)
            if cached and cached != stale:
                return cached, None
            locked = cache.add(lock_key, "1", timeout=TOKEN_LOCK_SECONDS)
        try:
            cached = cache.get(self._token_cache_key)
            if cached and cached != stale:
                return cached, None
            # Without the lock (its holder is stuck) we fetch anyway rather than fail the payment.
            return self._fetch_token()
        finally:
            if locked:
                cache.delete(lock_key)

    # HTTP ------------------------------------------------------------------------------------

    def _http(self, method: str, path: str, **kwargs) -> _HttpAnswer:
        url = self.base_url + path
        try:
            response = requests.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            return _HttpAnswer(None, None, f"timed out after {self.timeout}s")
        except requests.RequestException as error:
            return _HttpAnswer(None, None, f"network error: {type(error).__name__}")
        return _HttpAnswer(response.status_code, _json_or_text(response))

    def _authorised_post(self, path: str, payload: dict) -> tuple[_HttpAnswer, _HttpAnswer | None]:
        """POST with the shared token; on 404.001.03 refresh the token once and retry once.

        Returns (answer, oauth_failure): oauth_failure is set when no token could be had.
        """
        token, oauth_answer = self.access_token()
        if token is None:
            return oauth_answer, oauth_answer
        answer = self._http("POST", path, json=payload, headers={"Authorization": f"Bearer {token}"})
        if answer.json.get("errorCode") == INVALID_TOKEN_CODE:
            logger.info("mpesa token refused, refreshing once path=%s", path)
            token, oauth_answer = self.access_token(stale=token)
            if token is None:
                return oauth_answer, oauth_answer
            answer = self._http("POST", path, json=payload, headers={"Authorization": f"Bearer {token}"})
        return answer, None

    def _password_fields(self) -> dict[str, str]:
        timestamp = daraja_timestamp()
        return {
            "BusinessShortCode": self.shortcode,
            "Password": stk_password(shortcode=self.shortcode, passkey=self.passkey, timestamp=timestamp),
            "Timestamp": timestamp,
        }

    # STK push ------------------------------------------------------------------------------

    def build_stk_push_payload(
        self, *, phone_number: str, amount: int, account_reference: str, description: str, callback_url: str
    ) -> dict:
        """Exactly Daraja's 11 fields. Raises DarajaRequestInvalid for what Daraja would refuse."""
        try:
            msisdn = to_msisdn(phone_number)
        except ValidationError as error:
            raise DarajaRequestInvalid(f"Not a Safaricom number M-Pesa accepts: {phone_number!r}") from error
        if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_AMOUNT:
            raise DarajaRequestInvalid(f"Amount must be whole shillings from 1 to {MAX_AMOUNT:,}")
        if not re.match(r"^https?://[^\s]+$", callback_url or ""):
            raise DarajaRequestInvalid("CallBackURL must be an absolute http(s) URL without spaces")
        return {
            **self._password_fields(),
            "TransactionType": self.transaction_type,
            "Amount": amount,
            "PartyA": msisdn,
            "PartyB": self.party_b,
            "PhoneNumber": msisdn,
            "CallBackURL": callback_url,
            "AccountReference": daraja_text(account_reference, limit=ACCOUNT_REFERENCE_MAX, fallback="Nexus"),
            "TransactionDesc": daraja_text(description, limit=TRANSACTION_DESC_MAX, fallback="Payment"),
        }

    def stk_push(
        self, *, phone_number: str, amount: int, account_reference: str, description: str, callback_url: str
    ) -> StkPushAccepted | StkPushRejected | Indeterminate:
        """Send one STK prompt. Never retried here except after an expired-token refusal."""
        payload = self.build_stk_push_payload(
            phone_number=phone_number,
            amount=amount,
            account_reference=account_reference,
            description=description,
            callback_url=callback_url,
        )
        answer, oauth_failure = self._authorised_post("/mpesa/stkpush/v1/processrequest", payload)
        if oauth_failure is not None:
            # No token, so no prompt can have been sent: a clear refusal, whatever the cause.
            body = oauth_failure.json
            return StkPushRejected(
                http_status=oauth_failure.status,
                error_code=str(body.get("errorCode") or "oauth_failed"),
                error_message=str(
                    body.get("errorMessage") or f"could not get an access token ({oauth_failure.describe()})"
                ),
                raw=oauth_failure.raw(),
            )
        if answer.status is None:
            return Indeterminate(reason=answer.describe(), raw=answer.raw())
        body = answer.json
        if answer.status == 200 and str(body.get("ResponseCode")) == "0" and body.get("CheckoutRequestID"):
            return StkPushAccepted(
                merchant_request_id=str(body.get("MerchantRequestID") or ""),
                checkout_request_id=str(body["CheckoutRequestID"]),
                customer_message=str(body.get("CustomerMessage") or ""),
                raw=body,
            )
        if _is_definite_refusal(answer.status, body):
            # Daraja read the request and refused it with its own error code: no prompt went out.
            return StkPushRejected(
                http_status=answer.status,
                error_code=str(body.get("errorCode")),
                error_message=str(body.get("errorMessage") or answer.describe()),
                raw=answer.raw(),
            )
        # Anything else (5xx, 429, an empty or HTML body, a 200 we cannot read) may come
        # from a proxy after Daraja had already sent the prompt: the payment stays in
        # flight and a later callback is matched or adopted (docs/daraja.md).
        return Indeterminate(reason=f"no definite answer: {answer.describe()}", http_status=answer.status,
                             raw=answer.raw())

    # STK query -------------------------------------------------------------------------------

    def stk_query(self, checkout_request_id: str) -> StkQueryFinal | StkQueryPending | Indeterminate:
        """Ask how an STK push ended. Only a recognised final ResultCode is final."""
        payload = {**self._password_fields(), "CheckoutRequestID": checkout_request_id}
        answer, oauth_failure = self._authorised_post("/mpesa/stkpushquery/v1/query", payload)
        if oauth_failure is not None:
            return Indeterminate(
                reason=f"oauth: {oauth_failure.describe()}", http_status=oauth_failure.status, raw=oauth_failure.raw()
            )
        if answer.status is None:
            return Indeterminate(reason=answer.describe(), raw=answer.raw())
        body = answer.json
        if answer.status == 200 and "ResultCode" in body:
            code = body["ResultCode"]
            if isinstance(code, bool) or not isinstance(code, (str, int)) or str(code).strip() == "":
                return Indeterminate(reason="unreadable ResultCode", http_status=200, raw=body)
            code = str(code).strip()
            answered_about = str(body.get("CheckoutRequestID") or checkout_request_id)
            if answered_about != checkout_request_id:
                # An answer about another push is no answer about ours.
                return Indeterminate(
                    reason=f"the answer is about another CheckoutRequestID ({answered_about[:64]})",
                    http_status=200,
                    raw=body,
                )
            if code == QUERY_PENDING_RESULT_CODE:
                return StkQueryPending(reason=str(body.get("ResultDesc") or "still under processing"), raw=body)
            return StkQueryFinal(
                result_code=code,
                result_desc=str(body.get("ResultDesc") or "")[:255],
                merchant_request_id=str(body.get("MerchantRequestID") or ""),
                checkout_request_id=checkout_request_id,
                raw=body,
            )
        message = str(body.get("errorMessage") or "").lower()
        still_processing = "being processed" in message or "under processing" in message
        if body.get("errorCode") == STILL_PROCESSING_CODE and still_processing:
            # "The transaction is being processed": the customer has not answered yet.
            return StkQueryPending(reason=str(body.get("errorMessage")), raw=body)
        return Indeterminate(reason=answer.describe(), http_status=answer.status, raw=answer.raw())
