"""django-q2 entry points: take ids, safe to run twice."""

from mpesa import reconcile, settle, start


def payment_send_stk_push(payment_id: int) -> str | None:
    payment = start.payment_send_stk_push(payment_id=payment_id)
    return payment.status if payment else None


def callback_apply(record_id: int) -> str:
    return settle.callback_apply(record_id=record_id).state


def payment_reconcile_pending() -> int:
    return reconcile.payment_reconcile_pending()
