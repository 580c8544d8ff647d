from django.urls import path, reverse
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.snippets.models import register_snippet

from core.admin_views import DashboardPanel, NoBulkActions, ScopedSnippetViewSet
from mpesa import admin_views, money_out_admin
from mpesa.analytics_views import AnalyticsReportView
from mpesa.dashboard import business_for_user, money_out_for_user, payments_to_watch_for_user
from mpesa.models import Payment
from mpesa.permissions import payment_permission_policy
from mpesa.refunds import payment_annotate_refunded
from mpesa.reports import PaymentsReportView
from mpesa.unmatched_views import (
    CallbackNoBulkActions,
    CallbackRecordViewSet,
    callback_permission_policy_register,
    unmatched_panel_for,
)

# Before the snippet is registered: Wagtail must never make a fallback policy for the ledger.
callback_permission_policy_register()

PAYMENT_EXPORT = PaymentsReportView.list_export


class PaymentViewSet(ScopedSnippetViewSet):
    model = Payment
    icon = "form"
    menu_label = "Payments"
    menu_name = "payments"
    menu_order = 210
    index_view_class = admin_views.PaymentIndexView
    inspect_view_class = admin_views.PaymentInspectView
    filterset_class = admin_views.PaymentFilterSet
    # Matched with icontains across the joins, plus phones typed any way (admin_views.PaymentIndexView).
    search_fields = [
        "mpesa_receipt_number",
        "phone_number",
        "booking__reference",
        "booking__primary_guest__name",
        "booking__property__title",
        "checkout_request_id",
        "refund_reference",
    ]
    ordering = "-created_at"
    list_per_page = 50
    list_select_related = ("booking__property",)
    list_export = PAYMENT_EXPORT
    export_headings = PaymentsReportView.export_headings
    export_filename = "payments"

    def get_queryset(self, request):
        return payment_annotate_refunded(super().get_queryset(request))

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("recheck/<int:pk>/", admin_views.PaymentRecheckView.as_view(), name="recheck"),
            path("refund/<int:pk>/", admin_views.PaymentRefundView.as_view(), name="refund"),
            path("resolve-flag/<int:pk>/", admin_views.PaymentResolveFlagView.as_view(), name="resolve_flag"),
        ]


register_snippet(PaymentViewSet)


class _PolicyMenuItem(MenuItem):
    def is_shown(self, request):
        return payment_permission_policy.user_has_permission(request.user, "view")


@hooks.register("register_admin_urls")
def register_payment_report_urls():
    return [
        path("reports/payments/", PaymentsReportView.as_view(), name="nexus_payments_report"),
        path(
            "reports/payments/results/",
            PaymentsReportView.as_view(results_only=True),
            name="nexus_payments_report_results",
        ),
    ]


@hooks.register("register_reports_menu_item")
def register_payment_report_menu_item():
    return _PolicyMenuItem("Payments", reverse("nexus_payments_report"), icon_name="form", order=100)


# --- Analytics (mpesa/analytics_views.py): figures from bookings and payments ------------------


class _AnalyticsMenuItem(MenuItem):
    def is_shown(self, request):
        return AnalyticsReportView.user_may_see(request.user)


@hooks.register("register_admin_urls")
def register_analytics_report_urls():
    return [
        path("reports/analytics/", AnalyticsReportView.as_view(), name="nexus_analytics_report"),
        path(
            "reports/analytics/results/",
            AnalyticsReportView.as_view(results_only=True),
            name="nexus_analytics_report_results",
        ),
    ]


@hooks.register("register_reports_menu_item")
def register_analytics_report_menu_item():
    return _AnalyticsMenuItem("Analytics", reverse("nexus_analytics_report"), icon_name="table", order=80)


class PaymentsAttentionPanel(DashboardPanel):
    name = "nexus_payments_attention"
    template_name = "backoffice/dashboard/payments.html"
    order = 60


class BusinessPanel(DashboardPanel):
    name = "nexus_business"
    template_name = "backoffice/dashboard/business.html"
    order = 70


@hooks.register("construct_homepage_panels")
def add_payment_panels(request, panels):
    watch = payments_to_watch_for_user(user=request.user)
    if watch is not None:
        panels.append(PaymentsAttentionPanel(watch))
    business = business_for_user(user=request.user)
    if business is not None:
        panels.append(BusinessPanel(business))


class NoPaymentBulkActions(NoBulkActions):
    models = [Payment]


# order=1: after wagtail.snippets registers its bulk delete, so this replaces it.
hooks.register("register_bulk_action", NoPaymentBulkActions, order=1)


# --- Unmatched M-Pesa payments (staff only: mpesa/unmatched_views.py) ---------------------------

register_snippet(CallbackRecordViewSet)
# order=1: after wagtail.snippets registers its bulk delete, so this replaces it.
hooks.register("register_bulk_action", CallbackNoBulkActions, order=1)


@hooks.register("construct_homepage_panels")
def add_unmatched_payments_panel(request, panels):
    panel = unmatched_panel_for(request.user)
    if panel is not None:
        panels.append(panel)


# --- Money going out: refunds and payouts (mpesa/money_out_admin.py) ----------------------------

register_snippet(money_out_admin.RefundViewSet)
register_snippet(money_out_admin.PayoutViewSet)
# order=1: after wagtail.snippets registers its bulk delete, so this replaces it.
hooks.register("register_bulk_action", money_out_admin.MoneyOutNoBulkActions, order=1)


class RefundsAwaitingApprovalPanel(DashboardPanel):
    name = "nexus_refunds_awaiting_approval"
    template_name = "mpesa/money_out/panel_refunds_awaiting.html"
    order = 42


class FailedRefundsPanel(DashboardPanel):
    name = "nexus_refunds_failed"
    template_name = "mpesa/money_out/panel_refunds_failed.html"
    order = 43


class PayoutsDuePanel(DashboardPanel):
    name = "nexus_payouts_due"
    template_name = "mpesa/money_out/panel_payouts.html"
    order = 65


@hooks.register("construct_homepage_panels")
def add_money_out_panels(request, panels):
    board = money_out_for_user(user=request.user)
    if board is None:
        return
    if board.for_staff:
        panels.append(RefundsAwaitingApprovalPanel(board))
        panels.append(FailedRefundsPanel(board))
    panels.append(PayoutsDuePanel(board))


@hooks.register("register_account_settings_panel")
def register_payout_destination_panel(request, user, profile):
    return money_out_admin.PayoutDestinationSettingsPanel(request, user, profile)
