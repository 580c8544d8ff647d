"""django-q2 entry points: take ids, safe to run twice."""

from mpesa import reconcile, settle, start


def payment_send_stk_push(payment_id: int) -> str | None:
    payment = start.payment_send_stk_push(payment_id=payment_id)
    return payment.status if payment else None


def callback_apply(record_id: int) -> str:
    return settle.callback_apply(record_id=record_id).state


def payment_reconcile_pending() -> int:
    return reconcile.payment_reconcile_pending()


def payouts_release_due() -> int:
    """Schedule "payouts_release_due" (every 5 minutes): owners' payouts that are due go out."""
    from mpesa import payouts

    return payouts.payouts_release_due()


def transfer_send(kind: str, transfer_id: int) -> str | None:
    from mpesa import transfers

    transfer = transfers.transfer_send(kind=kind, transfer_id=transfer_id)
    return transfer.status if transfer else None


def transfer_result_apply(record_id: int) -> str:
    from mpesa import transfers

    return transfers.transfer_apply_result(record_id=record_id).state


def transfers_reconcile() -> int:
    from mpesa import transfers

    return transfers.transfers_reconcile()
