"""How back-office exports (CSV and XLSX downloads of reports and snippet lists) write values.

Every export goes through EXPORT_VALUE_PREPROCESS: the reports (Wagtail ReportView) set it
as their custom_value_preprocess and so does every snippet list (core.admin_views.ScopedIndexView).
Shared by every app, so no app imports another's report for it.

One text per value, whichever the file: a moment is Nairobi time with its offset
("2026-12-10T14:05:00+03:00"), the way M-Pesa statements and staff read the clock,
and unambiguous once the file leaves Kenya; a calendar date (check-in) is a plain ISO
date; amounts stay integers so a spreadsheet can add them up.
"""

import datetime as dt

from django.utils import timezone
from wagtail.admin.views.mixins import SpreadsheetExportMixin

CSV = SpreadsheetExportMixin.FORMAT_CSV
XLSX = SpreadsheetExportMixin.FORMAT_XLSX


def export_datetime(value: dt.datetime) -> str:
    """ISO 8601 in Africa/Nairobi (the site's TIME_ZONE) with the offset, to the second.

    A naive value is taken as already Nairobi time. The default time zone, not the
    active one: Wagtail may activate an admin user's own zone, and an export must read
    the same whoever downloads it.
    """
    zone = timezone.get_default_timezone()
    if timezone.is_naive(value):
        value = timezone.make_aware(value, zone)
    return timezone.localtime(value, zone).isoformat(timespec="seconds")


def export_date(value: dt.date) -> str:
    return value.isoformat()


def _join(values: list) -> str:
    return ", ".join(map(str, values))


# datetime before date: a datetime is also a date.
EXPORT_VALUE_PREPROCESS = {
    dt.datetime: {CSV: export_datetime, XLSX: export_datetime},
    dt.date: {CSV: export_date, XLSX: export_date},
    dt.time: {CSV: dt.time.isoformat, XLSX: dt.time.isoformat},
    list: {CSV: _join, XLSX: _join},
}

# The name the reports used before every export shared one formatter; kept so code
# written against it still gets the same rules.
LOCAL_DATETIME_PREPROCESS = EXPORT_VALUE_PREPROCESS


class ExportValuesMixin:
    """For any view with Wagtail's SpreadsheetExportMixin (ReportView, a generic IndexView)."""

    custom_value_preprocess = EXPORT_VALUE_PREPROCESS
