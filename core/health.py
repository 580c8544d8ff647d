"""What `/healthz?full=1` reports beyond "the database answers" (core.views.healthz).

core knows no app: each app registers its checks at start-up (AppConfig.ready()), as mpesa
does for the last reconciliation run and the oldest unsettled payment. A check returns a
dict of figures and "ok": False when the figures say the system is up but not working
(a stuck queue, a reconciliation that stopped running). The queue's backlog is core's own
check: django-q2 serves every app.
"""

from collections.abc import Callable

from django.utils import timezone

HealthCheck = Callable[[], dict]
_checks: dict[str, HealthCheck] = {}

# More tasks than this waiting: the worker is down or cannot keep up.
QUEUE_BACKLOG_LIMIT = 200


def health_check_register(name: str, check: HealthCheck) -> None:
    """Idempotent by name (ready() may run twice in tests)."""
    _checks[name] = check


def health_checks_run() -> dict[str, dict]:
    """Every registered check's figures; a check that raises reports its error, never a 500."""
    report = {}
    for name, check in sorted(_checks.items()):
        try:
            report[name] = check()
        except Exception as error:  # a broken check is a finding, not a crash
            report[name] = {"ok": False, "error": type(error).__name__}
    return report


def age_seconds(moment) -> int | None:
    return None if moment is None else max(0, int((timezone.now() - moment).total_seconds()))


def queue_backlog() -> dict:
    """Tasks waiting in the django-q2 broker (ORM table or Redis list, whichever is configured)."""
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    broker = get_broker()
    backlog = broker.queue_size()
    return {
        "ok": backlog <= QUEUE_BACKLOG_LIMIT,
        "broker": "orm" if Conf.ORM else "redis" if Conf.REDIS else type(broker).__name__,
        "backlog": backlog,
        "limit": QUEUE_BACKLOG_LIMIT,
    }


health_check_register("queue", queue_backlog)


def database_answers(alias: str = "default") -> str | None:
    """None when `SELECT 1` comes back from the database, else the error's class name."""
    from django.db import connections

    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any database failure means "not healthy"
        return type(error).__name__
    return None
