"""Back-office furniture shared by bookings and payments: permission policies,
the home page panels, and closing Wagtail's bulk actions on money rows."""

from wagtail import hooks
from wagtail.admin.ui.components import Component

# Imported first (core is the first app) so the owner-scoped policies are in
# Wagtail's registry before anything asks it for Booking or Payment.
from core import permissions  # noqa: F401
from core.admin_views import NoBulkActions
from core.dashboard import dashboard_for_user


class _DashboardPanel(Component):
    def __init__(self, board):
        self.board = board

    def get_context_data(self, parent_context):
        return {"board": self.board, "request": parent_context.get("request")}


class ArrivalsPanel(_DashboardPanel):
    name = "nexus_arrivals"
    template_name = "backoffice/dashboard/arrivals.html"
    order = 50


class PaymentsAttentionPanel(_DashboardPanel):
    name = "nexus_payments_attention"
    template_name = "backoffice/dashboard/payments.html"
    order = 60


class BusinessPanel(_DashboardPanel):
    name = "nexus_business"
    template_name = "backoffice/dashboard/business.html"
    order = 70


@hooks.register("construct_homepage_panels")
def add_back_office_panels(request, panels):
    board = dashboard_for_user(user=request.user)
    if board is None:
        return
    panels[:0] = [BusinessPanel(board), ArrivalsPanel(board), PaymentsAttentionPanel(board)]


# order=1: after wagtail.snippets registers its bulk delete, so this replaces it.
hooks.register("register_bulk_action", NoBulkActions, order=1)
