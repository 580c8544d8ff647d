"""Who is asking (the real client address) and how often they failed to sign in.

Behind Render's proxy every request comes from the proxy's address, and the
X-Forwarded-For header carries what the client wrote followed by the address the
proxy saw. Only the entries our own proxies appended can be trusted, so the number of
proxies is a setting (NUM_PROXIES, REST_FRAMEWORK["NUM_PROXIES"]; 0 when clients reach
the server directly) and every address-keyed decision reads it the same way: DRF's
throttles, the sign-in lock below and the M-Pesa callback allow-list.
"""

import hashlib
import itertools
import math

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle, SimpleRateThrottle

from core.models import RateCounter
from core.prepared import execute_prepared


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


# --- Request throttles counted in one statement --------------------------------------------
# DRF's SimpleRateThrottle keeps each client's request times as a list in the cache: a read,
# then a write, two statements per request on the database cache, with the list pickled
# each time. The throttles on the money paths (booking, payment) run on every such request,
# so they count in fixed windows instead, one upsert per request that returns the counts
# (core.models.RateCounter). The limit is checked against a sliding estimate: this
# window's count plus the previous window's, weighted by how much of it still lies inside
# the last `duration` seconds. A request that is refused is taken off the count again, so a
# client that keeps asking while throttled is let in as soon as its rate allows, as with
# DRF's own throttles.

CLEAN_UP_EVERY = 1000
KEY_MAX_LENGTH = RateCounter._meta.get_field("key").max_length
_hits = itertools.count()


def rate_counter_hit(*, key: str, window_number: int, expires: int, now: int) -> tuple[int, int]:
    """Count one request for `key` in `window_number`: (count in this window, count in the one before)."""
    if len(key) > KEY_MAX_LENGTH:  # an ident the client shaped (a header) must not overflow the column
        key = "sha256:" + _digest(key)
    qn = connection.ops.quote_name
    table = qn(RateCounter._meta.db_table)
    key_, window_, count_, previous_, expires_ = (
        qn(name) for name in ("key", "window_number", "count", "previous", "expires")
    )
    with connection.cursor() as cursor:
        if next(_hits) % CLEAN_UP_EVERY == CLEAN_UP_EVERY - 1:
            cursor.execute(f"DELETE FROM {table} WHERE {expires_} < %s", [now])
        # Every expression on the right reads the row as it was before this update.
        execute_prepared(
            cursor,
            "nexus_rate_hit",
            f"INSERT INTO {table} ({key_}, {window_}, {count_}, {previous_}, {expires_}) VALUES (%s, %s, 1, 0, %s) "
            f"ON CONFLICT ({key_}) DO UPDATE SET "
            f"{count_} = CASE WHEN {table}.{window_} = excluded.{window_} THEN {table}.{count_} + 1 ELSE 1 END, "
            f"{previous_} = CASE WHEN {table}.{window_} = excluded.{window_} THEN {table}.{previous_} "
            f"WHEN {table}.{window_} = excluded.{window_} - 1 THEN {table}.{count_} ELSE 0 END, "
            f"{window_} = excluded.{window_}, {expires_} = excluded.{expires_} "
            f"RETURNING {count_}, {previous_}",
            [key, window_number, expires],
        )
        count, previous = cursor.fetchone()
    return count, previous


def rate_counter_take_back(*, key: str, window_number: int) -> None:
    """Uncount a refused request (only while its window is still the row's)."""
    RateCounter.objects.filter(key=key, window_number=window_number, count__gt=0).update(
        count=F("count") - 1
    )


class WindowRateThrottle(SimpleRateThrottle):
    """SimpleRateThrottle's rates and keys (get_cache_key), counted by rate_counter_hit."""

    wait_seconds: float | None = None

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = int(self.timer())
        window_number, into_window = divmod(now, self.duration)
        count, previous = rate_counter_hit(
            key=self.key, window_number=window_number, expires=(window_number + 2) * self.duration, now=now
        )
        weight = 1 - into_window / self.duration
        if previous * weight + count <= self.num_requests:
            return True
        rate_counter_take_back(key=self.key, window_number=window_number)
        self.wait_seconds = self._seconds_until_allowed(count=count, previous=previous, into_window=into_window)
        return False

    def _seconds_until_allowed(self, *, count: int, previous: int, into_window: int) -> float:
        """When the next request (counted as `count` again) would pass."""
        limit, duration = self.num_requests, self.duration
        if count <= limit:
            # Within this window, once enough of the previous one has slid out.
            needed = 1 - (limit - count) / previous
            return max(1.0, math.ceil(needed * duration - into_window))
        # Not before the next window, and then once enough of this one has slid out.
        needed = 1 - (limit - 1) / (count - 1)
        return max(1.0, math.ceil(duration - into_window + needed * duration))

    def wait(self):
        return self.wait_seconds


class ScopedWindowRateThrottle(ScopedRateThrottle, WindowRateThrottle):
    """DRF's ScopedRateThrottle (the view's throttle_scope, keyed per user or client address),
    counted by rate_counter_hit: ScopedRateThrottle picks the scope, then hands over."""
