from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """Who changed what, from what to what, and the raw provider data behind it.

    Written by services on every state change of a booking or payment and by every
    staff action; never edited afterwards.
    """

    # A default rather than auto_now_add: an entry written after the fact (a booking's
    # "created" entry, written by the worker) carries the time the change happened.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64)
    # Indexed by (content_type, object_id) below, which also serves content_type alone.
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+", db_index=False)
    object_id = models.CharField(max_length=64)
    summary = models.CharField(max_length=255, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.summary}"


class IdempotencyRecord(models.Model):
    """The first response to a POST sent with an Idempotency-Key (docs/api.md), replayed for 24 h."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=128)
    # sha256 of method, path and the parsed body in canonical form: the same key with
    # another request is refused instead of replaying this one's answer. Blank on rows
    # written before the hash existed; those replay as before.
    request_hash = models.CharField(max_length=64, blank=True, default="")
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key", "scope"], name="idempotency_unique_key")]


class SentNotification(models.Model):
    """One row per notification event sent, so a repeated trigger (a duplicate Daraja
    callback, a retried task) never sends the same email twice."""

    key = models.CharField(max_length=200, unique=True)
    sent_at = models.DateTimeField(auto_now_add=True)


class RateCounter(models.Model):
    """Requests counted per throttle key in fixed windows: this window's count and the last one's.

    Written by core.throttling.rate_counter_hit in one statement per request. On PostgreSQL
    the table is UNLOGGED (migration 0004): a crash forgets the counts, which only lets a
    client start its window again.
    """

    key = models.CharField(max_length=255, primary_key=True)
    window_number = models.BigIntegerField(help_text="Unix time // the rate's duration")
    count = models.PositiveIntegerField()
    previous = models.PositiveIntegerField(help_text="Requests counted in window_number - 1")
    expires = models.BigIntegerField(help_text="Unix time after which the row says nothing")

    def __str__(self) -> str:
        return f"{self.key} window {self.window_number}: {self.count} (+{self.previous} before)"
