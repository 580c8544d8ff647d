import datetime as dt
import socket
import uuid

import pytest
from django.db import connections
from django.db.utils import load_backend
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Task

from mpesa.health import RECONCILE_FUNC
from mpesa.models import Payment
from tests.factories import StaffFactory, UserFactory, make_booking, make_payment, make_property

pytestmark = pytest.mark.django_db


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


# --- the database down ---------------------------------------------------------------------

MONITOR_TOKEN = "monitor-token-5b1e9c7d3a"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_database(db, settings, tmp_path):
    """A second alias, like the default, pointing at a database nobody answers for; the
    health check is told to use it. The test database itself is untouched."""
    dead = dict(connections["default"].settings_dict)
    if connections["default"].vendor == "sqlite":
        dead["NAME"] = str(tmp_path / "no-such-folder" / "db.sqlite3")
    else:
        dead.update(HOST="127.0.0.1", PORT=str(_closed_port()), OPTIONS={"connect_timeout": 2})
    # Set as a live connection object rather than declared in DATABASES: the test framework
    # lets a test use only the databases it declared, and this one has no test database.
    connections["dead"] = load_backend(dead["ENGINE"]).DatabaseWrapper(dead, "dead")
    settings.HEALTHZ_DATABASE = "dead"
    yield
    connections["dead"].close()
    del connections["dead"]


def test_healthz_answers_503_when_the_database_does_not(client, dead_database):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["database"] == "OperationalError"
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_full_report_also_answers_503_when_the_database_does_not(client, dead_database):
    client.force_login(StaffFactory())
    response = client.get("/healthz?full=1")
    assert response.status_code == 503
    assert "checks" not in response.json()


# --- the full report: who may read it ----------------------------------------------------------


def test_anonymous_callers_and_guests_get_403_for_the_full_report(client, settings):
    settings.HEALTHZ_TOKEN = MONITOR_TOKEN
    anonymous = client.get("/healthz?full=1")
    assert anonymous.status_code == 403
    assert anonymous.json()["code"] == "forbidden"
    assert "checks" not in anonymous.json()

    wrong = client.get("/healthz?full=1", headers={"X-Healthz-Token": MONITOR_TOKEN[:-1]})
    assert wrong.status_code == 403

    client.force_login(UserFactory())
    assert client.get("/healthz?full=1").status_code == 403
    # The basic answer stays open to everyone (Render's health check).
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz?full=0").json() == {"status": "ok", "database": "ok"}


def test_without_a_token_configured_an_empty_header_is_no_key(client, settings):
    settings.HEALTHZ_TOKEN = ""
    assert client.get("/healthz?full=1", headers={"X-Healthz-Token": ""}).status_code == 403


def test_staff_and_the_monitor_token_read_the_full_report(client, settings):
    settings.HEALTHZ_TOKEN = MONITOR_TOKEN
    by_token = client.get("/healthz?full=1", headers={"X-Healthz-Token": MONITOR_TOKEN})
    assert set(by_token.json()["checks"]) == {"queue", "reconcile", "unsettled_payments"}

    client.force_login(StaffFactory())
    by_staff = client.get("/healthz?full=1")
    assert set(by_staff.json()["checks"]) == {"queue", "reconcile", "unsettled_payments"}


# --- the full report: its figures ---------------------------------------------------------------


def _reconcile_ran(seconds_ago: int, *, success: bool = True) -> None:
    stopped = timezone.now() - dt.timedelta(seconds=seconds_ago)
    Task.objects.create(
        id=uuid.uuid4().hex,
        name=f"reconcile-{uuid.uuid4().hex[:6]}",
        func=RECONCILE_FUNC,
        started=stopped - dt.timedelta(seconds=1),
        stopped=stopped,
        success=success,
    )


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory())
    return client


def test_a_working_system_reports_ok_with_its_figures(staff_client):
    _reconcile_ran(40)

    response = staff_client.get("/healthz?full=1")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    checks = body["checks"]
    assert checks["queue"]["ok"] is True and checks["queue"]["backlog"] == 0
    assert checks["reconcile"]["ok"] is True
    assert 40 <= checks["reconcile"]["last_success_age_seconds"] < 100
    assert checks["reconcile"]["last_run_succeeded"] is True
    assert checks["unsettled_payments"] == {
        "ok": True,
        "count": 0,
        "oldest_age_seconds": None,
        "stuck_after_seconds": checks["unsettled_payments"]["stuck_after_seconds"],
    }


def test_a_stopped_reconciliation_and_a_stuck_payment_make_the_report_503(staff_client, settings):
    _reconcile_ran(900)
    _reconcile_ran(30, success=False)  # it still runs, but fails
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    stuck = make_payment(booking=booking, status="PENDING", amount=4000)
    fresh = make_payment(booking=booking, status="QUEUED", amount=1000)
    Payment.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - dt.timedelta(minutes=20))
    make_payment(booking=booking, status="SUCCESS", amount=500)  # settled: not counted

    response = staff_client.get("/healthz?full=1")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    reconcile, unsettled = body["checks"]["reconcile"], body["checks"]["unsettled_payments"]
    assert reconcile["ok"] is False
    assert reconcile["last_run_succeeded"] is False
    assert reconcile["last_success_age_seconds"] >= 900
    assert unsettled["ok"] is False
    assert unsettled["count"] == 2
    assert unsettled["oldest_age_seconds"] >= 1200
    assert unsettled["stuck_after_seconds"] == settings.MPESA_PAYMENT_DEADLINE_SECONDS + 180
    assert fresh.pk  # the young one alone would not be stuck


def test_a_reconciliation_that_never_ran_is_not_ok(staff_client):
    reconcile = staff_client.get("/healthz?full=1").json()["checks"]["reconcile"]
    assert reconcile["ok"] is False
    assert reconcile["last_run_at"] is None


def test_the_queue_backlog_counts_waiting_tasks(staff_client, settings):
    _reconcile_ran(10)
    broker = get_broker()
    for _ in range(3):
        broker.enqueue("a signed package")

    queue = staff_client.get("/healthz?full=1").json()["checks"]["queue"]

    assert queue["backlog"] == 3
    assert queue["broker"] == ("redis" if settings.Q_CLUSTER.get("redis") else "orm")
    assert queue["ok"] is True


def test_a_check_that_crashes_is_reported_not_a_500(staff_client):
    from core.health import _checks, health_check_register

    def broken():
        raise RuntimeError("boom")

    health_check_register("broken_for_test", broken)
    try:
        response = staff_client.get("/healthz?full=1")
    finally:
        _checks.pop("broken_for_test")

    assert response.status_code == 503
    assert response.json()["checks"]["broken_for_test"] == {"ok": False, "error": "RuntimeError"}
