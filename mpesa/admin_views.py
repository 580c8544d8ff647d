"""Payments in the Wagtail admin: list, detail and the staff review actions.

The list and detail are read-only (money fields change only through the
services); the actions call mpesa.refunds and are reachable only for objects
the permission policy lets the user act on (mpesa/permissions.py).
"""

import json
import time

import django_filters
from django import forms
from django.conf import settings
from django.contrib.admin.utils import quote
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.views.generic import FormView, View
from wagtail.admin import messages
from wagtail.admin.filters import DateRangePickerWidget
from wagtail.admin.ui.tables import Column, TitleColumn
from wagtail.admin.utils import get_valid_next_url_from_request
from wagtail.admin.views.generic import WagtailAdminTemplateMixin
from wagtail.admin.widgets.button import Button

from core.admin_views import (
    AmountColumn,
    BadgeColumn,
    MomentColumn,
    NotedColumn,
    RelatedSearchMixin,
    ScopedIndexView,
    ScopedInspectView,
    format_kes,
)
from core.exceptions import ApplicationError
from core.filters import AdminFilterSet
from core.selectors import audit_list_for_object
from mpesa import refunds
from mpesa.models import Payment
from mpesa.permissions import payment_permission_policy
from reservations.permissions import booking_permission_policy, properties_visible_to

URL_NAMESPACE = "wagtailsnippets_mpesa_payment"
RECHECK_WAIT_SECONDS = 12


def payment_admin_url(name: str, payment_id: int) -> str:
    return reverse(f"{URL_NAMESPACE}:{name}", args=(quote(payment_id),))


def payment_attention(payment: Payment) -> str:
    labels = []
    if payment.flagged:
        labels.append("Flagged")
    if payment.needs_refund:
        labels.append("Refund due")
    return ", ".join(labels)


class PaymentFilterSet(AdminFilterSet):
    status = django_filters.ChoiceFilter(
        label="Status", choices=Payment.Status.choices, empty_label="All", widget=forms.RadioSelect
    )
    kind = django_filters.ChoiceFilter(
        label="Kind", choices=Payment.Kind.choices, empty_label="All", widget=forms.RadioSelect
    )
    created_at = django_filters.DateFromToRangeFilter(label="Created", widget=DateRangePickerWidget)
    property = django_filters.ModelChoiceFilter(
        label="Property",
        field_name="booking__property",
        empty_label="All properties",
        queryset=lambda request: properties_visible_to(request.user).order_by("title"),
    )
    flagged = django_filters.BooleanFilter(label="Flagged")
    needs_refund = django_filters.BooleanFilter(label="Refund due")

    class Meta:
        model = Payment
        fields = ["status", "kind", "created_at", "property", "flagged", "needs_refund"]


PAYMENT_TONES = {
    Payment.Status.SUCCESS: "positive",
    Payment.Status.FAILED: "critical",
    Payment.Status.PENDING: "pending",
    Payment.Status.QUEUED: "pending",
}


def payment_failure_note(payment: Payment) -> str:
    if payment.status != Payment.Status.FAILED:
        return ""
    return payment.failure_reason or payment.result_desc


def payment_columns(*, title_column) -> list:
    """The payments list and report: a coloured status with the failure reason beside a
    FAILED one, shillings with separators, Nairobi times. The property's title sits under
    the booking reference, so the list fits a 1280 px screen."""
    return [
        title_column,
        BadgeColumn(
            "status",
            label="Status",
            accessor="get_status_display",
            tone=lambda p: PAYMENT_TONES.get(p.status, "neutral"),
            note=payment_failure_note,
            sort_key="status",
        ),
        AmountColumn("amount", label="Amount", sort_key="amount"),
        Column("phone_number", label="Phone", classname="w-whitespace-nowrap"),
        Column(
            "mpesa_receipt_number",
            label="Receipt",
            accessor=lambda p: p.mpesa_receipt_number or p.refund_reference,
            sort_key="mpesa_receipt_number",
        ),
        NotedColumn(
            "booking",
            label="Booking",
            accessor="booking.reference",
            note=lambda p: p.booking.property.title,
            sort_key="booking__reference",
        ),
        Column("attention", label="Attention", accessor=payment_attention),
        MomentColumn("created_at", label="Created", sort_key="created_at"),
    ]


def payment_title_text(payment: Payment) -> str:
    return f"{payment.get_kind_display()} #{payment.pk}"


class PhoneSearchMixin(RelatedSearchMixin):
    """Search on a model whose own phone_number holds Daraja's 2547XXXXXXXX (the callback ledger)."""

    search_phone_lookups = {"phone_number": "msisdn"}


class PaymentIndexView(RelatedSearchMixin, ScopedIndexView):
    # Receipt, booking reference, guest name and property come from the viewset's
    # search_fields (mpesa/wagtail_hooks.py); a phone matches however it was typed.
    search_phone_lookups = {
        "phone_number": "msisdn",
        "received_phone": "msisdn",
        "booking__primary_guest__phone_number": "e164",
    }

    @cached_property
    def columns(self):
        title = self._get_title_column_class(TitleColumn)(
            "payment",
            label="Payment",
            accessor=payment_title_text,
            get_url=self.get_inspect_url,
            sort_key="id",
            classname="w-whitespace-nowrap",
        )
        return payment_columns(title_column=title)

    def get_list_more_buttons(self, instance):
        buttons = super().get_list_more_buttons(instance)
        buttons.extend(payment_action_buttons(self.request.user, instance))
        return buttons


def payment_action_buttons(user, payment: Payment) -> list[Button]:
    policy = payment_permission_policy
    buttons = []
    if refunds.payment_can_be_rechecked(payment=payment) and policy.user_has_permission(user, "recheck"):
        url = payment_admin_url("recheck", payment.pk)
        # A POST (Wagtail's w-action controller builds the form with the CSRF token
        # and next=the current page), since it changes state and calls Daraja.
        buttons.append(
            Button(
                "Re-check with M-Pesa",
                url=url,
                icon_name="rotate",
                priority=30,
                attrs={"data-controller": "w-action", "data-action": "w-action#post", "data-w-action-url-value": url},
            )
        )
    if refunds.payment_refundable_amount(payment=payment) > 0 and policy.user_has_permission(user, "refund"):
        buttons.append(
            Button("Mark refunded", url=payment_admin_url("refund", payment.pk), icon_name="resubmit", priority=40)
        )
    if payment.flagged and policy.user_has_permission(user, "resolve_flag"):
        buttons.append(
            Button("Resolve flag", url=payment_admin_url("resolve_flag", payment.pk), icon_name="tick", priority=50)
        )
    return buttons


class PaymentInspectView(ScopedInspectView):
    template_name = "backoffice/payment_inspect.html"

    def get_object(self, queryset=None):
        payment = super().get_object(queryset)
        return Payment.objects.select_related(
            "booking__property", "booking__primary_guest", "initiated_by", "flag_resolved_by", "refund_of"
        ).get(pk=payment.pk)

    def get_page_subtitle(self):
        return f"{self.object.get_kind_display()} #{self.object.pk} · booking {self.object.booking.reference}"

    def get_header_more_buttons(self):
        return sorted(payment_action_buttons(self.request.user, self.object))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        payment = self.object
        booking = payment.booking
        context.update(
            {
                "payment": payment,
                "booking": booking,
                "booking_url": (
                    reverse("wagtailsnippets_reservations_booking:inspect", args=(quote(booking.pk),))
                    if booking_permission_policy.user_has_permission_for_instance(self.request.user, "view", booking)
                    else ""
                ),
                "raw_callback_json": _pretty_json(payment.raw_callback),
                "last_query_json": _pretty_json(payment.last_query_result),
                "refunds": list(payment.refunds.select_related("initiated_by").order_by("created_at", "pk")),
                "refundable": refunds.payment_refundable_amount(payment=payment),
                "audit_entries": list(audit_list_for_object(payment)[:100]),
                "action_buttons": payment_action_buttons(self.request.user, payment),
            }
        )
        return context


def _pretty_json(value) -> str:
    if value in (None, "", {}, []):
        return ""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


# -- staff actions ------------------------------------------------------------------------


class _PaymentActionMixin:
    """Fetches the payment through the policy for this view's action: out of scope -> 404."""

    action = ""
    header_icon = "form"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.payment = payment_permission_policy.get_instance_for_user_or_404(
            request.user,
            self.action,
            kwargs["pk"],
            queryset=Payment.objects.select_related("booking__property"),
        )

    def get_inspect_url(self) -> str:
        return payment_admin_url("inspect", self.payment.pk)

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": reverse(f"{URL_NAMESPACE}:list"), "label": "Payments"},
            {"url": self.get_inspect_url(), "label": f"{self.payment.get_kind_display()} #{self.payment.pk}"},
            {"url": "", "label": self.get_page_title()},
        ]


class PaymentRecheckView(_PaymentActionMixin, View):
    """POST: ask Daraja about the payment now (django-q2 task) and report what it answered."""

    action = "recheck"
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        redirect_to = get_valid_next_url_from_request(request) or self.get_inspect_url()
        try:
            task_name = refunds.payment_request_recheck(payment_id=self.payment.pk, actor=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(redirect_to)
        task = _wait_for_task(task_name, seconds=getattr(settings, "MPESA_RECHECK_WAIT_SECONDS", RECHECK_WAIT_SECONDS))
        if task is None:
            messages.warning(
                request,
                "Re-check with M-Pesa is queued; the worker has not answered yet. Reload this page in a moment.",
            )
        elif not task.success:
            reason = str(task.result or "").strip().splitlines()
            messages.error(request, f"Re-check with M-Pesa failed: {reason[-1] if reason else 'unknown error'}")
        else:
            _report_recheck_outcome(request, self.payment, task.result or {})
        return HttpResponseRedirect(redirect_to)


STILL_PENDING_MESSAGE = (
    "Safaricom has no final answer for this payment yet; we will check again automatically."
)


def _report_recheck_outcome(request, payment: Payment, outcome: dict) -> None:
    """One message whose level says what happened: paid (success), failed (warning, with
    the reason in words) or no answer yet (info: nothing went wrong, nothing to do)."""
    status = outcome.get("status")
    if status in (Payment.Status.PENDING, Payment.Status.QUEUED):
        # Daraja answers "still processing" with a code (e.g. 4999); staff need the
        # meaning, and reconciliation keeps querying on its own schedule.
        messages.info(request, STILL_PENDING_MESSAGE)
        return
    label = Payment.Status(status).label
    moved = "now" if status != outcome.get("status_before") else "still"
    if status == Payment.Status.FAILED:
        payment.refresh_from_db(fields=["failure_reason", "result_desc"])
        reason = payment.failure_reason or payment.result_desc or "M-Pesa gave no reason"
        messages.warning(request, f"Re-check with M-Pesa: payment #{payment.pk} is {moved} {label}: {reason}")
        return
    answer = _query_answer_text(outcome.get("last_query_result"))
    messages.success(
        request, f"Re-check with M-Pesa: payment #{payment.pk} is {moved} {label}. M-Pesa answered: {answer}"
    )


def _wait_for_task(task_name: str, *, seconds: float):
    """The finished django-q2 task, or None if the worker has not finished it in time.

    Polls a few times a second (django_q.tasks.fetch polls every 10 ms, which is
    a lot of queries for a staff click).
    """
    from django_q.models import Task

    deadline = time.monotonic() + seconds
    while True:
        task = Task.objects.filter(name=task_name).first()
        if task is not None or time.monotonic() >= deadline:
            return task
        time.sleep(0.25)


def _query_answer_text(answer) -> str:
    if not isinstance(answer, dict) or not answer:
        return "nothing usable (see the payment's last STK query answer)."
    code = answer.get("ResultCode", answer.get("errorCode", ""))
    desc = answer.get("ResultDesc") or answer.get("errorMessage") or answer.get("ResponseDescription") or ""
    return f"{code} {desc}".strip() or "an empty answer."


class RefundForm(forms.Form):
    amount = forms.IntegerField(label="Amount refunded (KES)", min_value=1)
    mpesa_reference = forms.CharField(
        label="M-Pesa reference", max_length=64, help_text="The transaction id of the reversal or B2C payment."
    )
    note = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)

    def __init__(self, *args, refundable: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"].max_value = refundable
        self.fields["amount"].widget.attrs["max"] = refundable
        self.fields["amount"].validators.append(_max_validator(refundable))
        self.fields["amount"].initial = refundable


def _max_validator(limit: int):
    from django.core.validators import MaxValueValidator

    return MaxValueValidator(limit, message=f"At most {format_kes(limit)} of this payment can still be refunded.")


class _PaymentActionFormView(_PaymentActionMixin, WagtailAdminTemplateMixin, FormView):
    template_name = "backoffice/action_form.html"
    submit_label = "Save"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            {
                "object": self.payment,
                "cancel_url": self.get_inspect_url(),
                "submit_label": self.submit_label,
                "summary": self.get_summary(),
            }
        )
        return context

    def get_summary(self) -> list[tuple[str, object]]:
        p = self.payment
        return [
            ("Booking", p.booking.reference),
            ("Property", p.booking.property.title),
            ("Status", p.get_status_display()),
            ("Amount", format_kes(p.received_amount if p.received_amount is not None else p.amount)),
            ("M-Pesa receipt", p.mpesa_receipt_number or "-"),
            ("Phone", p.phone_number or "-"),
        ]

    def run(self, form):
        raise NotImplementedError

    def form_valid(self, form):
        try:
            message = self.run(form)
        except ApplicationError as error:
            form.add_error(None, error.message)
            return self.form_invalid(form)
        messages.success(self.request, message)
        return HttpResponseRedirect(self.get_inspect_url())


class PaymentRefundView(_PaymentActionFormView):
    action = "refund"
    page_title = "Mark refunded"
    submit_label = "Record refund"

    def dispatch(self, request, *args, **kwargs):
        if refunds.payment_refundable_amount(payment=self.payment) == 0:
            messages.error(request, "Nothing to refund: only a successful payment, not yet refunded in full, can be.")
            return HttpResponseRedirect(self.get_inspect_url())
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "refundable": refunds.payment_refundable_amount(payment=self.payment)}

    def get_form_class(self):
        return RefundForm

    def get_summary(self):
        return super().get_summary() + [
            ("Still refundable", format_kes(refunds.payment_refundable_amount(payment=self.payment)))
        ]

    def run(self, form):
        refund = refunds.payment_record_refund(
            payment_id=self.payment.pk,
            actor=self.request.user,
            amount=form.cleaned_data["amount"],
            mpesa_reference=form.cleaned_data["mpesa_reference"],
            note=form.cleaned_data["note"],
        )
        return f"Refund of {format_kes(refund.amount)} recorded (M-Pesa {refund.refund_reference})."


class ResolveFlagForm(forms.Form):
    note = forms.CharField(label="How was it resolved?", widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class PaymentResolveFlagView(_PaymentActionFormView):
    action = "resolve_flag"
    page_title = "Resolve flag"
    submit_label = "Resolve flag"
    form_class = ResolveFlagForm

    def get_summary(self):
        return super().get_summary() + [("Flag", self.payment.flag_reason or "-")]

    def run(self, form):
        refunds.payment_resolve_flag(
            payment_id=self.payment.pk, actor=self.request.user, note=form.cleaned_data["note"]
        )
        return "Flag resolved."
