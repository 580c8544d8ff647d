"""core.exports: the value rules every back-office export shares."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from wagtail.admin.views.reports import ReportView

from core.exports import EXPORT_VALUE_PREPROCESS, export_datetime

FORMATS = [ReportView.FORMAT_CSV, ReportView.FORMAT_XLSX]


def preprocess(value, export_format):
    return ReportView(custom_value_preprocess=EXPORT_VALUE_PREPROCESS).preprocess_field_value(
        "field", value, export_format
    )


@pytest.mark.parametrize("export_format", FORMATS)
def test_datetimes_are_nairobi_time_with_the_offset_in_both_formats(settings, export_format):
    settings.TIME_ZONE = "Africa/Nairobi"
    moment = dt.datetime(2031, 3, 1, 21, 30, 5, 123456, tzinfo=ZoneInfo("UTC"))
    assert preprocess(moment, export_format) == "2031-03-02T00:30:05+03:00"


def test_the_active_time_zone_does_not_change_an_export(settings):
    from django.utils import timezone

    settings.TIME_ZONE = "Africa/Nairobi"
    moment = dt.datetime(2026, 12, 10, 11, 5, tzinfo=ZoneInfo("UTC"))
    with timezone.override(ZoneInfo("Europe/London")):
        assert export_datetime(moment) == "2026-12-10T14:05:00+03:00"


def test_a_naive_datetime_is_taken_as_nairobi_time(settings):
    settings.TIME_ZONE = "Africa/Nairobi"
    assert export_datetime(dt.datetime(2026, 12, 10, 14, 5)) == "2026-12-10T14:05:00+03:00"


@pytest.mark.parametrize("export_format", FORMATS)
def test_dates_stay_plain_iso_dates(export_format):
    assert preprocess(dt.date(2026, 12, 10), export_format) == "2026-12-10"


@pytest.mark.parametrize("export_format", FORMATS)
def test_lists_are_joined_with_commas_in_both_formats(export_format):
    assert preprocess(["Wi-Fi", 2], export_format) == "Wi-Fi, 2"


def test_amounts_stay_integers_in_xlsx():
    assert preprocess(10800, ReportView.FORMAT_XLSX) == 10800
