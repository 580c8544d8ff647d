from django.contrib.contenttypes.models import ContentType
from django.db import models

from core.models import AuditEntry


def audit_list_for_object(obj: models.Model):
    content_type = ContentType.objects.get_for_model(obj, for_concrete_model=False)
    return AuditEntry.objects.filter(content_type=content_type, object_id=str(obj.pk)).select_related("actor")
