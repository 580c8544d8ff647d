import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from core.models import AuditEntry

_batch = threading.local()


def audit_record(
    *,
    obj: models.Model,
    action: str,
    actor=None,
    summary: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    at=None,
) -> AuditEntry:
    """Append an audit entry for `obj`. Call inside the transaction that made the change.

    `at`: when the change happened, for an entry written after the fact (default: now).

    Inside `audit_batch()` the entry is written when the batch ends (its pk is None until then).
    """
    entry = AuditEntry(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        summary=summary[:255],
        before=before or {},
        after=after or {},
        data=data or {},
    )
    if at is not None:
        entry.created_at = at
    pending = getattr(_batch, "entries", None)
    if pending is not None:
        pending.append(entry)
    else:
        entry.save(force_insert=True)
    return entry


@contextmanager
def audit_batch() -> Iterator[None]:
    """Write the audit entries recorded in this block with one INSERT when it ends.

    For hot paths that record several entries (a callback: the payment and its booking).
    Use it inside the transaction; an exception drops the entries with the rollback.
    Nested batches add to the outer one.
    """
    if getattr(_batch, "entries", None) is not None:
        yield
        return
    _batch.entries = []
    try:
        yield
        entries = _batch.entries
    finally:
        _batch.entries = None
    if entries:
        AuditEntry.objects.bulk_create(entries)
