from django.urls import path, reverse
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.snippets.models import register_snippet

from core.admin_views import DashboardPanel, NoBulkActions, ScopedSnippetViewSet
from reservations import admin_views
from reservations.calendar_sync import calendar_collisions_for_user
from reservations.dashboard import arrivals_for_user
from reservations.models import Booking
from reservations.permissions import booking_permission_policy
from reservations.reports import BookingsReportView


class BookingViewSet(ScopedSnippetViewSet):
    model = Booking
    icon = "calendar-alt"
    menu_label = "Bookings"
    menu_name = "bookings"
    menu_order = 200
    index_view_class = admin_views.BookingIndexView
    inspect_view_class = admin_views.BookingInspectView
    filterset_class = admin_views.BookingFilterSet
    # Matched with icontains across the joins, plus phones typed any way (admin_views.BookingIndexView).
    search_fields = [
        "reference",
        "primary_guest__name",
        "primary_guest__email",
        "guests__name",
        "property__title",
        "payments__mpesa_receipt_number",
    ]
    ordering = "-booking_date"
    list_per_page = 50
    list_select_related = ("property", "primary_guest")
    list_export = BookingsReportView.list_export
    export_headings = BookingsReportView.export_headings
    export_filename = "bookings"

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("cancel/<int:pk>/", admin_views.BookingCancelView.as_view(), name="cancel"),
        ]


register_snippet(BookingViewSet)


class _PolicyMenuItem(MenuItem):
    def is_shown(self, request):
        return booking_permission_policy.user_has_permission(request.user, "view")


@hooks.register("register_admin_urls")
def register_booking_report_urls():
    return [
        path("reports/bookings/", BookingsReportView.as_view(), name="nexus_bookings_report"),
        path(
            "reports/bookings/results/",
            BookingsReportView.as_view(results_only=True),
            name="nexus_bookings_report_results",
        ),
    ]


@hooks.register("register_reports_menu_item")
def register_booking_report_menu_item():
    return _PolicyMenuItem("Bookings", reverse("nexus_bookings_report"), icon_name="calendar-alt", order=90)


class ArrivalsPanel(DashboardPanel):
    name = "nexus_arrivals"
    template_name = "backoffice/dashboard/arrivals.html"
    order = 50


@hooks.register("construct_homepage_panels")
def add_arrivals_panel(request, panels):
    board = arrivals_for_user(user=request.user)
    if board is not None:
        panels.append(ArrivalsPanel(board))


class NoBookingBulkActions(NoBulkActions):
    models = [Booking]


# order=1: after wagtail.snippets registers its bulk delete, so this replaces it.
hooks.register("register_bulk_action", NoBookingBulkActions, order=1)


# --- Calendar conflicts: imported blocks over nights a booking holds (reservations.calendar_sync) ---


class CalendarCollisionsPanel(DashboardPanel):
    name = "nexus_calendar_collisions"
    template_name = "backoffice/dashboard/calendar_collisions.html"
    order = 45  # above today's arrivals: a night sold twice needs acting on first


@hooks.register("construct_homepage_panels")
def add_calendar_collisions_panel(request, panels):
    board = calendar_collisions_for_user(user=request.user)
    if board is not None and board.count:
        panels.append(CalendarCollisionsPanel(board))
