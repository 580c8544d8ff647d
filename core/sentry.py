"""Error reporting to Sentry, on only when SENTRY_DSN is set (nexus/settings/base.py calls
sentry_init). Personal data stays out: send_default_pii is off (no cookies, user ids, IP
addresses, request bodies), and before_send removes what can still reach an event in
messages, log arguments, exception texts, local variables or URLs: phone numbers, email
addresses and the Daraja callback token (and calendar feed tokens) in paths.
"""

import re

from core.log_masking import mask_callback_tokens

# Kenyan numbers in every spelling we store or log (2547..., +2547..., 07..., 2541..., 01...)
# and any E.164 number; not digits inside a longer token (ws_CO_..., receipts, ids).
_PHONE = re.compile(r"(?<![\w+])(?:\+?254|0)[17]\d{8}(?!\d)|(?<![\w+])\+\d{8,15}(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE_MASK = "[phone]"
EMAIL_MASK = "[email]"
TOKEN_MASK = "***"


def scrub_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, TOKEN_MASK)
    text = mask_callback_tokens(text)
    text = _EMAIL.sub(EMAIL_MASK, text)
    return _PHONE.sub(PHONE_MASK, text)


def _scrub(value, secrets, depth=0):
    if depth > 20:  # events are shallow; this only guards against a self-referencing structure
        return value
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, dict):
        return {key: _scrub(item, secrets, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(item, secrets, depth + 1) for item in value)
    return value


def _secrets() -> tuple[str, ...]:
    from django.conf import settings

    return tuple(
        value for value in (getattr(settings, "MPESA_CALLBACK_TOKEN", ""),) if isinstance(value, str) and value
    )


def before_send(event, hint):
    """Every string anywhere in the event (message, logentry, extra, exception values,
    frame variables, request URL, breadcrumbs) is scrubbed."""
    return _scrub(event, _secrets())


def before_breadcrumb(crumb, hint):
    return _scrub(crumb, _secrets())


def sentry_init(dsn: str, *, environment: str = "", release: str = "", traces_sample_rate: float = 0.0) -> bool:
    """Start sentry-sdk with the Django integration and the logging integration (django-q2
    logs a failed task at ERROR with its traceback: that line becomes an event). False when
    there is no DSN: nothing is started."""
    if not dsn:
        return False
    import logging

    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        release=release or None,
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
        integrations=[
            DjangoIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
    )
    return True
