"""Settings shared by every environment. Everything that differs comes from the environment."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Runtime files (SQLite database, private uploads, media) live under var/ so a
# fresh clone has one folder to delete to start over.
VAR_DIR = Path(os.environ.get("NEXUS_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "core",
    "accounts",
    "listings",
    "reservations",
    "mpesa",
    "mpesa.simulator",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.settings",
    "wagtail.embeds",
    "wagtail.sites",
    "accounts.apps.NexusUsersAppConfig",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "phonenumber_field",
    "django_q",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",  # first: every log line of the request carries its id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.HtmlGZipMiddleware",  # before anything that may change the page

    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: /sw/... is Kiswahili, unprefixed URLs English (nexus/urls.py, docs/i18n.md).
    "django.middleware.locale.LocaleMiddleware",
    # A guest who chose Kiswahili is sent from an English page to its /sw/ twin (core.language).
    "core.language.LanguagePreferenceMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.AdminQueryBoundsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "listings.admin_scope.OwnerAdminScopeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "nexus.urls"
WSGI_APPLICATION = "nexus.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wagtail.contrib.settings.context_processors.settings",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# DATABASE_URL selects PostgreSQL (production, CI). Without it, a SQLite file:
# IMMEDIATE transactions take the write lock up front so check-and-insert is
# atomic, and WAL lets readers run while one writer holds the lock.
SQLITE_PATH = Path(os.environ.get("SQLITE_PATH", VAR_DIR / "db.sqlite3"))
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
if os.environ.get("DATABASE_URL"):
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ["DATABASE_URL"], conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")), conn_health_checks=True
        )
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": SQLITE_PATH}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # However SQLite was chosen (no DATABASE_URL, or sqlite:///...): without these a
    # second writer fails at once with "database is locked" instead of waiting its turn.
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Without Redis, the database cache: core.cache writes a key in one statement, and
# createcachetable (core/management/commands) makes its table UNLOGGED on PostgreSQL.
# Throttles and the sign-in lock count here, so it must be shared by every process.
CACHES = {
    "default": {
        "BACKEND": "core.cache.DatabaseCache",
        "LOCATION": "nexus_cache",
    }
}
if os.environ.get("REDIS_URL"):
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"]}

# --- Accounts -------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "reservations:my_bookings"
LOGOUT_REDIRECT_URL = "/"
PHONENUMBER_DEFAULT_REGION = "KE"
PHONENUMBER_DEFAULT_FORMAT = "E164"

# ID photos are personal data: stored outside MEDIA_ROOT, never served by URL,
# only through accounts.views.id_photo which checks who is asking.
PRIVATE_MEDIA_ROOT = Path(os.environ.get("PRIVATE_MEDIA_ROOT", VAR_DIR / "private"))
ID_PHOTO_MAX_BYTES = 5 * 1024 * 1024
# Checked from the image header before any pixel is decoded: a few KB of compressed
# PNG can claim billions of pixels. 40 MP still takes a full-size photo from most phones.
ID_PHOTO_MAX_PIXELS = 40_000_000
# ID photos are erased this many days after the user's last check-out (or after joining, for
# users who never booked): manage.py erase_personal_data, daily (docs/security.md).
ID_PHOTO_RETENTION_DAYS = int(os.environ.get("ID_PHOTO_RETENTION_DAYS", "365"))

# --- i18n / time ------------------------------------------------------------------
LANGUAGE_CODE = "en"
# The guest's site is bilingual: English unprefixed, Kiswahili under /sw/ (docs/i18n.md).
LANGUAGES = [("en", "English"), ("sw", "Kiswahili")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Django ships no number or date formats for "sw" (it would print "KES 10800"), and "en" is
# US-style: both come from nexus/formats so money reads "KES 10,800" and dates "5 Jan 2026".
FORMAT_MODULE_PATH = ["nexus.formats"]
# The Wagtail admin is English only, whatever language the guest's site is in.
WAGTAILADMIN_PERMITTED_LANGUAGES = [("en", "English")]
TIME_ZONE = "Africa/Nairobi"
USE_I18N = True
USE_TZ = True

# --- Static and media ---------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request otherwise
WHITENOISE_AUTOREFRESH = DEBUG
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Media storage (core/storage.py) ------------------------------------------------------
# MEDIA_STORAGE=filesystem (default): MEDIA_ROOT and PRIVATE_MEDIA_ROOT on this machine.
# MEDIA_STORAGE=s3: images, renditions and documents in AWS_STORAGE_BUCKET_NAME, ID photos in
# PRIVATE_STORAGE_BUCKET_NAME (never public), on AWS S3, Cloudflare R2 or any S3 endpoint
# (AWS_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_S3_REGION_NAME, and
# optionally AWS_S3_CUSTOM_DOMAIN for the public links). "private" is the ID photos' storage.
from core.storage import media_storage_choice, media_storages  # noqa: E402

MEDIA_STORAGE = media_storage_choice(os.environ)
STORAGES.update(media_storages(os.environ))
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Wagtail ------------------------------------------------------------------------
WAGTAIL_SITE_NAME = "Nexus"
WAGTAILADMIN_BASE_URL = os.environ.get("WAGTAILADMIN_BASE_URL", "http://127.0.0.1:8000")
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAILDOCS_EXTENSIONS = ["csv", "pdf", "txt", "xlsx"]
# Documents are served only by Wagtail's view, which checks the collection's privacy;
# never from MEDIA_URL, which serves only these folders (core.views.public_media).
WAGTAILDOCS_SERVE_METHOD = "serve_view"
PUBLIC_MEDIA_PREFIXES = ("original_images/", "images/")
WAGTAILIMAGES_IMAGE_MODEL = "wagtailimages.Image"
WAGTAIL_ENABLE_UPDATE_CHECK = False

# Wagtail 8 runs its own background jobs (reference index, file deletion) through
# django-tasks. They are small and must not depend on our queue being up, so they
# run inline. Our own jobs (STK pushes, reconciliation, emails) go through django-q2.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

# --- Client address and sign-in throttling ----------------------------------------------
# How many proxies of ours stand in front of the app, each appending the address it saw
# to X-Forwarded-For: 1 on Render, 0 (the default) when clients reach the server
# directly, in which case the header is the client's own writing and is ignored.
# Throttles, the sign-in lock and the callback allow-list all read it (core.throttling).
# MPESA_CALLBACK_TRUST_X_FORWARDED_FOR, the older callback-only switch, means one proxy.
NUM_PROXIES = int(os.environ.get("NUM_PROXIES", "1" if env_bool("MPESA_CALLBACK_TRUST_X_FORWARDED_FOR") else "0"))
# Wrong passwords per account (by email) and per client address before every sign-in
# form and the token API refuse, even the right password, until the window passes.
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("LOGIN_FAILURE_WINDOW_SECONDS", "900"))

# --- Django REST framework ----------------------------------------------------------
REST_FRAMEWORK = {
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.TokenAuthentication",  # DRF's, with a cheaper lookup
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.StandardPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "core.schema.NexusAutoSchema",
    # The one JSON parser for the whole API: malformed JSON of any kind is a 400 parse_error.
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "core.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "payment_user": os.environ.get("THROTTLE_PAYMENT_USER", "10/min"),
        "payment_phone": os.environ.get("THROTTLE_PAYMENT_PHONE", "5/min"),
        "auth": os.environ.get("THROTTLE_AUTH", "30/min"),
        # Counts every booking POST of a user, API and site form alike (one counter).
        "booking_user": os.environ.get("THROTTLE_BOOKING_USER", "30/hour"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Nexus API",
    # Shown at the top of /api/docs/: how an app signs in, books and pays.
    "DESCRIPTION": (BASE_DIR / "docs" / "api-quickstart.md").read_text(encoding="utf-8"),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["core.schema.only_public_api"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.schema.add_error_responses", "core.schema.add_links"],
}

# --- django-q2 (our background jobs) ----------------------------------------------------
# ORM broker by default: works on SQLite and PostgreSQL with no extra service.
# retry must exceed timeout, or a slow task is handed to a second worker while the
# first still runs. Bounded attempts: a broken task must not loop forever. No
# catch_up: after downtime a schedule runs once, not once per missed minute.
Q_CLUSTER = {
    "name": "nexus",
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": 60,
    "retry": 90,
    "max_attempts": 3,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 500,
    "poll": 0.5,
    "orm": "default",
    "sync": env_bool("Q_SYNC", False),
    "label": "Task queue",
}
if os.environ.get("REDIS_URL"):
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = os.environ["REDIS_URL"]

# --- Bookings -------------------------------------------------------------------
BOOKING_HOLD_MINUTES = int(os.environ.get("BOOKING_HOLD_MINUTES", "15"))
# Check-in hour (Africa/Nairobi): a booking's balance is due 48 hours before check-in at this time.
CHECK_IN_TIME = os.environ.get("CHECK_IN_TIME", "14:00")
# How long the link in a co-guest invitation email can be used.
BOOKING_INVITATION_TTL_DAYS = int(os.environ.get("BOOKING_INVITATION_TTL_DAYS", "14"))
IDEMPOTENCY_KEY_TTL_HOURS = 24
# Calendar import (listings/calendar/fetch.py): host names trusted as they are, whatever
# they resolve to. Empty: only calendars on public addresses are fetched.
CALENDAR_IMPORT_ALLOWED_HOSTS = env_list("CALENDAR_IMPORT_ALLOWED_HOSTS")

# --- M-Pesa / Daraja ------------------------------------------------------------------
MPESA_BASE_URLS = {
    "sandbox": "https://sandbox.safaricom.co.ke",
    "production": "https://api.safaricom.co.ke",
}
MPESA_ENV = os.environ.get("MPESA_ENV", "simulator")
MPESA_SIMULATOR_URL = os.environ.get("MPESA_SIMULATOR_URL", "http://127.0.0.1:8000/simulator")
MPESA_BASE_URL = os.environ.get("MPESA_BASE_URL") or (
    MPESA_SIMULATOR_URL if MPESA_ENV == "simulator" else MPESA_BASE_URLS.get(MPESA_ENV, "")
)
# Sandbox values are Safaricom's published test credentials (docs/daraja.md); the
# simulator accepts them too. Production must set its own.
MPESA_CONSUMER_KEY = os.environ.get("MPESA_CONSUMER_KEY", "simulator-key" if MPESA_ENV == "simulator" else "")
MPESA_CONSUMER_SECRET = os.environ.get("MPESA_CONSUMER_SECRET", "simulator-secret" if MPESA_ENV == "simulator" else "")
MPESA_SHORTCODE = os.environ.get("MPESA_SHORTCODE", "174379")
MPESA_PASSKEY = os.environ.get(
    "MPESA_PASSKEY", "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
)
MPESA_TRANSACTION_TYPE = os.environ.get("MPESA_TRANSACTION_TYPE", "CustomerPayBillOnline")
MPESA_PARTY_B = os.environ.get("MPESA_PARTY_B", "")
MPESA_CALLBACK_BASE_URL = os.environ.get("MPESA_CALLBACK_BASE_URL", "http://127.0.0.1:8000")
MPESA_CALLBACK_TOKEN = os.environ.get("MPESA_CALLBACK_TOKEN", "")
MPESA_HTTP_TIMEOUT = float(os.environ.get("MPESA_HTTP_TIMEOUT", "10"))
# Reconciliation: first STK query after this many seconds, then backoff; after the
# deadline an unanswered payment is FAILED (timeout) - a late success still wins.
MPESA_QUERY_FIRST_AFTER_SECONDS = int(os.environ.get("MPESA_QUERY_FIRST_AFTER_SECONDS", "30"))
MPESA_PAYMENT_DEADLINE_SECONDS = int(os.environ.get("MPESA_PAYMENT_DEADLINE_SECONDS", "300"))
# Opt-in allow-list of callback source IPs. Safaricom publishes no official list
# (docs/daraja.md), so it is empty (off) by default. Behind a proxy, NUM_PROXIES tells which
# X-Forwarded-For entry is the sender.
MPESA_ALLOWED_CALLBACK_IPS = env_list("MPESA_ALLOWED_CALLBACK_IPS")
# The simulator plays Safaricom: these are the app credentials and merchant it knows.
MPESA_SIMULATOR_CONSUMER_KEY = os.environ.get("MPESA_SIMULATOR_CONSUMER_KEY", "simulator-key")
MPESA_SIMULATOR_CONSUMER_SECRET = os.environ.get("MPESA_SIMULATOR_CONSUMER_SECRET", "simulator-secret")
MPESA_SIMULATOR_SHORTCODE = os.environ.get("MPESA_SIMULATOR_SHORTCODE", "174379")
MPESA_SIMULATOR_PASSKEY = os.environ.get(
    "MPESA_SIMULATOR_PASSKEY", "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
)
# How long the simulator holds an STK push answer when told to time out, and how long
# an unanswered prompt lives before it ends as 1037 (no response from the user).
MPESA_SIMULATOR_SLOW_SECONDS = float(os.environ.get("MPESA_SIMULATOR_SLOW_SECONDS", "30"))
MPESA_SIMULATOR_PROMPT_TTL_SECONDS = int(os.environ.get("MPESA_SIMULATOR_PROMPT_TTL_SECONDS", "120"))

# Money going out (docs/money-out.md): refunds and owner payouts through B2C, B2B, Reversal
# and Transaction Status. The initiator's password is encrypted with Safaricom's public
# certificate for every request (mpesa.credentials); in the simulator the certificate is
# the simulator's own, written under var/ on first use.
MPESA_INITIATOR_NAME = os.environ.get("MPESA_INITIATOR_NAME", "nexus-initiator" if MPESA_ENV == "simulator" else "")
MPESA_INITIATOR_PASSWORD = os.environ.get(
    "MPESA_INITIATOR_PASSWORD", "simulator-initiator-password" if MPESA_ENV == "simulator" else ""
)
MPESA_CERTIFICATE_PATH = os.environ.get(
    "MPESA_CERTIFICATE_PATH", str(BASE_DIR / "var" / "simulator" / "certificate.pem") if MPESA_ENV == "simulator" else ""
)
MPESA_B2C_SHORTCODE = os.environ.get("MPESA_B2C_SHORTCODE", "") or MPESA_SHORTCODE
# How long a refund or payout waits for its result before Transaction Status is asked.
MPESA_TRANSFER_QUERY_AFTER_SECONDS = int(os.environ.get("MPESA_TRANSFER_QUERY_AFTER_SECONDS", "120"))
PLATFORM_COMMISSION_PERCENT = int(os.environ.get("PLATFORM_COMMISSION_PERCENT", "10"))
PAYOUT_DELAY_HOURS = int(os.environ.get("PAYOUT_DELAY_HOURS", "24"))
REFUND_APPROVAL_THRESHOLD = int(os.environ.get("REFUND_APPROVAL_THRESHOLD", "20000"))
# The simulator's own key pair and certificate (it decrypts SecurityCredential with the key),
# and the initiator it knows.
MPESA_SIMULATOR_KEY_DIR = os.environ.get("MPESA_SIMULATOR_KEY_DIR", str(BASE_DIR / "var" / "simulator"))
MPESA_SIMULATOR_INITIATOR_NAME = os.environ.get("MPESA_SIMULATOR_INITIATOR_NAME", "nexus-initiator")
MPESA_SIMULATOR_INITIATOR_PASSWORD = os.environ.get(
    "MPESA_SIMULATOR_INITIATOR_PASSWORD", "simulator-initiator-password"
)

# --- SMS (core/sms.py) ---------------------------------------------------------------
# Which gateway sends the SMS: "simulator" (shown on the virtual phone page, the default
# next to the Daraja simulator), "africastalking" or "console" (logged only).
SMS_BACKEND = os.environ.get("SMS_BACKEND", "simulator" if MPESA_ENV == "simulator" else "console")
SMS_BACKENDS = {
    "africastalking": "core.sms.AfricasTalkingBackend",
    "console": "core.sms.ConsoleBackend",
    "simulator": "mpesa.simulator.sms.SimulatorSmsBackend",
}
AFRICASTALKING_USERNAME = os.environ.get("AFRICASTALKING_USERNAME", "sandbox")
AFRICASTALKING_API_KEY = os.environ.get("AFRICASTALKING_API_KEY", "")
AFRICASTALKING_SENDER_ID = os.environ.get("AFRICASTALKING_SENDER_ID", "")
# Empty: the base URL follows the username (sandbox or live).
AFRICASTALKING_API_URL = os.environ.get("AFRICASTALKING_API_URL", "")
SMS_HTTP_TIMEOUT = float(os.environ.get("SMS_HTTP_TIMEOUT", "10"))

# --- Email ----------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Nexus <bookings@nexus.example.com>")

# --- Logging: one line per event, with the ids needed to trace a payment ------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # JSON in production, key=value text in development: LOG_FORMAT=json|text, else JSON
    # unless DEBUG (core.logging). Every line carries request_id (core.middleware.RequestIdMiddleware,
    # a task-scoped id in django-q2 workers); money lines add payment_id, checkout_request_id
    # and booking_reference as fields.
    "formatters": {"main": {"()": "core.logging.formatter_from_settings"}},
    # The callback token is in the callback's URL path; request lines show it as ***.
    "filters": {
        "mask_callback_tokens": {"()": "core.log_masking.MaskCallbackTokens"},
        "request_id": {"()": "core.logging.RequestIdFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "main",
            "filters": ["mask_callback_tokens", "request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's default handlers for these (its own console and mail_admins) would write
        # request paths unmasked: everything goes through the masking console handler instead.
        "django": {"handlers": [], "propagate": True},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "django_q": {"level": os.environ.get("Q_LOG_LEVEL", "WARNING")},
        "django_tasks": {"level": "WARNING"},
    },
}

# --- Errors: Sentry when SENTRY_DSN is set (core.sentry scrubs phones, emails, tokens) ------
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    from core.sentry import sentry_init

    sentry_init(
        SENTRY_DSN,
        environment=os.environ.get("SENTRY_ENVIRONMENT", ""),
        release=os.environ.get("RENDER_GIT_COMMIT", ""),
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
    )

# --- Health checks (core.health) ------------------------------------------------------
# `/healthz?full=1` answers staff, or a caller sending this value in X-Healthz-Token (an
# uptime monitor). Empty: staff only.
HEALTHZ_TOKEN = os.environ.get("HEALTHZ_TOKEN", "")
