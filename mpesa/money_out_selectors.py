"""Reads of the money going out that guests see: a booking's refunds (the API and the
booking page). Owners' payouts are read through mpesa.payouts.payout_list_for_owner."""

from django.db.models import QuerySet

from mpesa.models import Refund


def refund_list_for_booking(*, booking) -> QuerySet[Refund]:
    """Every refund of a booking sent (or to be sent) through Daraja, oldest first: the
    order they were asked for, a retry after the attempt it repeats."""
    return Refund.objects.filter(booking=booking).order_by("created_at", "id")

