"""Settings for the benchmark server: the development settings with production's
hot-path choices (DEBUG off, persistent connections) plus the baseline app.

DATABASE_URL must point at the bench's own PostgreSQL database (bench/__main__.py
creates one per run). Production settings are not used directly because they
demand secrets and redirect to HTTPS, which would measure a redirect.
"""

import os

from nexus.settings.dev import *  # noqa: F401,F403
from nexus.settings.dev import INSTALLED_APPS, LOGGING

DEBUG = False
INSTALLED_APPS = [*INSTALLED_APPS, "bench"]
ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
MEDIA_ROOT = os.environ.get("BENCH_MEDIA_ROOT", "/tmp/nexus-bench-media")
# Requests and the payment throttle would otherwise log or refuse the load itself.
LOGGING["root"]["level"] = "WARNING"
REST_FRAMEWORK = {**REST_FRAMEWORK}  # noqa: F405
# The load must not be refused, but the booking throttle runs at its production rate:
# DRF keeps every request of the window in the cached history, so an inflated rate (a
# million a minute) would have each booking read and write hundreds of timestamps where
# production keeps at most 30. The booking scenario spreads its requests over enough
# users instead (bench.scenarios.booking_users).
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    key: rate if key == "booking_user" else "1000000/min"
    for key, rate in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].items()
}
