"""Production: PostgreSQL and real Daraja, everything secret from the environment."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import MPESA_BASE_URL, MPESA_ENV, env_bool


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in production")
    return value


DEBUG = False
SECRET_KEY = _required("SECRET_KEY")
MPESA_CALLBACK_TOKEN = _required("MPESA_CALLBACK_TOKEN")
if len(MPESA_CALLBACK_TOKEN) < 24:
    raise ImproperlyConfigured("MPESA_CALLBACK_TOKEN must be a long random string (24+ characters)")
if MPESA_ENV not in {"simulator", "sandbox", "production"}:
    raise ImproperlyConfigured("MPESA_ENV must be simulator, sandbox or production")
if MPESA_ENV == "simulator" and not env_bool("ALLOW_SIMULATOR_IN_PRODUCTION"):
    # The simulator's virtual phone (/simulator/phone/) lets anyone "pay" any prompt, and
    # MPESA_ENV defaults to it: a deployment that forgot MPESA_ENV would take fake money.
    raise ImproperlyConfigured(
        "MPESA_ENV is unset or 'simulator' in production, where anyone could pay with the simulator's "
        "virtual phone: set MPESA_ENV to sandbox or production, or ALLOW_SIMULATOR_IN_PRODUCTION=1 "
        "for a demo that takes no real money"
    )
if MPESA_ENV != "simulator":
    # Daraja only posts callbacks to public HTTPS URLs, and without credentials
    # every payment would fail at the first OAuth call.
    for name in ("MPESA_CONSUMER_KEY", "MPESA_CONSUMER_SECRET", "MPESA_SHORTCODE", "MPESA_PASSKEY"):
        _required(name)
    # Refunds and owner payouts (B2C, B2B, Reversal, Transaction Status) need the initiator
    # and Safaricom's certificate to encrypt its password; without them no money goes out.
    for name in ("MPESA_INITIATOR_NAME", "MPESA_INITIATOR_PASSWORD", "MPESA_CERTIFICATE_PATH"):
        _required(name)
    if not _required("MPESA_CALLBACK_BASE_URL").startswith("https://"):
        raise ImproperlyConfigured("MPESA_CALLBACK_BASE_URL must be an https:// origin in production")
    if not MPESA_BASE_URL.startswith("https://"):
        raise ImproperlyConfigured("MPESA_BASE_URL must be https in production")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
