"""The M-Pesa callback ledger in the Wagtail admin, for staff only: the "Unmatched M-Pesa
payments" dashboard panel, the "M-Pesa callbacks" snippet list (UNMATCHED by default,
with a state filter), the inspect page with the raw body, and the two staff actions on an
unmatched row (mpesa/unmatched.py). Registered from mpesa/wagtail_hooks.py.

Owners never see any of it: the permission policy here gives nothing to anyone but staff
(not the menu, not the list URL, not the panel), and an action on a row a user may not
act on is a 404.
"""

import json
import zoneinfo
from dataclasses import dataclass

import django_filters
from django import forms
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import FormView
from wagtail.admin import messages
from wagtail.admin.filters import DateRangePickerWidget
from wagtail.admin.ui.tables import Column, StatusTagColumn, TitleColumn
from wagtail.admin.views.generic import WagtailAdminTemplateMixin
from wagtail.admin.widgets.button import Button
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import register_permission_policy

from core.admin_views import (
    DashboardPanel,
    NoBulkActions,
    ScopedIndexView,
    ScopedInspectView,
    ScopedSnippetViewSet,
)
from core.exceptions import ApplicationError
from core.filters import AdminFilterSet
from core.permissions import user_is_back_office_staff
from core.selectors import audit_list_for_object
from mpesa import unmatched
from mpesa.admin_views import PhoneSearchMixin
from mpesa.models import CallbackRecord
from mpesa.selectors import callback_list_unmatched

URL_NAMESPACE = "wagtailsnippets_mpesa_callbackrecord"
PANEL_LIMIT = 10
NAIROBI = zoneinfo.ZoneInfo("Africa/Nairobi")

# --- Who may see it -----------------------------------------------------------------------


class StaffOnlyPermissionPolicy(ModelPermissionPolicy):
    """Staff (role staff or superuser) with the model's Django permission; nobody else.

    "view" needs the view permission, the staff actions the change permission; "add",
    "change" and "delete" through a model form are refused to everyone: ledger rows change
    only through services. Instance checks are the model-level ones (no owner scope), and
    an object the user may not act on is a 404, as for the owner-scoped policies.
    """

    FORM_ACTIONS = frozenset({"add", "change", "delete"})
    STAFF_ACTIONS = frozenset({"attach", "mark_for_refund"})

    def user_has_permission(self, user, action):
        if action in self.FORM_ACTIONS or not user_is_back_office_staff(user):
            return False
        if action == "view":
            return user.has_perm(self._get_permission_name("view"))
        if action in self.STAFF_ACTIONS:
            return user.has_perm(self._get_permission_name("change"))
        return False

    def users_with_any_permission(self, actions):
        codenames = set()
        if "view" in actions:
            codenames |= self._get_permission_codenames({"view"})
        if set(actions) & self.STAFF_ACTIONS:
            codenames |= self._get_permission_codenames({"change"})
        if not codenames:
            return get_user_model().objects.none()
        users = self._get_users_with_any_permission_codenames(codenames)
        return users.filter(Q(role="staff") | Q(is_superuser=True))

    def get_instance_for_user_or_404(self, user, action: str, pk, queryset=None):
        scoped = self.instances_user_has_permission_for(user, action)
        if queryset is not None:
            scoped = queryset & scoped
        try:
            return scoped.get(pk=pk)
        except (self.model.DoesNotExist, ValueError, TypeError):
            raise Http404 from None


callback_permission_policy = StaffOnlyPermissionPolicy(CallbackRecord)


def callback_permission_policy_register() -> None:
    """Called at the top of mpesa/wagtail_hooks.py, before the snippet is registered (and
    so before anything asks Wagtail's registry for CallbackRecord's policy)."""
    register_permission_policy(CallbackRecord, callback_permission_policy, exact_class=True)


# --- Helpers ---------------------------------------------------------------------------------


def callback_admin_url(name: str, record_id: int) -> str:
    return reverse(f"{URL_NAMESPACE}:{name}", args=(quote(record_id),))


def payment_admin_url_of(record: CallbackRecord) -> str:
    """The inspect page of the payment the row settled (or was attached as), if any."""
    if record.payment_id is None:
        return ""
    return reverse("wagtailsnippets_mpesa_payment:inspect", args=(quote(record.payment_id),))


def nairobi_time(value) -> str:
    """Daraja's and the guest's clock: Nairobi time, whatever zone the admin user picked."""
    if value is None:
        return "-"
    return timezone.localtime(value, NAIROBI).strftime("%d %b %Y %H:%M EAT")


def callback_label(record: CallbackRecord) -> str:
    if record.receipt:
        return f"Receipt {record.receipt}"
    return f"Result {record.result_code} · {record.checkout_request_id}"


def callback_action_buttons(user, record: CallbackRecord) -> list[Button]:
    if record.state != CallbackRecord.State.UNMATCHED:
        return []
    buttons = []
    if callback_permission_policy.user_has_permission(user, "attach"):
        buttons.append(
            Button("Attach to a booking", url=callback_admin_url("attach", record.pk), icon_name="link", priority=30)
        )
    if callback_permission_policy.user_has_permission(user, "mark_for_refund"):
        buttons.append(
            Button(
                "Mark for refund",
                url=callback_admin_url("mark_for_refund", record.pk),
                icon_name="resubmit",
                priority=40,
            )
        )
    return buttons


def _pretty_body(raw: str) -> str:
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except ValueError:
        return raw


# --- List and inspect ------------------------------------------------------------------------


class CallbackRecordFilterSet(AdminFilterSet):
    state = django_filters.ChoiceFilter(
        label="State",
        choices=CallbackRecord.State.choices,
        empty_label="All",
        widget=forms.RadioSelect,
        initial=CallbackRecord.State.UNMATCHED,
    )
    received_at = django_filters.DateFromToRangeFilter(label="Received", widget=DateRangePickerWidget)

    class Meta:
        model = CallbackRecord
        fields = ["state", "received_at"]

    def __init__(self, data=None, *args, **kwargs):
        # The queue first: with no state in the URL the list shows what waits for staff.
        # "All" sends state= (empty), which is kept.
        if data is not None and "state" not in data:
            data = data.copy()
            data["state"] = CallbackRecord.State.UNMATCHED
        super().__init__(data, *args, **kwargs)


class CallbackRecordIndexView(PhoneSearchMixin, ScopedIndexView):
    @cached_property
    def columns(self):
        title = self._get_title_column_class(TitleColumn)(
            "callback",
            label="Callback",
            accessor=callback_label,
            get_url=self.get_inspect_url,
            sort_key="receipt",
            classname="w-whitespace-nowrap",
        )
        return [
            title,
            StatusTagColumn(
                "state",
                label="State",
                accessor="get_state_display",
                primary=lambda r: r.state == CallbackRecord.State.UNMATCHED,
                sort_key="state",
            ),
            Column("amount", label="Amount (KES)", sort_key="amount"),
            Column("phone_number", label="Phone"),
            Column("result_code", label="Result"),
            Column(
                "received",
                label="Received (Nairobi)",
                accessor=lambda r: nairobi_time(r.received_at),
                sort_key="received_at",
            ),
            Column("payment", label="Payment", accessor=lambda r: f"#{r.payment_id}" if r.payment_id else "-"),
        ]

    def get_list_more_buttons(self, instance):
        buttons = super().get_list_more_buttons(instance)
        buttons.extend(callback_action_buttons(self.request.user, instance))
        return buttons


class CallbackRecordInspectView(ScopedInspectView):
    template_name = "mpesa/callback_inspect.html"

    def get_object(self, queryset=None):
        record = super().get_object(queryset)
        return CallbackRecord.objects.select_related("payment__booking", "resolved_by").get(pk=record.pk)

    def get_page_subtitle(self):
        return callback_label(self.object)

    def get_header_more_buttons(self):
        return sorted(callback_action_buttons(self.request.user, self.object))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        record = self.object
        context.update(
            {
                "record": record,
                "received_nairobi": nairobi_time(record.received_at),
                "last_received_nairobi": nairobi_time(record.last_received_at),
                "transaction_nairobi": nairobi_time(record.transaction_date),
                "resolved_nairobi": nairobi_time(record.resolved_at),
                "payment_url": payment_admin_url_of(record),
                "raw_body": _pretty_body(record.raw_body),
                "action_buttons": callback_action_buttons(self.request.user, record),
                "audit_entries": list(audit_list_for_object(record)[:100]),
            }
        )
        return context


class CallbackRecordViewSet(ScopedSnippetViewSet):
    model = CallbackRecord
    icon = "warning"
    menu_label = "M-Pesa callbacks"
    menu_name = "mpesa_callbacks"
    menu_order = 215
    index_view_class = CallbackRecordIndexView
    inspect_view_class = CallbackRecordInspectView
    filterset_class = CallbackRecordFilterSet
    search_fields = ["receipt", "phone_number", "checkout_request_id"]
    ordering = "-received_at"
    list_per_page = 50

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("attach/<int:pk>/", CallbackAttachView.as_view(), name="attach"),
            path("mark-for-refund/<int:pk>/", CallbackMarkForRefundView.as_view(), name="mark_for_refund"),
        ]


class CallbackNoBulkActions(NoBulkActions):
    """No bulk action on ledger rows either (registered in mpesa/wagtail_hooks.py)."""

    models = [CallbackRecord]


# --- Staff actions -------------------------------------------------------------------------


class AttachForm(forms.Form):
    booking = forms.CharField(
        label="Booking reference",
        max_length=32,
        help_text="The booking this money is for, e.g. NX7F3K2Q (ask the guest, or find it by their phone).",
    )
    note = forms.CharField(
        label="Why this booking?", widget=forms.Textarea(attrs={"rows": 3}), max_length=unmatched.NOTE_MAX_LENGTH
    )


class RefundMarkForm(forms.Form):
    note = forms.CharField(
        label="How is the money going back?",
        help_text="E.g. the reversal or B2C reference, and who asked for it.",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=unmatched.NOTE_MAX_LENGTH,
    )


class _CallbackActionView(WagtailAdminTemplateMixin, FormView):
    """A confirm form for one action on one ledger row, fetched through the policy (404
    for anyone who may not act on it). A row that is no longer UNMATCHED is refused with a
    message, on the GET and (the race) on the POST."""

    template_name = "backoffice/action_form.html"
    action = ""
    submit_label = "Save"
    header_icon = "warning"
    # ApplicationError codes shown on a field rather than above the form.
    field_errors: dict[str, str] = {}

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.record = callback_permission_policy.get_instance_for_user_or_404(request.user, self.action, kwargs["pk"])

    def dispatch(self, request, *args, **kwargs):
        if request.method == "GET" and self.record.state != CallbackRecord.State.UNMATCHED:
            messages.error(
                request, f"This M-Pesa payment is no longer unmatched: it is “{self.record.get_state_display()}”."
            )
            return HttpResponseRedirect(self.get_inspect_url())
        return super().dispatch(request, *args, **kwargs)

    def get_inspect_url(self) -> str:
        return callback_admin_url("inspect", self.record.pk)

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": reverse(f"{URL_NAMESPACE}:list"), "label": "M-Pesa callbacks"},
            {"url": self.get_inspect_url(), "label": callback_label(self.record)},
            {"url": "", "label": self.get_page_title()},
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        r = self.record
        context.update(
            {
                "record": r,
                "cancel_url": self.get_inspect_url(),
                "submit_label": self.submit_label,
                "summary": [
                    ("M-Pesa receipt", r.receipt or "-"),
                    ("Amount (KES)", r.amount),
                    ("Phone", r.phone_number or "-"),
                    ("Received", nairobi_time(r.received_at)),
                    ("Paid at (M-Pesa)", nairobi_time(r.transaction_date)),
                    ("CheckoutRequestID", r.checkout_request_id),
                    ("State", r.get_state_display()),
                ],
            }
        )
        return context

    def run(self, form) -> str:
        raise NotImplementedError

    def form_valid(self, form):
        try:
            message = self.run(form)
        except ApplicationError as error:
            form.add_error(self.field_errors.get(error.code), error.message)
            return self.form_invalid(form)
        messages.success(self.request, message)
        return HttpResponseRedirect(self.get_inspect_url())


class CallbackAttachView(_CallbackActionView):
    action = "attach"
    page_title = "Attach to a booking"
    submit_label = "Attach to this booking"
    form_class = AttachForm
    field_errors = {"booking_not_found": "booking", "note_required": "note"}

    def run(self, form) -> str:
        payment = unmatched.callback_attach_to_booking(
            record_id=self.record.pk,
            booking_reference_or_id=form.cleaned_data["booking"],
            actor=self.request.user,
            note=form.cleaned_data["note"],
        )
        booking = payment.booking
        booking.refresh_from_db()
        message = (
            f"KES {payment.amount:,} (receipt {payment.mpesa_receipt_number}) is now payment #{payment.pk} of booking"
            f" {booking.reference}: {booking.get_status_display()}, KES {booking.balance_due:,} still due."
        )
        if payment.needs_refund or payment.flagged:
            message += f" Flagged for review: {payment.flag_reason}"
        return message


class CallbackMarkForRefundView(_CallbackActionView):
    action = "mark_for_refund"
    page_title = "Mark for refund"
    submit_label = "Mark for refund"
    form_class = RefundMarkForm
    field_errors = {"note_required": "note"}

    def run(self, form) -> str:
        record = unmatched.callback_mark_for_refund(
            record_id=self.record.pk, actor=self.request.user, note=form.cleaned_data["note"]
        )
        return f"KES {record.amount:,} (receipt {record.receipt}) is marked for refund and off the queue."


# --- Dashboard panel ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnmatchedBoard:
    count: int
    rows: list[dict]
    list_url: str


class UnmatchedPaymentsPanel(DashboardPanel):
    """Home page panel for staff: how many unmatched M-Pesa payments wait, the oldest first."""

    name = "nexus_unmatched_mpesa"
    template_name = "mpesa/unmatched_panel.html"
    order = 40  # before the bookings panels: money nobody can place is the most urgent


def unmatched_panel_for(user) -> UnmatchedPaymentsPanel | None:
    """The panel, or None for anyone but staff (owners, guests)."""
    if not callback_permission_policy.user_has_permission(user, "view"):
        return None
    queue = callback_list_unmatched()
    records = list(queue[:PANEL_LIMIT])
    count = len(records) if len(records) < PANEL_LIMIT else queue.count()
    rows = [
        {
            "url": callback_admin_url("inspect", r.pk),
            "receipt": r.receipt,
            "phone": r.phone_number or "-",
            "amount": r.amount,
            "received": nairobi_time(r.received_at),
        }
        for r in records
    ]
    return UnmatchedPaymentsPanel(UnmatchedBoard(count=count, rows=rows, list_url=reverse(f"{URL_NAMESPACE}:list")))
