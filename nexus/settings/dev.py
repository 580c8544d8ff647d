"""Local development and the demo (`make run`): SQLite and the Daraja simulator by default."""

import os

from .base import *  # noqa: F401,F403
from .base import env_bool

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-insecure-key-never-used-in-production"
MPESA_CALLBACK_TOKEN = os.environ.get("MPESA_CALLBACK_TOKEN") or "dev-callback-token"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]
# Media ("default", "private") as MEDIA_STORAGE says (base.py); plain static files here.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
