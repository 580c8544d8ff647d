"""Payments report (Wagtail ReportView): filterable by date, downloadable as CSV and XLSX.

Rows come from the permission policy, so an owner's report and export hold only
the payments of their own properties.
"""

import django_filters
from django import forms
from django.utils import timezone
from wagtail.admin.filters import DateRangePickerWidget
from wagtail.admin.ui.tables import TitleColumn
from wagtail.admin.views.reports import ReportView

from core.exports import EXPORT_VALUE_PREPROCESS
from core.filters import AdminFilterSet
from mpesa.admin_views import payment_columns, payment_title_text
from mpesa.models import Payment
from mpesa.permissions import payment_permission_policy
from reservations.permissions import properties_visible_to


class PaymentsReportFilterSet(AdminFilterSet):
    created_at = django_filters.DateFromToRangeFilter(label="Created", widget=DateRangePickerWidget)
    status = django_filters.ChoiceFilter(
        label="Status", choices=Payment.Status.choices, empty_label="All", widget=forms.RadioSelect
    )
    kind = django_filters.ChoiceFilter(
        label="Kind", choices=Payment.Kind.choices, empty_label="All", widget=forms.RadioSelect
    )
    property = django_filters.ModelChoiceFilter(
        label="Property",
        field_name="booking__property",
        empty_label="All properties",
        queryset=lambda request: properties_visible_to(request.user).order_by("title"),
    )

    class Meta:
        model = Payment
        fields = ["created_at", "status", "kind", "property"]


class PaymentsReportView(ReportView):
    page_title = "Payments report"
    header_icon = "list-ul"
    index_url_name = "nexus_payments_report"
    index_results_url_name = "nexus_payments_report_results"
    filterset_class = PaymentsReportFilterSet
    permission_required = "view"
    model = Payment
    list_export = [
        "id",
        "created_at",
        "kind",
        "status",
        "amount",
        "received_amount",
        "phone_number",
        "mpesa_receipt_number",
        "refund_reference",
        "booking.reference",
        "booking.property.title",
        "checkout_request_id",
        "result_code",
        "result_desc",
        "flagged",
        "needs_refund",
        "updated_at",
    ]
    export_headings = {
        "id": "Payment id",
        "created_at": "Created (Nairobi)",
        "updated_at": "Updated (Nairobi)",
        "amount": "Amount (KES)",
        "received_amount": "Received (KES)",
        "booking.reference": "Booking",
        "booking.property.title": "Property",
        "checkout_request_id": "CheckoutRequestID",
        "refund_reference": "Refund M-Pesa reference",
        "mpesa_receipt_number": "M-Pesa receipt",
        "phone_number": "Phone",
    }
    custom_value_preprocess = EXPORT_VALUE_PREPROCESS

    @property
    def permission_policy(self):
        return payment_permission_policy

    def get_filename(self):
        return f"payments-{timezone.localdate():%Y-%m-%d}"

    @property
    def columns(self):
        return payment_columns(
            title_column=TitleColumn(
                "id",
                label="Payment",
                accessor=payment_title_text,
                url_name="wagtailsnippets_mpesa_payment:inspect",
                classname="w-whitespace-nowrap",
            )
        )

    def get_queryset(self):
        self.queryset = (
            payment_permission_policy.instances_user_has_permission_for(self.request.user, "view")
            .select_related("booking__property")
            .order_by("-created_at", "-id")
        )
        return super().get_queryset()
