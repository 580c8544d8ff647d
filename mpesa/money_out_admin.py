"""Money going out in the Wagtail admin: the Refunds and Payouts snippets (list, filters,
search, inspect), registered from mpesa/wagtail_hooks.py. docs/money-out.md says what the
rows mean.

Read-only like the payments snippet: refunds and payouts change only through their
services (mpesa.refunds_out, mpesa.payouts), reached from the staff actions in
mpesa/money_out_admin_views.py. Everything goes through the owner-scoped policies of
mpesa/permissions.py: staff see every row, an owner the refunds of their properties'
bookings and their own payouts (read-only), anyone else's row is a 404 in the list,
inspect page, chooser and actions. The inspect page shows staff Daraja's synchronous
answer, the result that settled the row and every result/timeout callback stored for it
(the callback ledger is staff-only: docs/security.md); owners see the outcome.

Also the "Payouts" panel of the admin account page, where owners set where their payouts go.
"""

import json

import django_filters
from django import forms
from django.contrib.admin.utils import quote
from django.core.exceptions import ValidationError
from django.urls import path, reverse
from django.utils.functional import cached_property
from wagtail.admin.filters import DateRangePickerWidget
from wagtail.admin.views.account import BaseSettingsPanel
from wagtail.admin.ui.tables import Column, TitleColumn

from accounts import payout_destination
from accounts.models import User
from core.admin_views import (
    AmountColumn,
    BadgeColumn,
    ClampedTextColumn,
    MomentColumn,
    NoBulkActions,
    NotedColumn,
    RelatedSearchMixin,
    ScopedIndexView,
    ScopedInspectView,
    ScopedSnippetViewSet,
    format_kes,
)
from core.filters import AdminFilterSet
from core.permissions import user_is_back_office_staff
from core.selectors import audit_list_for_object
from mpesa import money_out_admin_views as actions
from mpesa.models import Payout, Refund
from mpesa.permissions import payment_permission_policy
from reservations.permissions import booking_permission_policy, properties_visible_to

TONES = {
    "SUCCESS": "positive",
    "FAILED": "critical",
    "QUEUED": "pending",
    "PENDING": "pending",
    "AWAITING_APPROVAL": "pending",
    "SCHEDULED": "neutral",
    "HELD": "critical",
}
AUDIT_LIMIT = 100


def _pretty_json(value) -> str:
    if value in (None, "", {}, []):
        return ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _transfer_note(transfer) -> str:
    """What a badge says under the status: why it failed, why a payout waits."""
    if transfer.status == "FAILED":
        return transfer.failure_reason or transfer.result_desc
    if transfer.status == "HELD":
        return getattr(transfer, "hold_reason", "")
    return getattr(transfer, "note", "") if transfer.status == "SCHEDULED" else ""


def _status_column():
    return BadgeColumn(
        "status",
        label="Status",
        accessor="get_status_display",
        tone=lambda t: TONES.get(t.status, "neutral"),
        note=_transfer_note,
        sort_key="status",
    )


def _booking_column():
    return NotedColumn(
        "booking",
        label="Booking",
        accessor="booking.reference",
        note=lambda t: t.booking.property.title,
        sort_key="booking__reference",
    )


def _callback_rows(transfer) -> list[dict]:
    """The result and timeout bodies stored for this row (the callback ledger), oldest first."""
    rows = []
    for record in transfer.callback_records.order_by("received_at", "pk"):
        rows.append(
            {
                "record": record,
                "url": reverse("wagtailsnippets_mpesa_callbackrecord:inspect", args=(quote(record.pk),)),
                "raw_body": _pretty_json(record.raw_body),
            }
        )
    return rows


def _booking_url(user, booking) -> str:
    if booking_permission_policy.user_has_permission_for_instance(user, "view", booking):
        return reverse("wagtailsnippets_reservations_booking:inspect", args=(quote(booking.pk),))
    return ""


def _ledger_context(user, transfer) -> dict:
    """Daraja's raw answers and the stored callbacks: staff only (owners see the outcome)."""
    if not user_is_back_office_staff(user):
        return {"show_raw": False}
    return {
        "show_raw": True,
        "raw_response_json": _pretty_json(transfer.raw_response),
        "raw_result_json": _pretty_json(transfer.raw_result),
        "callbacks": _callback_rows(transfer),
    }


def _retry_links(transfer, url_name) -> dict:
    retried_by = type(transfer)._default_manager.filter(retry_of=transfer).first()
    return {
        "retry_of_url": url_name("inspect", transfer.retry_of_id) if transfer.retry_of_id else "",
        "retried_by": retried_by,
        "retried_by_url": url_name("inspect", retried_by.pk) if retried_by else "",
    }


# -- Refunds ---------------------------------------------------------------------------------


class RefundFilterSet(AdminFilterSet):
    status = django_filters.ChoiceFilter(
        label="Status", choices=Refund.Status.choices, empty_label="All", widget=forms.RadioSelect
    )
    method = django_filters.ChoiceFilter(
        label="Method", choices=Refund.Method.choices, empty_label="All", widget=forms.RadioSelect
    )
    created_at = django_filters.DateFromToRangeFilter(label="Created", widget=DateRangePickerWidget)
    completed_at = django_filters.DateFromToRangeFilter(label="Completed", widget=DateRangePickerWidget)
    property = django_filters.ModelChoiceFilter(
        label="Property",
        field_name="booking__property",
        empty_label="All properties",
        queryset=lambda request: properties_visible_to(request.user).order_by("title"),
    )

    class Meta:
        model = Refund
        fields = ["status", "method", "created_at", "completed_at", "property"]


class RefundIndexView(RelatedSearchMixin, ScopedIndexView):
    # Booking reference, M-Pesa ids and the receipt refunded come from the viewset's
    # search_fields; the phone matches however it was typed.
    search_phone_lookups = {"phone_number": "msisdn"}

    @cached_property
    def columns(self):
        title = self._get_title_column_class(TitleColumn)(
            "refund",
            label="Refund",
            accessor=actions.refund_title,
            get_url=self.get_inspect_url,
            sort_key="id",
            classname="w-whitespace-nowrap",
        )
        return [
            title,
            _status_column(),
            AmountColumn("amount", label="Amount", note=lambda r: r.get_method_display(), sort_key="amount"),
            Column("phone_number", label="Phone", classname="w-whitespace-nowrap"),
            _booking_column(),
            Column("mpesa_transaction_id", label="M-Pesa id", accessor=lambda r: r.mpesa_transaction_id or "-"),
            MomentColumn("created_at", label="Created", sort_key="created_at"),
        ]

    def get_list_more_buttons(self, instance):
        return super().get_list_more_buttons(instance) + actions.refund_action_buttons(self.request.user, instance)


class RefundInspectView(ScopedInspectView):
    template_name = "mpesa/money_out/refund_inspect.html"

    def get_object(self, queryset=None):
        refund = super().get_object(queryset)
        return Refund.objects.select_related(
            "booking__property", "booking__primary_guest", "payment", "requested_by", "approved_by"
        ).get(pk=refund.pk)

    def get_page_subtitle(self):
        return f"Refund #{self.object.pk} · booking {self.object.booking.reference}"

    def get_header_more_buttons(self):
        return sorted(actions.refund_action_buttons(self.request.user, self.object))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        refund, user = self.object, self.request.user
        payment_url = ""
        if payment_permission_policy.user_has_permission_for_instance(user, "view", refund.payment):
            payment_url = reverse("wagtailsnippets_mpesa_payment:inspect", args=(quote(refund.payment_id),))
        context.update(
            {
                "refund": refund,
                "booking": refund.booking,
                "booking_url": _booking_url(user, refund.booking),
                "payment_url": payment_url,
                "action_buttons": actions.refund_action_buttons(user, refund),
                "audit_entries": list(audit_list_for_object(refund)[:AUDIT_LIMIT]),
                **_retry_links(refund, actions.refund_admin_url),
                **_ledger_context(user, refund),
            }
        )
        return context


class RefundViewSet(ScopedSnippetViewSet):
    model = Refund
    icon = "resubmit"
    menu_label = "Refunds"
    menu_name = "refunds"
    menu_order = 211
    index_view_class = RefundIndexView
    inspect_view_class = RefundInspectView
    filterset_class = RefundFilterSet
    search_fields = [
        "booking__reference",
        "phone_number",
        "mpesa_transaction_id",
        "payment__mpesa_receipt_number",
        "originator_conversation_id",
        "conversation_id",
    ]
    ordering = "-created_at"
    list_per_page = 50
    list_select_related = ("booking__property",)

    def get_queryset(self, request):
        return actions.annotate_retried(super().get_queryset(request))

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("approve/<int:pk>/", actions.RefundApproveView.as_view(), name="approve"),
            path("retry/<int:pk>/", actions.RefundRetryView.as_view(), name="retry"),
        ]


# -- Payouts ---------------------------------------------------------------------------------


class PayoutFilterSet(AdminFilterSet):
    status = django_filters.ChoiceFilter(
        label="Status", choices=Payout.Status.choices, empty_label="All", widget=forms.RadioSelect
    )
    method = django_filters.ChoiceFilter(
        label="Method", choices=Payout.Method.choices, empty_label="All", widget=forms.RadioSelect
    )
    due_at = django_filters.DateFromToRangeFilter(label="Due", widget=DateRangePickerWidget)
    completed_at = django_filters.DateFromToRangeFilter(label="Paid out", widget=DateRangePickerWidget)
    property = django_filters.ModelChoiceFilter(
        label="Property",
        field_name="booking__property",
        empty_label="All properties",
        queryset=lambda request: properties_visible_to(request.user).order_by("title"),
    )

    class Meta:
        model = Payout
        fields = ["status", "method", "due_at", "completed_at", "property"]


class PayoutIndexView(RelatedSearchMixin, ScopedIndexView):
    search_phone_lookups = {"phone_number": "msisdn", "owner__phone_number": "e164"}

    @cached_property
    def columns(self):
        title = self._get_title_column_class(TitleColumn)(
            "payout",
            label="Payout",
            accessor=actions.payout_title,
            get_url=self.get_inspect_url,
            sort_key="id",
            classname="w-whitespace-nowrap",
        )
        return [
            title,
            _status_column(),
            AmountColumn("amount", label="Amount", note=lambda p: f"of {format_kes(p.gross)}", sort_key="amount"),
            ClampedTextColumn("owner", label="Owner", accessor="owner.name", sort_key="owner__name"),
            Column("destination", label="To", accessor=lambda p: actions.payout_destination(p) or "-"),
            _booking_column(),
            MomentColumn("due_at", label="Due", sort_key="due_at"),
        ]

    def get_list_more_buttons(self, instance):
        return super().get_list_more_buttons(instance) + actions.payout_action_buttons(self.request.user, instance)


class PayoutInspectView(ScopedInspectView):
    template_name = "mpesa/money_out/payout_inspect.html"

    def get_object(self, queryset=None):
        payout = super().get_object(queryset)
        return Payout.objects.select_related("booking__property", "owner", "held_by").get(pk=payout.pk)

    def get_page_subtitle(self):
        return f"Payout #{self.object.pk} · booking {self.object.booking.reference}"

    def get_header_more_buttons(self):
        return sorted(actions.payout_action_buttons(self.request.user, self.object))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        payout, user = self.object, self.request.user
        context.update(
            {
                "payout": payout,
                "booking": payout.booking,
                "booking_url": _booking_url(user, payout.booking),
                "destination": actions.payout_destination(payout),
                "action_buttons": actions.payout_action_buttons(user, payout),
                "audit_entries": list(audit_list_for_object(payout)[:AUDIT_LIMIT]),
                **_retry_links(payout, actions.payout_admin_url),
                **_ledger_context(user, payout),
            }
        )
        return context


class PayoutViewSet(ScopedSnippetViewSet):
    model = Payout
    icon = "success"
    menu_label = "Payouts"
    menu_name = "payouts"
    menu_order = 212
    index_view_class = PayoutIndexView
    inspect_view_class = PayoutInspectView
    filterset_class = PayoutFilterSet
    search_fields = [
        "booking__reference",
        "phone_number",
        "business_number",
        "mpesa_transaction_id",
        "owner__name",
        "originator_conversation_id",
        "conversation_id",
    ]
    ordering = "-due_at"
    list_per_page = 50
    list_select_related = ("booking__property", "owner")

    def get_queryset(self, request):
        return actions.annotate_retried(super().get_queryset(request))

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("hold/<int:pk>/", actions.PayoutHoldView.as_view(), name="hold"),
            path("release/<int:pk>/", actions.PayoutReleaseView.as_view(), name="release"),
            path("retry/<int:pk>/", actions.PayoutRetryView.as_view(), name="retry"),
        ]


class MoneyOutNoBulkActions(NoBulkActions):
    """No bulk action on refunds or payouts (registered in mpesa/wagtail_hooks.py)."""

    models = [Refund, Payout]


# -- Owners' payout destination on their admin account page (Wagtail's "Account") ---------------


class PayoutDestinationForm(forms.Form):
    """The payout method and number, checked and saved by accounts.payout_destination (the
    same rules and audited service as the site's account page and PATCH /api/me/)."""

    payout_method = forms.ChoiceField(label="Payout method", choices=User.PayoutMethod.choices)
    payout_phone_number = forms.CharField(
        label="M-Pesa number", required=False, max_length=32, help_text="For the M-Pesa method, e.g. 0712 345 678."
    )
    payout_business_number = forms.CharField(
        label="Paybill or till number", required=False, max_length=16, help_text="For a paybill or a till: 5 to 7 digits."
    )
    payout_account_reference = forms.CharField(
        label="Account number at the paybill", required=False, max_length=40, help_text="For a paybill only."
    )

    def __init__(self, *args, instance, **kwargs):
        self.instance = instance
        kwargs.setdefault("initial", {name: getattr(instance, name) for name in payout_destination.FIELDS})
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            self.destination = payout_destination.payout_destination_clean(
                method=data["payout_method"],
                phone_number=data.get("payout_phone_number", ""),
                business_number=data.get("payout_business_number", ""),
                account_reference=data.get("payout_account_reference", ""),
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        return data

    def save(self):
        return payout_destination.user_set_payout_destination(
            user=self.instance, destination=self.destination, actor=self.instance
        )


class PayoutDestinationSettingsPanel(BaseSettingsPanel):
    """On the admin account page of owners (and staff, who may own listings); guests have no
    admin. Saved with Wagtail's other account panels, in one transaction."""

    name = "payout_destination"
    title = "Payouts"
    order = 150
    form_class = PayoutDestinationForm
    help_text = (
        "Where Nexus sends your share of each stay (what the guest paid less refunds and commission), "
        "after the guest's check-in."
    )

    def is_active(self):
        return payout_destination.receives_payouts(self.user)
