"""core.exports: the value rules every back-office export shares."""

import datetime as dt
from zoneinfo import ZoneInfo

from wagtail.admin.views.reports import ReportView

from core.exports import LOCAL_DATETIME_PREPROCESS


def test_datetimes_are_written_in_nairobi_wall_clock_time(settings):
    settings.TIME_ZONE = "Africa/Nairobi"
    moment = dt.datetime(2031, 3, 1, 21, 30, 5, tzinfo=ZoneInfo("UTC"))
    rules = LOCAL_DATETIME_PREPROCESS[dt.datetime]

    assert rules[ReportView.FORMAT_CSV](moment) == "2031-03-02 00:30:05"
    assert rules[ReportView.FORMAT_XLSX](moment) == dt.datetime(2031, 3, 2, 0, 30, 5)


def test_lists_are_joined_with_commas_in_both_formats():
    rules = LOCAL_DATETIME_PREPROCESS[list]
    assert rules[ReportView.FORMAT_CSV](["Wi-Fi", 2]) == "Wi-Fi, 2"
    assert rules[ReportView.FORMAT_XLSX](["Wi-Fi", 2]) == "Wi-Fi, 2"
