"""Who is asking (the real client address) and how often they failed to sign in.

Behind Render's proxy every request comes from the proxy's address, and the
X-Forwarded-For header carries what the client wrote followed by the address the
proxy saw. Only the entries our own proxies appended can be trusted, so the number of
proxies is a setting (NUM_PROXIES, REST_FRAMEWORK["NUM_PROXIES"]; 0 when clients reach
the server directly) and every address-keyed decision reads it the same way: DRF's
throttles, the sign-in lock below and the M-Pesa callback allow-list.
"""

import hashlib
import math

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str:
    """The client's address by the same rule DRF's throttles key on (NUM_PROXIES).

    Works for Django and DRF requests alike (it reads request.META only).
    """
    return BaseThrottle().get_ident(request)


# --- Failed sign-ins ------------------------------------------------------------------------
# Counted in the cache per account (sha256 of the lower-cased email) and per client
# address (sha256 too: the cache holds neither in clear). Every sign-in path goes through Django's
# authenticate(), which sends user_login_failed on a wrong password: that signal counts
# (core.apps connects it), so the site's form, Wagtail's admin form and the token API share
# one counter. Each path checks sign_in_locked() *before* authenticating, so while locked
# even the right password is refused and nothing is learnt from trying. A success resets
# nothing: signing into one's own account must not clear the address's count.

LOCKED_CODE = "login_locked"


def locked_message() -> str:
    minutes = max(1, math.ceil(settings.LOGIN_FAILURE_WINDOW_SECONDS / 60))
    return f"Too many failed sign-in attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}."


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _counter_keys(request, email: str | None) -> list[str]:
    keys = []
    account = (email or "").strip().lower()
    if account:
        keys.append(f"sign-in-failures:account:{_digest(account)}")
    address = client_ip(request) if request is not None else ""
    if address:
        keys.append(f"sign-in-failures:ip:{_digest(address)}")
    return keys


def sign_in_locked(request, email: str | None) -> bool:
    """True while the account or the client's address has reached LOGIN_FAILURE_LIMIT."""
    keys = _counter_keys(request, email)
    counts = cache.get_many(keys) if keys else {}
    return any(count >= settings.LOGIN_FAILURE_LIMIT for count in counts.values())


def check_sign_in_allowed(request, email: str | None) -> None:
    """For a login form's clean(), before it authenticates: the lock as a form error."""
    if sign_in_locked(request, email):
        raise ValidationError(locked_message(), code=LOCKED_CODE)


def sign_in_failed(request, email: str | None) -> None:
    """Count one wrong password for the account and the address.

    The count lives LOGIN_FAILURE_WINDOW_SECONDS after the latest failure: touch() sets
    that on every backend (the database cache's incr() would otherwise reset it to the
    cache's default timeout).
    """
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    for key in _counter_keys(request, email):
        cache.add(key, 0, timeout=window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.set(key, 1, timeout=window)
        cache.touch(key, window)


def count_failed_sign_in(sender, credentials, request=None, **kwargs) -> None:
    """user_login_failed receiver. Without a request it was no one signing in over HTTP."""
    if request is None:
        return
    sign_in_failed(request, credentials.get("username") or credentials.get("email"))
