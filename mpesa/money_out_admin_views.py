"""Staff actions on money going out, in the Wagtail admin: approve or retry a refund, hold,
release or retry a payout.

Each action is a confirmation page (GET: what is about to happen) and a POST with Django's
CSRF check that calls the one service that may change the row (mpesa.refunds_out,
mpesa.payouts); a refusal from the service (ApplicationError: the same staff member
approving their own request, a row no longer in the right state) is shown on the page.
The row is fetched through the permission policy for the action (mpesa/permissions.py):
owners, who only read refunds and payouts, and anyone asking for a row outside their
scope get a 404. The list and inspect views are in mpesa/money_out_admin.py.
"""

from django import forms
from django.contrib.admin.utils import quote
from django.db.models import Exists, OuterRef
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.views.generic import FormView
from wagtail.admin import messages
from wagtail.admin.views.generic import WagtailAdminTemplateMixin
from wagtail.admin.widgets.button import Button

from core.admin_views import format_kes, format_moment
from core.exceptions import ApplicationError
from mpesa.models import Payout, Refund
from mpesa.payouts import payout_hold, payout_release, payout_retry
from mpesa.permissions import payout_permission_policy, refund_permission_policy
from mpesa.refunds_out import refund_approve, refund_retry

REFUND_URLS = "wagtailsnippets_mpesa_refund"
PAYOUT_URLS = "wagtailsnippets_mpesa_payout"

# What each action needs the row's status to be; the service checks again under its lock.
REFUND_APPROVABLE = (Refund.Status.AWAITING_APPROVAL,)
REFUND_RETRYABLE = (Refund.Status.FAILED,)
# A payout can be held until it is sent (sent_at still empty).
PAYOUT_HOLDABLE = (Payout.Status.SCHEDULED, Payout.Status.QUEUED)
PAYOUT_RELEASABLE = (Payout.Status.HELD,)
PAYOUT_RETRYABLE = (Payout.Status.FAILED,)


def refund_admin_url(name: str, refund_id: int) -> str:
    return reverse(f"{REFUND_URLS}:{name}", args=(quote(refund_id),))


def payout_admin_url(name: str, payout_id: int) -> str:
    return reverse(f"{PAYOUT_URLS}:{name}", args=(quote(payout_id),))


def refund_title(refund: Refund) -> str:
    return f"Refund #{refund.pk}"


def payout_title(payout: Payout) -> str:
    return f"Payout #{payout.pk}"


def annotate_retried(queryset):
    """`is_retried`: a FAILED row already has its new attempt (retry_of points at it).
    One subquery, so list buttons cost no query per row."""
    model = queryset.model
    return queryset.annotate(is_retried=Exists(model._default_manager.filter(retry_of=OuterRef("pk"))))


def _is_retried(transfer) -> bool:
    value = getattr(transfer, "is_retried", None)
    if value is None:
        value = type(transfer)._default_manager.filter(retry_of=transfer).exists()
    return bool(value)


def _button(label: str, url: str, icon: str, priority: int) -> Button:
    return Button(label, url=url, icon_name=icon, priority=priority)


def refund_action_buttons(user, refund: Refund) -> list[Button]:
    """The actions this user may take on this refund now (none for owners)."""
    policy = refund_permission_policy
    buttons = []
    if refund.status in REFUND_APPROVABLE and policy.user_has_permission(user, "approve"):
        buttons.append(_button("Approve refund", refund_admin_url("approve", refund.pk), "tick", 30))
    if refund.status in REFUND_RETRYABLE and not _is_retried(refund) and policy.user_has_permission(user, "retry"):
        buttons.append(_button("Retry refund", refund_admin_url("retry", refund.pk), "rotate", 40))
    return buttons


def payout_action_buttons(user, payout: Payout) -> list[Button]:
    """The actions this user may take on this payout now (none for owners)."""
    policy = payout_permission_policy
    buttons = []
    if payout.status in PAYOUT_HOLDABLE and payout.sent_at is None and policy.user_has_permission(user, "hold"):
        buttons.append(_button("Hold payout", payout_admin_url("hold", payout.pk), "lock", 30))
    if payout.status in PAYOUT_RELEASABLE and policy.user_has_permission(user, "release"):
        buttons.append(_button("Release payout", payout_admin_url("release", payout.pk), "lock-open", 40))
    if payout.status in PAYOUT_RETRYABLE and not _is_retried(payout) and policy.user_has_permission(user, "retry"):
        buttons.append(_button("Retry payout", payout_admin_url("retry", payout.pk), "rotate", 50))
    return buttons


# -- the confirmation pages ----------------------------------------------------------------


class NoFieldsForm(forms.Form):
    """A confirmation with nothing to type: the POST (with its CSRF token) is the consent."""


class HoldForm(forms.Form):
    reason = forms.CharField(
        label="Why hold it?",
        max_length=255,
        help_text="Recorded in the audit trail and shown on the payout.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class _TransferActionView(WagtailAdminTemplateMixin, FormView):
    """One action on one refund or payout, fetched through the policy for the action (out of
    scope, or an owner: 404). A row not in a state the action applies to is refused with a
    message on the GET; on the POST the service decides (a race is its refusal, shown here)."""

    template_name = "backoffice/action_form.html"
    form_class = NoFieldsForm
    policy = None
    model = None
    action = ""
    allowed_statuses: tuple = ()
    submit_label = "Confirm"
    header_icon = "resubmit"
    list_label = ""
    url_namespace = ""

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.object = self.policy.get_instance_for_user_or_404(
            request.user, self.action, kwargs["pk"], queryset=self.get_queryset()
        )

    def get_queryset(self):
        return self.model._default_manager.select_related("booking__property")

    def dispatch(self, request, *args, **kwargs):
        if request.method == "GET":
            refusal = self.refusal()
            if refusal:
                messages.error(request, refusal)
                return HttpResponseRedirect(self.get_inspect_url())
        return super().dispatch(request, *args, **kwargs)

    def refusal(self) -> str:
        """Why this action does not apply to the row now ("" when it does)."""
        if self.object.status not in self.allowed_statuses:
            return f"{self.get_title()} is “{self.object.get_status_display()}”: {self.page_title.lower()} does not apply."
        return ""

    def get_title(self) -> str:
        raise NotImplementedError

    def get_inspect_url(self) -> str:
        return reverse(f"{self.url_namespace}:inspect", args=(quote(self.object.pk),))

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": reverse(f"{self.url_namespace}:list"), "label": self.list_label},
            {"url": self.get_inspect_url(), "label": self.get_title()},
            {"url": "", "label": self.get_page_title()},
        ]

    def get_summary(self) -> list[tuple[str, object]]:
        raise NotImplementedError

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            {
                "object": self.object,
                "cancel_url": self.get_inspect_url(),
                "submit_label": self.submit_label,
                "summary": self.get_summary(),
            }
        )
        return context

    def run(self, form) -> tuple[str, str]:
        """Call the service; return (message, URL to go to)."""
        raise NotImplementedError

    def form_valid(self, form):
        try:
            message, next_url = self.run(form)
        except ApplicationError as error:
            form.add_error(None, error.message)
            return self.form_invalid(form)
        messages.success(self.request, message)
        return HttpResponseRedirect(next_url)


class _RefundActionView(_TransferActionView):
    policy = refund_permission_policy
    model = Refund
    list_label = "Refunds"
    url_namespace = REFUND_URLS

    def get_queryset(self):
        return Refund.objects.select_related("booking__property", "payment", "requested_by")

    def get_title(self) -> str:
        return refund_title(self.object)

    def get_summary(self):
        r = self.object
        return [
            ("Booking", f"{r.booking.reference} · {r.booking.property.title}"),
            ("Amount", format_kes(r.amount)),
            ("Method", r.get_method_display()),
            ("To phone", r.phone_number),
            ("M-Pesa receipt refunded", r.payment.mpesa_receipt_number or "-"),
            ("Reason", r.reason),
            ("Asked by", (r.requested_by.name or r.requested_by.email) if r.requested_by else "Nexus (automatic)"),
            ("Status", r.get_status_display()),
        ]


class RefundApproveView(_RefundActionView):
    """The second staff member's approval of a refund above REFUND_APPROVAL_THRESHOLD."""

    action = "approve"
    allowed_statuses = REFUND_APPROVABLE
    page_title = "Approve refund"
    submit_label = "Approve and send"
    header_icon = "tick"

    def get_summary(self):
        summary = super().get_summary()
        if self.object.requested_by_id == self.request.user.pk:
            summary.append(("Note", "You asked for this refund: another staff member must approve it."))
        else:
            summary.append(("After approving", f"{format_kes(self.object.amount)} is sent through M-Pesa at once."))
        return summary

    def run(self, form):
        refund = refund_approve(refund_id=self.object.pk, actor=self.request.user)
        return (
            f"Refund #{refund.pk} approved: {format_kes(refund.amount)} to {refund.phone_number} is on its way.",
            self.get_inspect_url(),
        )


class RefundRetryView(_RefundActionView):
    """A failed refund sent again as a new attempt (same payment, same money)."""

    action = "retry"
    allowed_statuses = REFUND_RETRYABLE
    page_title = "Retry refund"
    submit_label = "Send it again"
    header_icon = "rotate"

    def refusal(self) -> str:
        refusal = super().refusal()
        if not refusal and _is_retried(self.object):
            return f"{self.get_title()} was already retried."
        return refusal

    def get_summary(self):
        r = self.object
        return super().get_summary() + [
            ("Why it failed", r.failure_reason or r.result_desc or "-"),
            ("After retrying", f"A new refund of {format_kes(r.amount)} is created and sent (or waits for approval)."),
        ]

    def run(self, form):
        retry = refund_retry(refund_id=self.object.pk, actor=self.request.user)
        return (
            f"Refund #{self.object.pk} retried as refund #{retry.pk}: {retry.get_status_display()}.",
            refund_admin_url("inspect", retry.pk),
        )


class _PayoutActionView(_TransferActionView):
    policy = payout_permission_policy
    model = Payout
    list_label = "Payouts"
    url_namespace = PAYOUT_URLS

    def get_queryset(self):
        return Payout.objects.select_related("booking__property", "owner", "held_by")

    def get_title(self) -> str:
        return payout_title(self.object)

    def get_summary(self):
        p = self.object
        return [
            ("Booking", f"{p.booking.reference} · {p.booking.property.title}"),
            ("Owner", p.owner.name or p.owner.email),
            ("Amount", f"{format_kes(p.amount)} (of {format_kes(p.gross)}, commission {format_kes(p.commission)})"),
            ("To", payout_destination(p) or "No payout number yet"),
            ("Due", format_moment(p.due_at)),
            ("Status", p.get_status_display()),
        ]


def payout_destination(payout: Payout) -> str:
    if payout.method == Payout.Method.B2C or (not payout.method and payout.phone_number):
        return payout.phone_number
    if payout.method == Payout.Method.PAYBILL:
        return f"Paybill {payout.business_number}, account {payout.account_reference}"
    if payout.method == Payout.Method.TILL:
        return f"Till {payout.business_number}"
    return ""


class PayoutHoldView(_PayoutActionView):
    action = "hold"
    allowed_statuses = PAYOUT_HOLDABLE
    page_title = "Hold payout"
    submit_label = "Hold payout"
    header_icon = "lock"
    form_class = HoldForm

    def refusal(self) -> str:
        refusal = super().refusal()
        if not refusal and self.object.sent_at is not None:
            return f"{self.get_title()} has already been sent to M-Pesa."
        return refusal

    def run(self, form):
        payout = payout_hold(payout_id=self.object.pk, actor=self.request.user, reason=form.cleaned_data["reason"])
        return f"Payout #{payout.pk} is held: it will not be sent until it is released.", self.get_inspect_url()


class PayoutReleaseView(_PayoutActionView):
    action = "release"
    allowed_statuses = PAYOUT_RELEASABLE
    page_title = "Release payout"
    submit_label = "Release payout"
    header_icon = "lock-open"

    def get_summary(self):
        p = self.object
        return super().get_summary() + [
            ("Held", f"{format_moment(p.held_at)} by {p.held_by.name if p.held_by else '-'}: {p.hold_reason or '-'}"),
            ("After releasing", "It is sent when due (at once if it is due already)."),
        ]

    def run(self, form):
        payout = payout_release(payout_id=self.object.pk, actor=self.request.user)
        if not Payout.objects.filter(pk=self.object.pk).exists():
            # Released when due with nothing left for the owner: the service dropped it (audited).
            return f"Payout #{self.object.pk} released and dropped: the booking no longer pays its owner anything.", (
                reverse(f"{PAYOUT_URLS}:list")
            )
        if payout.status == Payout.Status.SCHEDULED and payout.note:
            return f"Payout #{payout.pk} released; it waits: {payout.note}", self.get_inspect_url()
        return f"Payout #{payout.pk} released: {payout.get_status_display()}.", self.get_inspect_url()


class PayoutRetryView(_PayoutActionView):
    action = "retry"
    allowed_statuses = PAYOUT_RETRYABLE
    page_title = "Retry payout"
    submit_label = "Send it again"
    header_icon = "rotate"

    def refusal(self) -> str:
        refusal = super().refusal()
        if not refusal and _is_retried(self.object):
            return f"{self.get_title()} was already retried."
        return refusal

    def get_summary(self):
        p = self.object
        return super().get_summary() + [("Why it failed", p.failure_reason or p.result_desc or "-")]

    def run(self, form):
        retry = payout_retry(payout_id=self.object.pk, actor=self.request.user)
        return (
            f"Payout #{self.object.pk} retried as payout #{retry.pk}: {retry.get_status_display()}.",
            payout_admin_url("inspect", retry.pk),
        )
