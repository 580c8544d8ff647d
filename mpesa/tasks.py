"""django-q2 entry points: take ids, safe to run twice."""

from mpesa import services


def payment_send_stk_push(payment_id: int) -> str | None:
    payment = services.payment_send_stk_push(payment_id=payment_id)
    return payment.status if payment else None


def payment_reconcile_pending() -> int:
    return services.payment_reconcile_pending()
