"""Deployment settings that are security decisions (docs/security.md).

- SQLite chosen through DATABASE_URL gets the same write-lock options as the default
  SQLite file, or concurrent bookings answer 500 "database is locked".
- Production refuses to start with the Daraja simulator (whose virtual phone can pay
  any prompt) unless told explicitly.
- The callback token, a secret in the callback's URL path, never appears in a log line:
  neither Django's nor gunicorn's access log.

Settings are loaded in a subprocess with an explicit environment, so what the test run
itself has in DATABASE_URL or MPESA_* does not matter.
"""

import io
import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.test import Client

from core.log_masking import MaskCallbackTokens, mask_callback_tokens
from tests.processes import ROOT

TOKEN = "settings-test-token-0123456789abcdef"
PRINT_DATABASE = (
    "import json; from django.conf import settings; db = settings.DATABASES['default']; "
    "print(json.dumps({'ENGINE': db['ENGINE'], 'NAME': str(db['NAME']), 'OPTIONS': db.get('OPTIONS', {}), "
    "'TEST': {k: str(v) for k, v in db.get('TEST', {}).items()}}))"
)
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "nexus.settings.production",
    "SECRET_KEY": "test-Zq8w3XfK2mVb9LrT6yHn4JcP1sDg7EaU5oWiQx0kBzR-long-enough-2026",
    "MPESA_CALLBACK_TOKEN": TOKEN,
    "ALLOWED_HOSTS": "nexus.example.com",
}
SANDBOX_ENV = {
    "MPESA_ENV": "sandbox",
    "MPESA_CONSUMER_KEY": "k",
    "MPESA_CONSUMER_SECRET": "s",
    "MPESA_SHORTCODE": "174379",
    "MPESA_PASSKEY": "p",
    "MPESA_CALLBACK_BASE_URL": "https://nexus.example.com",
    "MPESA_INITIATOR_NAME": "nexus-api",
    "MPESA_INITIATOR_PASSWORD": "initiator-password",
    "MPESA_CERTIFICATE_PATH": "/etc/secrets/mpesa-certificate.cer",
}


def _clean_env(**values: str) -> dict[str, str]:
    """Only what a process needs to run, plus `values`: nothing of this test run's settings."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(values)
    return env


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _database(settings_module: str, **env) -> dict:
    result = _python(PRINT_DATABASE, _clean_env(DJANGO_SETTINGS_MODULE=settings_module, **env))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- SQLite through DATABASE_URL ------------------------------------------------------------


@pytest.mark.parametrize("settings_module", ["nexus.settings.dev", "nexus.settings.test"])
def test_sqlite_through_database_url_takes_the_write_lock_up_front_and_waits(settings_module, tmp_path):
    path = tmp_path / "x.sqlite3"
    db = _database(settings_module, DATABASE_URL=f"sqlite:///{path}")
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(path)
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert db["OPTIONS"]["timeout"] >= 20
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]


def test_sqlite_without_database_url_keeps_the_same_options(tmp_path):
    db = _database("nexus.settings.dev", SQLITE_PATH=str(tmp_path / "y.sqlite3"))
    assert db["NAME"] == str(tmp_path / "y.sqlite3")
    assert (db["OPTIONS"]["transaction_mode"], db["OPTIONS"]["timeout"]) == ("IMMEDIATE", 30)
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]


def test_test_settings_still_name_their_own_sqlite_test_database(tmp_path):
    test_path = str(tmp_path / "test-z.sqlite3")
    via_url = _database("nexus.settings.test", DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
                        SQLITE_TEST_PATH=test_path)
    default = _database("nexus.settings.test", SQLITE_TEST_PATH=test_path)
    assert via_url["TEST"]["NAME"] == default["TEST"]["NAME"] == test_path


def test_postgres_url_gets_no_sqlite_options():
    db = _database("nexus.settings.dev", DATABASE_URL="postgres://u@127.0.0.1:5432/nexus_settings_check")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert "transaction_mode" not in db["OPTIONS"]


def test_concurrent_writers_on_a_database_url_sqlite_wait_instead_of_failing(tmp_path):
    """The behaviour, not just the dict: a second IMMEDIATE writer waits for the first."""
    code = (
        "import django, threading, time; django.setup(); "
        "from django.db import connection, transaction; "
        "cursor = connection.cursor(); cursor.execute('CREATE TABLE IF NOT EXISTS t (n integer)'); "
        "errors = []\n"
        "def write(n):\n"
        "    from django.db import connection, transaction\n"
        "    try:\n"
        "        with transaction.atomic():\n"
        "            with connection.cursor() as c:\n"
        "                c.execute('SELECT count(*) FROM t'); c.fetchone(); time.sleep(0.3)\n"
        "                c.execute('INSERT INTO t VALUES (%s)', [n])\n"
        "    except Exception as error:\n"
        "        errors.append(repr(error))\n"
        "    finally:\n"
        "        connection.close()\n"
        "threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print('errors', errors)\n"
        "cursor.execute('SELECT count(*) FROM t'); print('rows', cursor.fetchone()[0])\n"
    )
    env = _clean_env(DJANGO_SETTINGS_MODULE="nexus.settings.dev", DATABASE_URL=f"sqlite:///{tmp_path / 'w.sqlite3'}",
                     CONN_MAX_AGE="0")
    result = _python(code, env)
    assert result.returncode == 0, result.stderr
    assert "errors []" in result.stdout, result.stdout
    assert "rows 4" in result.stdout


# --- Production and the simulator ---------------------------------------------------------------


def _manage_check(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=_clean_env(**PRODUCTION_ENV, **env),
        capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize("mpesa_env", [{}, {"MPESA_ENV": "simulator"}], ids=["unset", "simulator"])
def test_production_refuses_to_start_with_the_simulator(mpesa_env):
    result = _manage_check(**mpesa_env)
    assert result.returncode != 0
    assert "ALLOW_SIMULATOR_IN_PRODUCTION" in result.stderr


@pytest.mark.parametrize("value", ["0", "", "no"])
def test_production_simulator_needs_an_explicit_yes(value):
    result = _manage_check(ALLOW_SIMULATOR_IN_PRODUCTION=value)
    assert result.returncode != 0
    assert "ALLOW_SIMULATOR_IN_PRODUCTION" in result.stderr


def test_production_starts_with_the_simulator_when_told_explicitly():
    result = _manage_check(ALLOW_SIMULATOR_IN_PRODUCTION="1")
    assert result.returncode == 0, result.stderr


def test_production_starts_with_sandbox_credentials():
    result = _manage_check(**SANDBOX_ENV)
    assert result.returncode == 0, result.stderr


def test_render_blueprint_sets_mpesa_env_and_one_proxy():
    text = (ROOT / "render.yaml").read_text()
    assert "key: MPESA_ENV" in text
    assert "ALLOW_SIMULATOR_IN_PRODUCTION" not in text
    assert "key: NUM_PROXIES" in text
    assert "gunicorn.conf.py" in text


# --- The callback token in logs ------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, expected",
    [
        (f"POST /payments/callback/{TOKEN}/ HTTP/1.1", "POST /payments/callback/***/ HTTP/1.1"),
        (f"Bad Request: /payments/result/{TOKEN}/", "Bad Request: /payments/result/***/"),
        (f"https://nexus.example.com/payments/timeout/{TOKEN}", "https://nexus.example.com/payments/timeout/***"),
        (f'"GET /payments/callback/{TOKEN}/?x=1 HTTP/1.1" 405', '"GET /payments/callback/***/?x=1 HTTP/1.1" 405'),
        ("GET /api/payments/12/ HTTP/1.1", "GET /api/payments/12/ HTTP/1.1"),
    ],
)
def test_callback_token_is_masked_in_log_text(line, expected):
    assert mask_callback_tokens(line) == expected


def test_masking_filter_masks_the_token_in_a_records_arguments():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "%s: %s", ("Bad Request", f"/payments/callback/{TOKEN}/"), None
    )
    assert MaskCallbackTokens().filter(record) is True
    assert record.getMessage() == "Bad Request: /payments/callback/***/"
    assert TOKEN not in logging.Formatter("%(message)s").format(record)


@pytest.mark.parametrize("name", ["django.request", "django.server", "mpesa.views", "django.security.csrf"])
def test_every_handler_a_request_log_line_reaches_masks_the_token(name):
    logger, reached = logging.getLogger(name), []
    while logger:
        reached += [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]
        logger = logger.parent if logger.propagate else None
    assert reached
    for handler in reached:
        assert any(isinstance(f, MaskCallbackTokens) for f in handler.filters), handler


@pytest.mark.django_db
def test_django_request_log_lines_show_the_callback_path_masked(settings):
    settings.MPESA_CALLBACK_TOKEN = TOKEN
    handlers = [
        handler for handler in logging.getLogger().handlers
        if any(isinstance(f, MaskCallbackTokens) for f in handler.filters)
    ]
    assert handlers, "the console handler of LOGGING carries the masking filter"
    stream = io.StringIO()
    previous = [handler.setStream(stream) for handler in handlers]
    try:
        # A body that is not a callback: 400, which django.request logs with the path.
        response = Client().post(f"/payments/callback/{TOKEN}/", data=b"[]", content_type="application/json")
    finally:
        for handler, old in zip(handlers, previous):
            handler.setStream(old)
    assert response.status_code == 400
    logged = stream.getvalue()
    assert "/payments/callback/***/" in logged
    assert TOKEN not in logged


def _free_port() -> int:
    from bench.server import free_port

    return free_port()


@pytest.mark.slow
def test_gunicorn_access_log_shows_the_callback_path_masked(tmp_path):
    port = _free_port()
    access_log = tmp_path / "access.log"
    env = _clean_env(
        DJANGO_SETTINGS_MODULE="nexus.settings.dev", DEBUG="0", MPESA_CALLBACK_TOKEN=TOKEN,
        SQLITE_PATH=str(tmp_path / "db.sqlite3"), LOG_LEVEL="WARNING",
    )
    # Started the way render.yaml starts it (the `gunicorn` script, the config file named).
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    process = subprocess.Popen(
        [gunicorn, "-c", "gunicorn.conf.py", "nexus.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--access-logfile", str(access_log), "--error-logfile", str(tmp_path / "error.log")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/payments/callback/{TOKEN}/"
        deadline = time.monotonic() + 60
        status = None
        while status is None:
            assert process.poll() is None, (tmp_path / "error.log").read_text()
            try:
                request = urllib.request.Request(url, data=b"[]", headers={"Content-Type": "application/json"})
                urllib.request.urlopen(request, timeout=5)
            except urllib.error.HTTPError as error:
                status = error.code
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        assert status == 400
        deadline = time.monotonic() + 10
        while "/payments/callback/" not in access_log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        from bench.server import stop_process

        stop_process(process)
    logged = access_log.read_text()
    assert "POST /payments/callback/***/" in logged
    assert TOKEN not in logged
    assert TOKEN not in (tmp_path / "error.log").read_text()
