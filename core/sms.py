"""SMS: one small interface, a backend per gateway, and what an SMS costs in segments.

A backend is any class with `send(*, to: str, message: str) -> None` that raises on a
failed delivery (so the django-q2 task that called it is retried). settings.SMS_BACKEND
names one of settings.SMS_BACKENDS, a dotted path loaded here with import_string: core
knows no app, so the simulator's backend (which stores messages for the virtual phone)
lives in mpesa.simulator and is reached only through that setting.

- AfricasTalkingBackend: Africa's Talking's bulk SMS call, `POST {base}/version1/messaging`,
  form-encoded, with the `apiKey` header. The base follows the username (the sandbox app is
  called "sandbox"), and AFRICASTALKING_API_URL overrides it (tests point it at a local server).
- ConsoleBackend: logs the message; for a deployment without a gateway yet.

Texts are folded to the GSM 03.38 alphabet before they are sent (sms_fold): one curly
apostrophe in a property's title would otherwise switch the whole message to UCS-2, where
a segment holds 70 characters instead of 160.
"""

import logging
import math
import unicodedata
from typing import Protocol

import requests
from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

SANDBOX_URL = "https://api.sandbox.africastalking.com"
LIVE_URL = "https://api.africastalking.com"
AT_SUCCESS = 101  # Africa's Talking's statusCode for a message accepted for delivery

# GSM 03.38: the basic set (one septet each) and the extension set (escape + char: two).
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€\f")
_FOLD = {
    "‘": "'", "’": "'", "‚": "'", "′": "'", "“": '"', "”": '"', "„": '"', "″": '"',
    "–": "-", "—": "-", "−": "-", "‐": "-", "…": "...", "·": "-", "•": "-",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\t": " ",
}


class SmsDeliveryError(Exception):
    """The gateway did not accept the message; the task that sent it is retried."""


class SmsBackend(Protocol):
    def send(self, *, to: str, message: str) -> None: ...


def sms_backend() -> SmsBackend:
    try:
        path = settings.SMS_BACKENDS[settings.SMS_BACKEND]
    except KeyError:
        raise ValueError(f"Unknown SMS_BACKEND {settings.SMS_BACKEND!r}") from None
    return import_string(path)()


def sms_send(*, to: str, message: str) -> None:
    """Send one SMS to an E.164 number through the configured backend. Raises on failure."""
    sms_backend().send(to=to, message=sms_fold(message))


def sms_fold(text: str) -> str:
    """`text` in the GSM-7 alphabet: typographic punctuation to ASCII, accents dropped
    where GSM has no such letter, anything else to '?'. Runs of spaces are collapsed."""
    out = []
    for char in text:
        char = _FOLD.get(char, char)
        if all(c in GSM_BASIC or c in GSM_EXTENDED for c in char):
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        out.append(base if base and all(c in GSM_BASIC for c in base) else "?")
    lines = ("".join(out)).split("\n")
    return "\n".join(" ".join(line.split()) for line in lines).strip()


def sms_segments(text: str) -> int:
    """How many SMS segments `text` is sent as: GSM-7 160 septets alone, 153 per part when
    concatenated (extension characters count two); otherwise UCS-2, 70 UTF-16 units alone
    and 67 per part."""
    if not text:
        return 1
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in text):
        length = sum(2 if c in GSM_EXTENDED else 1 for c in text)
        single, part = 160, 153
    else:
        length = len(text.encode("utf-16-le")) // 2
        single, part = 70, 67
    return 1 if length <= single else math.ceil(length / part)


class ConsoleBackend:
    def send(self, *, to: str, message: str) -> None:
        logger.info("sms to=%s segments=%d message=%r", to, sms_segments(message), message)


class AfricasTalkingBackend:
    """Africa's Talking bulk SMS over its documented REST call (no SDK: one POST)."""

    def url(self) -> str:
        base = settings.AFRICASTALKING_API_URL or (
            SANDBOX_URL if settings.AFRICASTALKING_USERNAME == "sandbox" else LIVE_URL
        )
        return base.rstrip("/") + "/version1/messaging"

    def send(self, *, to: str, message: str) -> None:
        form = {"username": settings.AFRICASTALKING_USERNAME, "to": to, "message": message}
        if settings.AFRICASTALKING_SENDER_ID:
            form["from"] = settings.AFRICASTALKING_SENDER_ID
        try:
            response = requests.post(
                self.url(),
                data=form,
                headers={"apiKey": settings.AFRICASTALKING_API_KEY, "Accept": "application/json"},
                timeout=settings.SMS_HTTP_TIMEOUT,
            )
        except requests.RequestException as error:
            raise SmsDeliveryError(f"Africa's Talking unreachable: {error.__class__.__name__}") from error
        if response.status_code >= 300:
            raise SmsDeliveryError(f"Africa's Talking answered HTTP {response.status_code}: {response.text[:200]}")
        try:
            recipients = response.json()["SMSMessageData"]["Recipients"]
        except (ValueError, KeyError, TypeError) as error:
            raise SmsDeliveryError(f"Africa's Talking answered something else: {response.text[:200]}") from error
        failed = [r for r in recipients if not isinstance(r, dict) or _status_code(r) != AT_SUCCESS]
        if not recipients or failed:
            shown = failed[0] if failed else "no recipients"
            raise SmsDeliveryError(f"Africa's Talking did not accept the SMS to {to}: {shown}")
        logger.info(
            "sms sent via africastalking to=%s message_id=%s cost=%s",
            to,
            recipients[0].get("messageId", ""),
            recipients[0].get("cost", ""),
        )


def _status_code(recipient: dict) -> int | None:
    try:
        return int(recipient.get("statusCode"))
    except (TypeError, ValueError):
        return None
