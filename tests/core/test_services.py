import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.models import AuditEntry
from core.services import audit_batch, audit_record
from tests.factories import make_booking

pytestmark = pytest.mark.django_db


def test_audit_record_writes_at_once_outside_a_batch():
    booking = make_booking()
    entry = audit_record(obj=booking, action="booking.test", summary="x" * 300)
    assert entry.pk is not None
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (stored.action, stored.object_id, len(stored.summary)) == ("booking.test", str(booking.pk), 255)


def test_a_batch_writes_its_entries_in_one_insert_in_order():
    booking = make_booking()
    ContentType.objects.get_for_model(booking)  # cached from here on, as in a running server
    with CaptureQueriesContext(connection) as queries:
        with audit_batch():
            audit_record(obj=booking, action="first", after={"n": 1})
            with audit_batch():  # nested: joins the outer batch
                audit_record(obj=booking, action="second", after={"n": 2})
            assert len(queries) == 0  # nothing written yet
    assert len(queries) == 1 and queries[0]["sql"].startswith("INSERT")
    actions = list(AuditEntry.objects.filter(object_id=str(booking.pk)).order_by("pk").values_list("action", "after"))
    assert actions == [("first", {"n": 1}), ("second", {"n": 2})]


def test_an_exception_drops_the_batch_with_the_transaction():
    booking = make_booking()

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic(), audit_batch():
        audit_record(obj=booking, action="never")
        raise Abort
    assert not AuditEntry.objects.filter(action="never").exists()
    audit_record(obj=booking, action="after")  # the batch is closed: writes at once again
    assert AuditEntry.objects.filter(action="after").count() == 1
