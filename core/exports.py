"""How back-office exports (Wagtail ReportView CSV and XLSX downloads) write values.

Shared by every app's report, so no app imports another's report for it.
"""

import datetime as dt

from django.utils import timezone
from wagtail.admin.views.reports import ReportView


def _local_naive(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value


# Exports show Nairobi wall-clock time (what staff and M-Pesa statements use),
# not Wagtail's default of UTC. Set as a ReportView's custom_value_preprocess.
LOCAL_DATETIME_PREPROCESS = {
    dt.datetime: {
        ReportView.FORMAT_XLSX: _local_naive,
        ReportView.FORMAT_CSV: lambda value: _local_naive(value).isoformat(sep=" ", timespec="seconds"),
    },
    (dt.date, dt.time): {ReportView.FORMAT_XLSX: None},
    list: {
        ReportView.FORMAT_CSV: lambda v: ", ".join(map(str, v)),
        ReportView.FORMAT_XLSX: lambda v: ", ".join(map(str, v)),
    },
}
