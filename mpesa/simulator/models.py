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
