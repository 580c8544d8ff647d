"""mpesa's figures for `/healthz?full=1` (core.health), registered in MpesaConfig.ready():
when the reconciliation schedule last ran, and how long the oldest unsettled payment has
waited. Both say whether money is still being settled, which "the database answers" cannot.
"""

from django.conf import settings

from core.health import age_seconds, health_check_register
from mpesa.models import Payment
from reservations.status import IN_FLIGHT

RECONCILE_FUNC = "mpesa.tasks.payment_reconcile_pending"
# The schedule runs every minute: five minutes without a successful run means it stopped.
RECONCILE_STALE_AFTER_SECONDS = 300
# The reconcile run after a payment's deadline fails it: one still open well past that is stuck.
UNSETTLED_GRACE_SECONDS = 180


def reconcile_last_run() -> dict:
    """From django-q2's results (Task rows): the last run and the last successful one."""
    from django_q.models import Task

    runs = Task.objects.filter(func=RECONCILE_FUNC).order_by("-stopped")
    last = runs.values("stopped", "success").first()
    last_success = runs.filter(success=True).values_list("stopped", flat=True).first()
    success_age = age_seconds(last_success)
    return {
        "ok": success_age is not None and success_age <= RECONCILE_STALE_AFTER_SECONDS,
        "last_run_at": last["stopped"].isoformat() if last else None,
        "last_run_succeeded": last["success"] if last else None,
        "last_success_age_seconds": success_age,
        "stale_after_seconds": RECONCILE_STALE_AFTER_SECONDS,
    }


def oldest_unsettled_payment() -> dict:
    """STK pushes still QUEUED or PENDING: how many, and the age of the oldest."""
    unsettled = Payment.objects.filter(kind=Payment.Kind.PAYMENT, status__in=IN_FLIGHT)
    oldest = unsettled.order_by("created_at").values_list("created_at", flat=True).first()
    age = age_seconds(oldest)
    limit = settings.MPESA_PAYMENT_DEADLINE_SECONDS + UNSETTLED_GRACE_SECONDS
    return {
        "ok": age is None or age <= limit,
        "count": unsettled.count(),
        "oldest_age_seconds": age,
        "stuck_after_seconds": limit,
    }


def payment_health_checks_register() -> None:
    health_check_register("reconcile", reconcile_last_run)
    health_check_register("unsettled_payments", oldest_unsettled_payment)
