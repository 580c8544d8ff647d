from django.conf import settings
from django.db import models
from django.db.models import F, Q


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
        RESULT = "RESULT", "B2C / B2B / Reversal / Transaction Status result"
        TIMEOUT = "TIMEOUT", "Queue timeout (outcome unknown)"

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
    # STK: the CheckoutRequestID. RESULT / TIMEOUT: blank (they are matched by conversation ids).
    checkout_request_id = models.CharField(max_length=64, db_index=True, blank=True)
    merchant_request_id = models.CharField(max_length=64, blank=True)
    # RESULT / TIMEOUT only: Daraja's ids of the request this result answers.
    conversation_id = models.CharField(max_length=100, blank=True, db_index=True)
    originator_conversation_id = models.CharField(max_length=100, blank=True, db_index=True)
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
    # RESULT / TIMEOUT rows are applied to the money going out they answer.
    refund = models.ForeignKey(
        "mpesa.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="callback_records"
    )
    payout = models.ForeignKey(
        "mpesa.Payout", null=True, blank=True, on_delete=models.PROTECT, related_name="callback_records"
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
                condition=~Q(state="APPLIED")
                | Q(payment__isnull=False)
                | Q(refund__isnull=False)
                | Q(payout__isnull=False),
                name="applied_callback_has_target",
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


class OutgoingTransfer(models.Model):
    """Money Nexus sends out through Daraja (a refund to a guest, a payout to an owner).

    One row is one request to Daraja, sent at most once: `originator_conversation_id` is
    made when the row is, is this request's idempotency key, and a row leaves QUEUED (with
    sent_at set) in the transaction before the HTTP call, so nothing ever sends it again.
    Sending the same money again after a failure is a new row (`retry_of`), which staff
    decide. The outcome comes from Daraja's result callback (the callback ledger,
    CallbackRecord kind RESULT/TIMEOUT, applied by mpesa.transfers.transfer_apply_result)
    or, when no result came, from a Transaction Status query (mpesa.transfers).
    """

    amount = models.PositiveIntegerField()
    originator_conversation_id = models.CharField(max_length=64, unique=True, editable=False)
    conversation_id = models.CharField(max_length=100, blank=True, db_index=True)
    # What Daraja's answer called the request, when it named it otherwise than we did
    # (Reversal and Transaction Status make up their own OriginatorConversationID).
    daraja_originator_conversation_id = models.CharField(max_length=100, blank=True, db_index=True)
    # The last Transaction Status query's ids, so its result (which names the query, not
    # the original request) finds this row.
    query_conversation_id = models.CharField(max_length=100, blank=True, db_index=True)
    query_originator_conversation_id = models.CharField(max_length=100, blank=True, db_index=True)
    mpesa_transaction_id = models.CharField(max_length=32, null=True, blank=True, unique=True)
    result_code = models.CharField(max_length=32, null=True, blank=True)
    result_desc = models.CharField(max_length=255, blank=True)
    failure_reason = models.CharField(max_length=255, blank=True)
    raw_response = models.JSONField(null=True, blank=True, help_text="Daraja's synchronous answer")
    raw_result = models.JSONField(null=True, blank=True, help_text="The result that settled it")

    sent_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    next_query_at = models.DateTimeField(null=True, blank=True, db_index=True)
    query_attempts = models.PositiveSmallIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Refund(OutgoingTransfer):
    """Money going back to the phone that paid: a Reversal of the whole M-Pesa transaction,
    or a B2C BusinessPayment for part of one (docs/money-out.md)."""

    class Method(models.TextChoices):
        REVERSAL = "reversal", "Reversal"
        B2C = "b2c", "B2C payment"

    class Status(models.TextChoices):
        QUEUED = "QUEUED", "Queued"
        AWAITING_APPROVAL = "AWAITING_APPROVAL", "Awaiting a second staff approval"
        PENDING = "PENDING", "Sent, waiting for the result"
        SUCCESS = "SUCCESS", "Refunded"
        FAILED = "FAILED", "Failed"

    booking = models.ForeignKey("reservations.Booking", on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="daraja_refunds")
    method = models.CharField(max_length=8, choices=Method.choices)
    status = models.CharField(max_length=17, choices=Status.choices, default=Status.QUEUED, db_index=True)
    phone_number = models.CharField(max_length=12, help_text="2547XXXXXXXX / 2541XXXXXXXX: the phone that paid")
    reason = models.CharField(max_length=255, help_text="Why the money goes back")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="refunds_requested"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="refunds_approved"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    retry_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="retried_by"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=1), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | Q(requested_by__isnull=True) | ~Q(approved_by=F("requested_by")),
                name="refund_approved_by_someone_else",
            ),
        ]

    def __str__(self) -> str:
        return f"Refund KES {self.amount:,} to {self.phone_number} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status not in (self.Status.SUCCESS, self.Status.FAILED)


class Payout(OutgoingTransfer):
    """An owner's share of a stay: what the guest paid less refunds (`gross`) less the
    platform's commission, due PAYOUT_DELAY_HOURS after check-in (mpesa.payouts).

    At most one payout of a booking is open (a failed one retried is a new row); planning
    and release never make a second one once a payout succeeded (mpesa.payouts)."""

    class Method(models.TextChoices):
        B2C = "b2c", "B2C to an M-Pesa phone"
        PAYBILL = "paybill", "B2B to a paybill"
        TILL = "till", "B2B to a till"

    class Status(models.TextChoices):
        SCHEDULED = "SCHEDULED", "Scheduled"
        HELD = "HELD", "Held by staff"
        QUEUED = "QUEUED", "Queued"
        PENDING = "PENDING", "Sent, waiting for the result"
        SUCCESS = "SUCCESS", "Paid out"
        FAILED = "FAILED", "Failed"

    booking = models.ForeignKey("reservations.Booking", on_delete=models.PROTECT, related_name="payouts")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.SCHEDULED, db_index=True)
    # amount (inherited) = gross - commission, what the owner receives.
    gross = models.PositiveIntegerField(help_text="What the guest paid less refunds")
    commission = models.PositiveIntegerField()
    # The PLATFORM_COMMISSION_PERCENT this payout was figured with: the rate may change, and
    # the ledger check must judge each payout by its own.
    commission_percent = models.PositiveSmallIntegerField(default=10)
    method = models.CharField(max_length=8, choices=Method.choices, blank=True)
    phone_number = models.CharField(max_length=12, blank=True, help_text="B2C: 2547XXXXXXXX")
    business_number = models.CharField(max_length=10, blank=True, help_text="B2B: paybill or till")
    account_reference = models.CharField(max_length=20, blank=True)
    due_at = models.DateTimeField(db_index=True)
    held_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    held_at = models.DateTimeField(null=True, blank=True)
    hold_reason = models.CharField(max_length=255, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=255, blank=True, help_text="Why it is waiting, when it is")
    retry_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="retried_by"
    )

    class Meta:
        ordering = ["-due_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=1), name="payout_amount_positive"),
            models.CheckConstraint(condition=Q(gross=F("amount") + F("commission")), name="payout_gross_splits"),
            models.CheckConstraint(condition=Q(commission_percent__lte=100), name="payout_commission_percent_range"),
            # One payout of a booking on its way at a time. SUCCESS rows are not limited: if a
            # payout given up (and retried) turns out to have gone through after all, the
            # record must say so; check_ledger then reports the booking as paid out twice.
            models.UniqueConstraint(
                fields=["booking"],
                condition=Q(status__in=["SCHEDULED", "HELD", "QUEUED", "PENDING"]),
                name="payout_one_open_per_booking",
            ),
        ]

    def __str__(self) -> str:
        return f"Payout KES {self.amount:,} for {self.booking_id} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status not in (self.Status.SUCCESS, self.Status.FAILED)
