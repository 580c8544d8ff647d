"""Signals reservations sends to the apps that build on it (they import reservations, never
the other way round)."""

from django.dispatch import Signal

# Sent by reservations.services.booking_mark_canceled, inside the cancelling transaction
# with the booking row locked, with booking=, actor= and kind= (a Booking.CancelKind).
# The payments app answers with the refunds now due: [{"payment_id", "refundable"}].
booking_canceled = Signal()
