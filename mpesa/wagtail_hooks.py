from django.urls import path, reverse
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.snippets.models import register_snippet

from core.admin_views import ScopedSnippetViewSet
from core.permissions import payment_permission_policy
from mpesa import admin_views
from mpesa.models import Payment
from mpesa.refunds import payment_annotate_refunded
from mpesa.reports import PaymentsReportView

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
    search_fields = [
        "mpesa_receipt_number",
        "phone_number",
        "booking__reference",
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
