"""Bookings report (Wagtail ReportView): filterable by booking date and check-in, CSV and XLSX.

Rows come from the permission policy, so an owner's report and export hold only
their own properties' bookings.
"""

import django_filters
from django import forms
from django.utils import timezone
from wagtail.admin.filters import DateRangePickerWidget
from wagtail.admin.ui.tables import TitleColumn
from wagtail.admin.views.reports import ReportView

from core.exports import EXPORT_VALUE_PREPROCESS
from core.filters import AdminFilterSet
from reservations.admin_views import booking_columns
from reservations.models import Booking
from reservations.permissions import booking_permission_policy, properties_visible_to


class BookingsReportFilterSet(AdminFilterSet):
    booking_date = django_filters.DateFromToRangeFilter(label="Booked on", widget=DateRangePickerWidget)
    check_in = django_filters.DateFromToRangeFilter(label="Check-in", widget=DateRangePickerWidget)
    status = django_filters.ChoiceFilter(
        label="Status", choices=Booking.Status.choices, empty_label="All", widget=forms.RadioSelect
    )
    property = django_filters.ModelChoiceFilter(
        label="Property",
        field_name="property",
        empty_label="All properties",
        queryset=lambda request: properties_visible_to(request.user).order_by("title"),
    )

    class Meta:
        model = Booking
        fields = ["booking_date", "check_in", "status", "property"]


class BookingsReportView(ReportView):
    page_title = "Bookings report"
    header_icon = "calendar-alt"
    index_url_name = "nexus_bookings_report"
    index_results_url_name = "nexus_bookings_report_results"
    filterset_class = BookingsReportFilterSet
    permission_required = "view"
    model = Booking
    list_export = [
        "reference",
        "booking_date",
        "property.title",
        "primary_guest.name",
        "primary_guest.email",
        "status",
        "check_in",
        "check_out",
        "nights",
        "party_size",
        "price_per_night",
        "total_price",
        "amount_paid",
        "balance_due",
        "canceled_at",
        "cancel_reason",
    ]
    export_headings = {
        "booking_date": "Booked (Nairobi)",
        "property.title": "Property",
        "primary_guest.name": "Primary guest",
        "primary_guest.email": "Guest email",
        "price_per_night": "Price per night (KES)",
        "total_price": "Total (KES)",
        "amount_paid": "Paid (KES)",
        "balance_due": "Balance (KES)",
        "canceled_at": "Cancelled (Nairobi)",
    }
    custom_value_preprocess = EXPORT_VALUE_PREPROCESS

    @property
    def permission_policy(self):
        return booking_permission_policy

    def get_filename(self):
        return f"bookings-{timezone.localdate():%Y-%m-%d}"

    @property
    def columns(self):
        return booking_columns(
            title_column=TitleColumn(
                "reference",
                label="Reference",
                url_name="wagtailsnippets_reservations_booking:inspect",
                classname="w-whitespace-nowrap",
            )
        )

    def get_queryset(self):
        self.queryset = (
            booking_permission_policy.instances_user_has_permission_for(self.request.user, "view")
            .select_related("property", "primary_guest")
            .order_by("-booking_date", "-id")
        )
        return super().get_queryset()
