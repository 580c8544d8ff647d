"""The "Analytics" report (Reports menu): occupancy, revenue, average nightly rate, bookings
and cancellations per month and per listing, as charts with their tables, CSV and XLSX.

Owner-scoped like every back-office screen: the listings come from
reservations.permissions.properties_visible_to (staff: all; an owner: their own), and a
listing outside that scope named in the filter is a 404. The figures are computed by
mpesa.analytics and reservations.analytics; docs/reports.md defines each one.

Charts are drawn by Chart.js, served from our own static files and loaded on this page only;
the figures reach it through json_script (a JSON data block, never interpolated into code).
"""

import re

import django_filters
from django import forms
from django.http import Http404, HttpResponseBadRequest
from django.utils.functional import cached_property
from wagtail.admin.views.reports import ReportView

from core.exports import LOCAL_DATETIME_PREPROCESS
from core.filters import AdminFilterSet
from listings.models import PropertyPage
from mpesa.analytics import Analytics, Figures, analytics_for
from mpesa.permissions import payment_permission_policy
from reservations.analytics import MAX_MONTHS, Month, default_months, months_between
from reservations.permissions import booking_permission_policy, properties_visible_to

FIGURE_COLUMNS = {
    "nights_live": "Nights listed",
    "nights_blocked": "Nights blocked",
    "nights_available": "Nights available",
    "nights_sold": "Nights sold",
    "occupancy_percent": "Occupancy (%)",
    "received": "Received (KES)",
    "refunded": "Refunded (KES)",
    "revenue": "Revenue (KES)",
    "stay_value": "Stay value (KES)",
    "average_nightly_rate": "Average nightly rate (KES)",
    "bookings": "Bookings",
    "cancellations": "Cancellations",
}
TABLES = {
    "months": ["month"],
    "properties": ["property", "property_id"],
    "detail": ["month", "property", "property_id"],
}
LEAD_HEADINGS = {"month": "Month", "property": "Property", "property_id": "Property id"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MONTH_PATTERN = re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})")


def _plain_text(value):
    """A listing title opened in a spreadsheet stays text, never a formula (titles are owners' input)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _keep(queryset, name, value):
    return queryset  # the figures are not a queryset: the view reads the cleaned values itself


class MonthField(forms.CharField):
    """A calendar month typed or picked as YYYY-MM (the value of an <input type="month">)."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        match = MONTH_PATTERN.fullmatch(value.strip())
        if not match or not 1 <= int(match["month"]) <= 12:
            raise forms.ValidationError("Enter a month as YYYY-MM, e.g. 2026-11.", code="invalid")
        if not 2000 <= int(match["year"]) <= 2099:
            raise forms.ValidationError("Pick a month between 2000-01 and 2099-12.", code="out_of_range")
        return Month(int(match["year"]), int(match["month"]))


class MonthFilter(django_filters.Filter):
    field_class = MonthField


class AnalyticsFilterSet(AdminFilterSet):
    month_from = MonthFilter(label="From month", method=_keep)
    month_to = MonthFilter(label="To month", method=_keep)
    property = django_filters.ModelChoiceFilter(
        label="Property",
        method=_keep,
        empty_label="All properties",
        queryset=lambda request: properties_visible_to(request.user).order_by("title"),
    )

    class Meta:
        model = PropertyPage
        fields = []


class AnalyticsReportView(ReportView):
    page_title = "Analytics"
    header_icon = "table"
    template_name = "backoffice/analytics.html"
    results_template_name = "backoffice/analytics_results.html"
    index_url_name = "nexus_analytics_report"
    index_results_url_name = "nexus_analytics_report_results"
    filterset_class = AnalyticsFilterSet
    permission_required = "view"
    model = PropertyPage
    paginate_by = 50
    # No timestamps today; any added later follows every export's rules (Nairobi, with offset).
    custom_value_preprocess = LOCAL_DATETIME_PREPROCESS
    # XLSX cells already keep formula-like text as text (Wagtail); a CSV cell needs the quote.
    custom_field_preprocess = {"property": {ReportView.FORMAT_CSV: _plain_text}}

    @property
    def permission_policy(self):
        return payment_permission_policy

    @staticmethod
    def user_may_see(user) -> bool:
        # The figures mix bookings and payments: both must be visible to the user.
        return payment_permission_policy.user_has_permission(
            user, "view"
        ) and booking_permission_policy.user_has_permission(user, "view")

    def user_has_permission(self, permission):
        return permission == "view" and self.user_may_see(self.request.user)

    # -- what the filter asks for ----------------------------------------------------------

    @cached_property
    def table_name(self) -> str:
        name = self.request.GET.get("table", "months")
        return name if name in TABLES else "months"

    @cached_property
    def list_export(self):
        return TABLES[self.table_name] + list(FIGURE_COLUMNS)

    @cached_property
    def export_headings(self):
        return {**LEAD_HEADINGS, **FIGURE_COLUMNS}

    @cached_property
    def selection(self) -> tuple[list[Month], object] | None:
        """(months, listings queryset), or None when the filter is invalid (its form says why)."""
        filters = self.filters
        if not filters.is_valid():
            if self.request.GET.get("property") and "property" in filters.form.errors:
                raise Http404  # another owner's listing, or none: as if it did not exist
            return None
        data = filters.form.cleaned_data
        first, last = data.get("month_from"), data.get("month_to")
        if first is None and last is None:
            first, last = default_months()
        elif last is None:
            last = first.shift(11)
        elif first is None:
            first = last.shift(-11)
        months = months_between(first, last)
        if not months:
            filters.form.add_error("month_to", "The last month must not be before the first.")
            return None
        if len(months) > MAX_MONTHS:
            filters.form.add_error("month_to", f"Pick at most {MAX_MONTHS} months.")
            return None
        properties = properties_visible_to(self.request.user)
        if data.get("property") is not None:
            properties = properties.filter(pk=data["property"].pk)
        return months, properties

    @cached_property
    def analytics(self) -> Analytics | None:
        if self.selection is None:
            return None
        months, properties = self.selection
        return analytics_for(properties=properties, months=months)

    # -- ReportView ----------------------------------------------------------------------------

    def get_queryset(self):
        # The per-listing rows (paginated on the page); the monthly tables come from the context.
        return self.analytics.properties if self.analytics else []

    def get_filtered_queryset(self):
        return self.get_queryset()

    def get_filename(self):
        months = self.selection[0] if self.selection else []
        span = f"-{months[0].label}-{months[-1].label}" if months else ""
        return f"analytics-{self.table_name}{span}"

    def render_to_response(self, context, **response_kwargs):
        if self.is_export:
            if self.analytics is None:
                return HttpResponseBadRequest(
                    "The filter is not valid (months as YYYY-MM, at most 36).", content_type="text/plain; charset=utf-8"
                )
            return self.as_spreadsheet(self.export_rows(), self.request.GET.get("export"))
        return super().render_to_response(context, **response_kwargs)

    def export_rows(self) -> list[dict]:
        analytics = self.analytics
        if self.table_name == "months":
            return [{"month": row.label, **_figures(row.figures)} for row in analytics.months]
        if self.table_name == "properties":
            return [
                {"property": row.title, "property_id": row.pk, **_figures(row.figures)} for row in analytics.properties
            ]
        return [
            {"month": month_row.label, "property": row.title, "property_id": row.pk, **_figures(row.months[index])}
            for index, month_row in enumerate(analytics.months)
            for row in analytics.properties
        ]

    def export_url(self, table: str, export_format: str) -> str:
        params = self.request.GET.copy()
        params.pop(self.page_kwarg, None)
        params.pop("_w_filter_fragment", None)
        params["table"], params["export"] = table, export_format
        return f"{self.index_url}?{params.urlencode()}"

    def get_context_data(self, *args, **kwargs):
        context = super().get_context_data(*args, **kwargs)
        analytics = self.analytics
        context["analytics"] = analytics
        if analytics is not None and analytics.months:
            months = [row.month for row in analytics.months]
            context["range_label"] = f"{months[0].start:%b %Y} to {months[-1].start:%b %Y}"
            context["chart_data"] = _chart_data(analytics)
        context["filter_errors"] = (
            [error for errors in self.filters.form.errors.values() for error in errors] if analytics is None else []
        )
        context["exports"] = {
            table: {fmt: self.export_url(table, fmt) for fmt in self.FORMATS} for table in TABLES
        }
        return context


def _figures(figures: Figures) -> dict:
    return {name: getattr(figures, name) for name in FIGURE_COLUMNS}


def _chart_data(analytics: Analytics) -> dict:
    """What the charts draw: the same figures as the tables below them, month by month."""
    rows = analytics.months
    occupancy = [row.figures.occupancy_percent for row in rows]
    return {
        "labels": [f"{row.month.start:%b %Y}" for row in rows],
        "occupancy": [None if percent is None else float(percent) for percent in occupancy],
        "revenue": [row.figures.revenue for row in rows],
        "bookings": [row.figures.bookings for row in rows],
        "cancellations": [row.figures.cancellations for row in rows],
    }
