"""Bookings in the Wagtail admin: list, detail (guests, payments, balance, history) and the
cancel by staff or by the property's owner."""

import django_filters
from django import forms
from django.contrib.admin.utils import quote
from django.conf import settings
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import FormView
from wagtail.admin import messages
from wagtail.admin.filters import DateRangePickerWidget
from wagtail.admin.ui.tables import TitleColumn
from wagtail.admin.views.generic import WagtailAdminTemplateMixin
from wagtail.admin.widgets.button import Button
from wagtail.permissions import policy_registry

from accounts.selectors import user_can_view_id_photo
from core.admin_views import (
    AmountColumn,
    BadgeColumn,
    ClampedTextColumn,
    DayRangeColumn,
    MomentColumn,
    RelatedSearchMixin,
    ScopedIndexView,
    ScopedInspectView,
    format_kes,
)
from core.exceptions import ApplicationError
from core.filters import AdminFilterSet
from core.selectors import audit_list_for_object
from reservations.models import Booking
from reservations.permissions import booking_permission_policy, properties_visible_to
from reservations.cancellation import booking_cancellation_terms
from reservations.deadlines import check_in_at
from reservations.staff_services import booking_owner_cancel, booking_staff_cancel

URL_NAMESPACE = "wagtailsnippets_reservations_booking"


def booking_admin_url(name: str, booking_id: int) -> str:
    return reverse(f"{URL_NAMESPACE}:{name}", args=(quote(booking_id),))


class BookingFilterSet(AdminFilterSet):
    status = django_filters.ChoiceFilter(
        label="Status", choices=Booking.Status.choices, empty_label="All", widget=forms.RadioSelect
    )
    check_in = django_filters.DateFromToRangeFilter(label="Check-in", widget=DateRangePickerWidget)
    booking_date = django_filters.DateFromToRangeFilter(label="Booked on", widget=DateRangePickerWidget)
    property = django_filters.ModelChoiceFilter(
        label="Property",
        field_name="property",
        empty_label="All properties",
        queryset=lambda request: properties_visible_to(request.user).order_by("title"),
    )

    class Meta:
        model = Booking
        fields = ["status", "check_in", "booking_date", "property"]


BOOKING_TONES = {
    Booking.Status.CONFIRMED: "positive",
    Booking.Status.PENDING: "pending",
    Booking.Status.PROCESSING: "pending",
    Booking.Status.CANCELED: "neutral",
}


def balance_note(booking: Booking) -> str:
    if booking.status == Booking.Status.CANCELED:
        return ""
    return f"{format_kes(booking.balance_due)} due" if booking.balance_due else "Paid in full"


def booking_columns(*, title_column) -> list:
    """The bookings list and report: real dates, shillings with separators, a coloured status.

    Check-in and check-out share one "Stay" column (sorted by check-in) with the nights
    under them, and the balance due sits under the total: the list fits a 1280 px screen
    without scrolling sideways, six-figure totals included. The exports keep every
    amount in its own column.
    """
    return [
        title_column,
        ClampedTextColumn("property", label="Property", accessor="property.title", sort_key="property__title"),
        ClampedTextColumn("guest", label="Guest", accessor="primary_guest.name"),
        DayRangeColumn(
            "stay",
            label="Stay",
            start="check_in",
            end="check_out",
            note=lambda b: f"{b.nights} night{pluralize(b.nights)}",
            sort_key="check_in",
        ),
        BadgeColumn(
            "status",
            label="Status",
            accessor="get_status_display",
            tone=lambda b: BOOKING_TONES.get(b.status, "neutral"),
            sort_key="status",
        ),
        AmountColumn("total_price", label="Total", note=balance_note, sort_key="total_price"),
        MomentColumn("booking_date", label="Booked", sort_key="booking_date"),
    ]


class BookingIndexView(RelatedSearchMixin, ScopedIndexView):
    # Guest name, property, reference and email come from the viewset's search_fields
    # (reservations/wagtail_hooks.py); these find a booking by its payments or guests' phones.
    search_phone_lookups = {
        "payments__phone_number": "msisdn",
        "payments__received_phone": "msisdn",
        "primary_guest__phone_number": "e164",
        "guests__phone_number": "e164",
    }

    @cached_property
    def columns(self):
        title = self._get_title_column_class(TitleColumn)(
            "reference",
            label="Reference",
            get_url=self.get_inspect_url,
            sort_key="reference",
            classname="w-whitespace-nowrap",
        )
        return booking_columns(title_column=title)

    def get_list_more_buttons(self, instance):
        return super().get_list_more_buttons(instance) + booking_action_buttons(self.request.user, instance)


def booking_cancel_kind_for(user, booking: Booking) -> str:
    """Who `user` cancels `booking` as: "staff", "owner" (their own property's booking,
    before check-in), or "" when they may not cancel it (or it is cancelled already)."""
    if booking.status == Booking.Status.CANCELED:
        return ""
    if booking_permission_policy.user_has_permission(user, "cancel"):
        return Booking.CancelKind.STAFF
    owns = user.is_authenticated and booking.property.owner_id == user.pk
    if owns and booking_permission_policy.user_has_permission_for_instance(user, "view", booking):
        return Booking.CancelKind.OWNER if check_in_at(booking.check_in) > timezone.now() else ""
    return ""


def booking_action_buttons(user, booking: Booking) -> list[Button]:
    if booking_cancel_kind_for(user, booking):
        return [Button("Cancel booking", url=booking_admin_url("cancel", booking.pk), icon_name="cross", priority=40)]
    return []


class BookingInspectView(ScopedInspectView):
    template_name = "backoffice/booking_inspect.html"

    def get_object(self, queryset=None):
        booking = super().get_object(queryset)
        return Booking.objects.select_related("property__owner", "primary_guest").get(pk=booking.pk)

    def get_page_subtitle(self):
        return f"{self.object.reference} · {self.object.property.title}"

    def get_header_more_buttons(self):
        return sorted(booking_action_buttons(self.request.user, self.object))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        booking = self.object
        viewer = self.request.user
        guests = []
        for guest in booking.guests.select_related("user"):
            photo_url = ""
            if guest.user and guest.user.id_photo and user_can_view_id_photo(viewer=viewer, subject=guest.user):
                photo_url = reverse("accounts:id_photo", args=(guest.user.pk,))
            guests.append(
                {
                    "guest": guest,
                    "credit_score": guest.user.credit_score if guest.user else None,
                    "id_photo_url": photo_url,
                }
            )
        payments = []
        for payment in booking.payments.select_related("initiated_by").order_by("created_at", "pk"):
            # The payments app registers its policy with Wagtail; reservations never imports it.
            can_open = policy_registry.get(payment).user_has_permission_for_instance(viewer, "view", payment)
            payments.append(
                {
                    "payment": payment,
                    "url": reverse("wagtailsnippets_mpesa_payment:inspect", args=(quote(payment.pk),))
                    if can_open
                    else "",
                }
            )
        context.update(
            {
                "booking": booking,
                "guests": guests,
                "payments": payments,
                "audit_entries": list(audit_list_for_object(booking)[:100]),
                "action_buttons": booking_action_buttons(viewer, booking),
            }
        )
        return context


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=150,
        help_text="Shown to the guest in the cancellation email.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class BookingCancelView(WagtailAdminTemplateMixin, FormView):
    """Cancel from the admin: staff (kind staff) any booking, an owner (kind owner) a booking
    of their own property before check-in. Either way everything paid goes back to the
    phones that paid (the payments app creates the refunds); the page says how much first."""

    template_name = "backoffice/action_form.html"
    form_class = CancelForm
    page_title = "Cancel booking"
    header_icon = "cross"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        # Scoped by the policy first (another owner's booking: 404), then: may this user cancel it?
        self.booking = booking_permission_policy.get_instance_for_user_or_404(
            request.user, "view", kwargs["pk"], queryset=Booking.objects.select_related("property", "primary_guest")
        )
        if booking_permission_policy.user_has_permission(request.user, "cancel"):
            self.kind = Booking.CancelKind.STAFF
        elif self.booking.property.owner_id == request.user.pk:
            self.kind = Booking.CancelKind.OWNER
        else:
            raise Http404

    def dispatch(self, request, *args, **kwargs):
        # The POST goes to the service, which checks again under the booking's lock.
        if request.method == "GET" and not booking_cancel_kind_for(request.user, self.booking):
            if self.booking.status == Booking.Status.CANCELED:
                messages.error(request, f"Booking {self.booking.reference} is already cancelled.")
            else:
                messages.error(request, "The stay has already begun: ask Nexus staff to cancel it.")
            return HttpResponseRedirect(self.get_inspect_url())
        return super().dispatch(request, *args, **kwargs)

    def get_inspect_url(self):
        return booking_admin_url("inspect", self.booking.pk)

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": reverse(f"{URL_NAMESPACE}:list"), "label": "Bookings"},
            {"url": self.get_inspect_url(), "label": self.booking.reference},
            {"url": "", "label": self.page_title},
        ]

    def refund_text(self) -> str:
        b = self.booking
        terms = booking_cancellation_terms(booking=b, policy=b.property.cancellation_policy, kind=self.kind)
        if terms.refund_amount <= 0:
            return "Nothing has been paid, so nothing is refunded."
        text = f"{format_kes(terms.refund_amount)} (everything paid) goes back through M-Pesa to the phone that paid."
        if terms.refund_amount > settings.REFUND_APPROVAL_THRESHOLD:
            text += (
                f" Above {format_kes(settings.REFUND_APPROVAL_THRESHOLD)}, a Nexus staff member approves the"
                " refund before it is sent."
            )
        return text

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        b = self.booking
        context.update(
            {
                "object": b,
                "cancel_url": self.get_inspect_url(),
                "submit_label": "Cancel booking",
                "summary": [
                    ("Booking", b.reference),
                    ("Property", b.property.title),
                    ("Guest", b.primary_guest.name),
                    ("Stay", f"{b.check_in:%d %b %Y} to {b.check_out:%d %b %Y}"),
                    ("Status", b.get_status_display()),
                    ("Paid", format_kes(b.amount_paid)),
                    ("Refund", self.refund_text()),
                ],
            }
        )
        return context

    def form_valid(self, form):
        reason = form.cleaned_data["reason"]
        try:
            if self.kind == Booking.CancelKind.OWNER:
                _booking, refunds = booking_owner_cancel(
                    booking_id=self.booking.pk, actor=self.request.user, reason=reason
                )
            else:
                booking_staff_cancel(booking_id=self.booking.pk, actor=self.request.user, reason=reason)
                refunds = None
        except ApplicationError as error:
            form.add_error(None, error.message)
            return self.form_invalid(form)
        message = f"Booking {self.booking.reference} cancelled."
        if refunds:
            total = sum(int(r.get("amount") or 0) for r in refunds)
            message += f" {format_kes(total)} is being refunded to the guest ({len(refunds)} refund{pluralize(len(refunds))})."
        messages.success(self.request, message)
        return HttpResponseRedirect(self.get_inspect_url())
