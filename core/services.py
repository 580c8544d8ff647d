from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from core.models import AuditEntry


def audit_record(
    *,
    obj: models.Model,
    action: str,
    actor=None,
    summary: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an audit entry for `obj`. Call inside the transaction that made the change."""
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        summary=summary[:255],
        before=before or {},
        after=after or {},
        data=data or {},
    )
