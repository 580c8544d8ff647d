from django.db import models


class SimulatedStkPush(models.Model):
    """An STK prompt as the simulator's "virtual phone" shows it."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the customer"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled by user"
        WRONG_PIN = "wrong_pin", "Wrong PIN"
        INSUFFICIENT = "insufficient", "Insufficient balance"
        TIMEOUT = "timeout", "No response from user"

    merchant_request_id = models.CharField(max_length=64, unique=True)
    checkout_request_id = models.CharField(max_length=64, unique=True)
    shortcode = models.CharField(max_length=12)
    phone_number = models.CharField(max_length=12, db_index=True)
    amount = models.PositiveIntegerField()
    account_reference = models.CharField(max_length=12)
    transaction_desc = models.CharField(max_length=13)
    callback_url = models.URLField(max_length=500)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING, db_index=True)
    result_code = models.CharField(max_length=16, blank=True)
    result_desc = models.CharField(max_length=255, blank=True)
    receipt_number = models.CharField(max_length=16, blank=True)
    paid_amount = models.PositiveIntegerField(null=True, blank=True)
    # Daraja quirks the tests ask for: callbacks lost or sent twice, queries that stay pending.
    callback_mode = models.CharField(max_length=12, default="once")  # once | twice | never
    query_mode = models.CharField(max_length=12, default="normal")  # normal | pending_500 | pending_4999 | error_503
    callbacks_sent = models.PositiveSmallIntegerField(default=0)
    last_callback_status = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Set when a Reversal of this payment's receipt went through.
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversal_transaction_id = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.checkout_request_id} {self.phone_number} {self.amount} {self.state}"


class SimulatorDirective(models.Model):
    """A one-shot instruction for the next STK push to a phone (set by tests or the demo page)."""

    phone_number = models.CharField(max_length=12, db_index=True)
    push_response = models.CharField(max_length=24, default="accept")  # accept | error_500 | error_400 | timeout | html
    auto_action = models.CharField(max_length=12, blank=True)  # "", pay, cancel, wrong_pin, insufficient, timeout
    paid_amount = models.PositiveIntegerField(null=True, blank=True)
    callback_mode = models.CharField(max_length=12, default="once")
    query_mode = models.CharField(max_length=12, default="normal")
    created_at = models.DateTimeField(auto_now_add=True)


class SimulatedSms(models.Model):
    """An SMS as the virtual phone shows it (SMS_BACKEND=simulator: mpesa.simulator.sms)."""

    phone_number = models.CharField(max_length=12, db_index=True)  # 2547XXXXXXXX, like the STK prompts
    message = models.TextField()
    sender = models.CharField(max_length=11, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.phone_number} {self.message[:40]}"


class SimulatedTransfer(models.Model):
    """A B2C, B2B, Reversal or Transaction Status request the simulator accepted, with the
    result it decided on and how that result is (to be) delivered."""

    class Kind(models.TextChoices):
        B2C = "b2c", "B2C payment"
        B2B = "b2b", "B2B payment"
        REVERSAL = "reversal", "Reversal"
        STATUS = "status", "Transaction Status query"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    originator_conversation_id = models.CharField(max_length=100, unique=True)
    conversation_id = models.CharField(max_length=100, unique=True)
    # Who the money went to: a phone (B2C; Reversal: the phone that paid) or a business number.
    party = models.CharField(max_length=20, db_index=True, blank=True)
    command_id = models.CharField(max_length=32)
    amount = models.PositiveIntegerField(default=0)
    initiator = models.CharField(max_length=100, blank=True)
    credential_valid = models.BooleanField(default=False)
    account_reference = models.CharField(max_length=100, blank=True)
    remarks = models.CharField(max_length=255, blank=True)
    occasion = models.CharField(max_length=255, blank=True)
    result_url = models.URLField(max_length=500)
    timeout_url = models.URLField(max_length=500, blank=True)
    # The M-Pesa id this transaction got when it went through.
    transaction_id = models.CharField(max_length=32, blank=True, db_index=True)
    # Reversal: the receipt reversed. Status: the TransactionID or conversation id asked about.
    original_transaction_id = models.CharField(max_length=100, blank=True, db_index=True)
    # Status: the transfer it answered about, if the simulator knows it.
    queried = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="queries")
    result_code = models.CharField(max_length=16)
    result_desc = models.CharField(max_length=255)
    result_body = models.JSONField()
    delivery = models.CharField(max_length=8, default="once")  # once | twice | never | timeout
    results_sent = models.PositiveSmallIntegerField(default=0)
    timeouts_sent = models.PositiveSmallIntegerField(default=0)
    last_delivery_status = models.CharField(max_length=64, blank=True)
    request_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.originator_conversation_id} {self.party} {self.amount} {self.result_code}"

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0"


class SimulatorTransferDirective(models.Model):
    """A one-shot instruction for the next B2C / B2B / Reversal / Status request to a party."""

    party = models.CharField(max_length=20, db_index=True)
    response = models.CharField(max_length=12, default="accept")  # accept | error_500 | error_400 | timeout | html
    result = models.CharField(max_length=16, default="success")  # success | failure | a Daraja result code
    delivery = models.CharField(max_length=8, default="once")  # once | twice | never | timeout
    created_at = models.DateTimeField(auto_now_add=True)
