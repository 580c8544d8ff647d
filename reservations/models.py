import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from listings.pricing import price_lines

# The statuses that hold dates: two bookings of one property in these statuses
# may never overlap (PostgreSQL exclusion constraint, see migration 0002).
ACTIVE_STATUSES = ("PENDING", "PROCESSING", "CONFIRMED")

# Unambiguous alphabet for references read aloud or typed into M-Pesa: no 0/O, 1/I/L.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class Booking(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING", _("Pending payment")
        PROCESSING = "PROCESSING", _("Partly paid")
        CONFIRMED = "CONFIRMED", _("Confirmed")
        CANCELED = "CANCELED", _("Cancelled")

    class CancelKind(models.TextChoices):
        """Why a booking was cancelled. Only PAYMENT_FAILED may be revived (by paying again
        while the dates are free); every other kind, and blank (unknown), is final."""

        PAYMENT_FAILED = "payment_failed", _("Payment failed")
        GUEST = "guest", _("Cancelled by the guest")
        OWNER = "owner", _("Cancelled by the owner")
        STAFF = "staff", _("Cancelled by staff")
        HOLD_EXPIRED = "hold_expired", _("Hold expired")
        BALANCE_DEADLINE = "balance_deadline", _("Balance not paid in time")

    reference = models.CharField(max_length=12, unique=True)
    # No index of its own: booking_property_dates starts with property_id and serves every
    # lookup by property (each index is one more write on every booking insert).
    property = models.ForeignKey(
        "listings.PropertyPage", on_delete=models.PROTECT, related_name="bookings", db_index=False
    )
    primary_guest = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="primary_bookings")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)  # booking_status_hold
    check_in = models.DateField()
    check_out = models.DateField()
    nights = models.PositiveSmallIntegerField()
    party_size = models.PositiveSmallIntegerField(default=1)
    # The listing's base price when the booking was made. What each night cost (season,
    # weekend) is in nightly_prices, and total_price is their sum less any length-of-stay
    # discount (listings.pricing): never multiply this field by the nights.
    price_per_night = models.PositiveIntegerField(help_text="The listing's base price per night at booking")
    total_price = models.PositiveIntegerField()
    # [{"date": "2027-01-10", "price": 5000}, ...], one per night, as quoted at booking.
    nightly_prices = models.JSONField(default=list, blank=True)
    # What the money says, as the payments app last reported it through
    # reservations.services.booking_money_changed (never incremented here).
    amount_paid = models.PositiveIntegerField(default=0)
    balance_due = models.PositiveIntegerField()
    # Shillings asked for by payments not settled yet: a hold with money on its way
    # does not expire, and a guest cannot cancel it from under the payment.
    amount_in_flight = models.PositiveIntegerField(default=0)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    booking_date = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    cancel_kind = models.CharField(max_length=20, choices=CancelKind.choices, blank=True)
    # When the worker wrote the booking's "created" audit entry and sent its notifications
    # (reservations.services.bookings_follow_up_created); NULL until then.
    created_followed_up_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-booking_date", "-id"]
        indexes = [
            models.Index(fields=["property", "check_in", "check_out"], name="booking_property_dates"),
            models.Index(fields=["status", "hold_expires_at"], name="booking_status_hold"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(check_out__gt=F("check_in")), name="booking_check_out_after_check_in"),
            models.CheckConstraint(condition=Q(nights__gte=1), name="booking_at_least_one_night"),
            models.CheckConstraint(condition=Q(party_size__gte=1), name="booking_party_size_positive"),
            models.CheckConstraint(condition=Q(total_price__gte=1), name="booking_total_positive"),
        ]

    def __str__(self) -> str:
        return self.reference

    # Methods, not properties: the `property` field shadows the builtin in this class body.
    def nightly_price_list(self) -> list[dict]:
        """nightly_prices; for a row written without them (tests' and demo rows written
        directly), each night at price_per_night, which is how such rows were priced."""
        if self.nightly_prices:
            return self.nightly_prices
        return [
            {"date": (self.check_in + dt.timedelta(days=n)).isoformat(), "price": self.price_per_night}
            for n in range(self.nights)
        ]

    def price_lines(self) -> list[tuple[int, int, int]]:
        """(price, nights, amount) for each nightly price of the stay (listings.pricing.price_lines)."""
        return price_lines(night["price"] for night in self.nightly_price_list())

    def discount(self) -> int:
        """The length-of-stay discount: the nights' prices less the total."""
        return max(sum(night["price"] for night in self.nightly_price_list()) - self.total_price, 0)


class BookingGuest(models.Model):
    """Someone staying. The primary guest is the user who booked; co-guests are named.

    A co-guest gets `user` (and so sees the booking and may pay toward it) only by accepting
    the invitation emailed to the address the booker typed (reservations.invitations): a
    matching email or phone never links, since anyone can type anyone's address.
    """

    class Invitation(models.TextChoices):
        NONE = "none", _("Not invited")
        INVITED = "invited", _("Invited")
        ACCEPTED = "accepted", _("Accepted")

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="guests")
    name = models.CharField(max_length=150)
    email = models.EmailField(blank=True)
    phone_number = models.CharField(max_length=16, blank=True, help_text="E.164, e.g. +254712345678")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="booking_guests"
    )
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the booker asked for an invitation to `email` (null: never invited).
    invited_at = models.DateTimeField(null=True, blank=True)
    # SHA-256 (hex) of the secret in the emailed link; the secret itself is never stored.
    # Empty while the email is still to be sent, and again once the invitation is accepted.
    invitation_token_hash = models.CharField(max_length=64, blank=True, default="")
    invitation_expires_at = models.DateTimeField(null=True, blank=True)
    invitation_accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(fields=["booking"], condition=Q(is_primary=True), name="booking_one_primary_guest"),
            models.UniqueConstraint(
                fields=["booking", "user"], condition=Q(user__isnull=False), name="booking_guest_user_once"
            ),
            models.UniqueConstraint(
                fields=["invitation_token_hash"],
                condition=~Q(invitation_token_hash=""),
                name="booking_guest_invitation_token_once",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def invitation(self) -> str:
        """docs/api.md's "invitation": "accepted" once a co-guest is linked, "invited" while a link is out."""
        if self.is_primary:
            return self.Invitation.NONE
        if self.user_id is not None:
            return self.Invitation.ACCEPTED
        return self.Invitation.INVITED if self.invited_at else self.Invitation.NONE


class CalendarCollision(models.Model):
    """A night blocked by a calendar imported from another site that a booking here already holds.

    The imported block is kept (the other site sold those nights); this row shows the clash
    to the owner and staff (dashboard panel) and makes the email about it go once
    (reservations.calendar_sync). It stays while the block and the booking exist; the panel
    lists it only while the booking is active and the dates still overlap.
    """

    blocked_period = models.ForeignKey(
        "listings.BlockedPeriod", on_delete=models.CASCADE, related_name="booking_collisions"
    )
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="calendar_collisions")
    detected_at = models.DateTimeField(auto_now_add=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["blocked_period", "booking"], name="calendar_collision_once"),
        ]

    def __str__(self) -> str:
        return f"Calendar collision {self.blocked_period_id} / {self.booking_id}"
