from django.conf import settings
from django.db import models
from django.db.models import Q


class Payment(models.Model):
    """One STK push (kind=PAYMENT) or one refund recorded by staff (kind=REFUND).

    amount is what we asked for; received_amount is what Daraja's callback says was
    paid. A booking's amount_paid is derived from these rows:
    sum(received_amount of successful payments) - sum(amount of refunds).
    """

    class Kind(models.TextChoices):
        PAYMENT = "PAYMENT", "Payment"
        REFUND = "REFUND", "Refund"

    class Status(models.TextChoices):
        QUEUED = "QUEUED", "Queued"  # created, STK push not sent yet
        PENDING = "PENDING", "Pending"  # prompt sent, waiting for the customer / Daraja
        SUCCESS = "SUCCESS", "Paid"
        FAILED = "FAILED", "Failed"

    booking = models.ForeignKey("reservations.Booking", on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PAYMENT, db_index=True)
    amount = models.PositiveIntegerField()
    phone_number = models.CharField(max_length=12, blank=True, help_text="2547XXXXXXXX / 2541XXXXXXXX")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED, db_index=True)
    initiated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="payments_initiated"
    )

    merchant_request_id = models.CharField(max_length=64, blank=True)
    checkout_request_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    mpesa_receipt_number = models.CharField(max_length=32, null=True, blank=True, unique=True)
    # Daraja sends ResultCode as a number in callbacks and a string in queries,
    # and not always numeric (SFC_IC0003): kept as text.
    result_code = models.CharField(max_length=32, null=True, blank=True)
    result_desc = models.CharField(max_length=255, blank=True)
    failure_reason = models.CharField(max_length=255, blank=True)
    raw_callback = models.JSONField(null=True, blank=True)

    received_amount = models.PositiveIntegerField(null=True, blank=True)
    received_phone = models.CharField(max_length=16, blank=True)
    transaction_date = models.DateTimeField(null=True, blank=True)

    # Reconciliation with the STK query API.
    sent_at = models.DateTimeField(null=True, blank=True)
    next_query_at = models.DateTimeField(null=True, blank=True, db_index=True)
    query_attempts = models.PositiveSmallIntegerField(default=0)
    last_query_result = models.JSONField(null=True, blank=True)

    # Staff review.
    flagged = models.BooleanField(default=False, db_index=True)
    flag_reason = models.CharField(max_length=255, blank=True)
    flag_resolved_at = models.DateTimeField(null=True, blank=True)
    flag_resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    flag_resolution_note = models.TextField(blank=True)
    needs_refund = models.BooleanField(default=False, db_index=True)
    refund_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    refund_reference = models.CharField(max_length=64, blank=True, help_text="M-Pesa reference of the refund")
    note = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_query_at"], name="payment_status_next_query"),
            models.Index(fields=["phone_number", "status"], name="payment_phone_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=1), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(kind="PAYMENT") | Q(refund_of__isnull=False) | Q(note__gt=""),
                name="refund_has_source_or_note",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} KES for {self.booking_id} ({self.status})"

    @property
    def in_flight(self) -> bool:
        return self.kind == self.Kind.PAYMENT and self.status in (self.Status.QUEUED, self.Status.PENDING)


class CallbackRecord(models.Model):
    """The callback ledger: every well-formed callback Daraja posted, stored as it came
    before the 200 goes back, then applied in a separate step (mpesa.settle.callback_apply).

    One row per distinct callback; a repeat (same CheckoutRequestID, result and receipt)
    only counts another delivery. `state` says what applying it did; a success that
    matched no payment stays UNMATCHED on the staff queue until staff attach it to a
    booking or mark it for refund (docs/daraja.md, docs/booking-rules.md).
    """

    class Kind(models.TextChoices):
        STK = "STK", "STK push result"

    class State(models.TextChoices):
        NEW = "NEW", "Stored, not applied yet"
        APPLIED = "APPLIED", "Applied to its payment"
        UNMATCHED = "UNMATCHED", "Unmatched M-Pesa payment"
        IGNORED = "IGNORED", "Nothing to apply"
        ATTACHED = "ATTACHED", "Attached to a booking by staff"
        REFUND_MARKED = "REFUND_MARKED", "Marked for refund by staff"

    OPEN_STATES = (State.UNMATCHED,)

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.STK)
    # What makes a repeat a repeat: kind, CheckoutRequestID, result code and receipt.
    dedupe_key = models.CharField(max_length=160, unique=True)
    raw_body = models.TextField(help_text="The body exactly as Daraja posted it")
    checkout_request_id = models.CharField(max_length=64, db_index=True)
    merchant_request_id = models.CharField(max_length=64, blank=True)
    result_code = models.CharField(max_length=32)
    result_desc = models.CharField(max_length=255, blank=True)
    receipt = models.CharField(max_length=32, null=True, blank=True)
    amount = models.PositiveIntegerField(null=True, blank=True)
    phone_number = models.CharField(max_length=16, blank=True)
    transaction_date = models.DateTimeField(null=True, blank=True)
    deliveries = models.PositiveIntegerField(default=1)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_received_at = models.DateTimeField(auto_now_add=True)

    state = models.CharField(max_length=16, choices=State.choices, default=State.NEW, db_index=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="callback_records"
    )
    outcome_note = models.CharField(max_length=255, blank=True, help_text="What applying it did, or why not")

    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "M-Pesa callback"
        verbose_name_plural = "M-Pesa callbacks"
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="APPLIED") | Q(payment__isnull=False), name="applied_callback_has_payment"
            ),
            models.CheckConstraint(
                condition=~Q(state="UNMATCHED") | (Q(result_code="0") & Q(amount__isnull=False)),
                name="unmatched_callback_is_a_success",
            ),
        ]

    def __str__(self) -> str:
        what = f"KES {self.amount:,} receipt {self.receipt}" if self.is_success else f"result {self.result_code}"
        return f"Callback {self.checkout_request_id}: {what} ({self.get_state_display()})"

    @property
    def is_success(self) -> bool:
        return self.result_code == "0"
