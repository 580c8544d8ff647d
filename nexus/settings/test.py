"""Settings for pytest. Same database choice as everywhere (DATABASE_URL or SQLite)."""

import os

from .dev import *  # noqa: F401,F403
from .dev import DATABASES, VAR_DIR

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A named file, not Django's shared in-memory database: in-memory SQLite ignores
# busy timeouts, so threads racing for the write lock would fail for the wrong reason.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("SQLITE_TEST_PATH", str(VAR_DIR / "test-db.sqlite3")),
    }
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = VAR_DIR / "test-media"
PRIVATE_MEDIA_ROOT = VAR_DIR / "test-private"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REST_FRAMEWORK = {**REST_FRAMEWORK}  # noqa: F405
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
    "payment_user": "1000/min",
    "payment_phone": "1000/min",
    "auth": "1000/min",
    "booking_user": "10000/hour",
}
# Every test client signs in from 127.0.0.1 and the cache outlives a test: the lock is
# tested with its real limit in tests/core/test_security_throttles.py.
LOGIN_FAILURE_LIMIT = 1000
# Tasks run in the test process when enqueued (after commit); a separate test
# starts a real qcluster worker.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# The calendar import tests serve .ics files from a local HTTP server.
CALENDAR_IMPORT_ALLOWED_HOSTS = ["127.0.0.1"]
