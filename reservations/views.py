"""The guest's booking pages: make a booking from a property page, manage its
guests, list one's bookings. Paying for a booking (the pay form and the live status the
page polls) is the payments app's: mpesa.site_views, shown on the page through
reservations.site_context's registered parts.

Views translate between HTML forms and the services; every rule (availability,
price, who may pay how much) is the services' and selectors'. Failures come back
as plain words on the page, never as an error page.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import ValidationError as DrfValidationError

from core.exceptions import ApplicationError
from listings.selectors import property_get_public
from reservations import services
from reservations.apis import BookingUserThrottle
from reservations.guest_cancellation import guest_cancellation
from reservations.guest_services import booking_guest_remove as booking_guest_remove_service
from reservations.invitations import booking_guest_invitation_resend, booking_invitation_accept, invitation_get
from reservations.forms import (
    BOOKING_DRAFT_SESSION_KEY,
    CO_GUEST_PREFIX,
    MAX_CO_GUEST_ROWS,
    BookingRequestForm,
    CoGuestAddForm,
    co_guest_formset,
)
from reservations.selectors import booking_get_for_user, booking_list_for_user
from reservations.site_context import booking_page_context, my_bookings_context

BOOKING_THROTTLED_MESSAGE = (
    "Too many bookings from your account in a short time. Please wait a while and try again, "
    "or finish paying for the bookings you already have."
)
DATES_TAKEN_MESSAGE = (
    "Sorry, some of those nights have just been booked by someone else. "
    "The calendar below shows what is still free: please choose other dates."
)


def _error_messages(error) -> dict[str, list[str]]:
    """Field -> messages from a Django or DRF ValidationError ("__all__" for the rest)."""
    if isinstance(error, DrfValidationError):
        detail = error.detail
        if isinstance(detail, dict):
            return {key: _flatten(value) for key, value in detail.items()}
        return {"__all__": _flatten(detail)}
    if hasattr(error, "error_dict"):
        return {key: [m for e in errs for m in e.messages] for key, errs in error.error_dict.items()}
    return {"__all__": list(error.messages)}


def _flatten(value) -> list[str]:
    if isinstance(value, dict):
        return [m for v in value.values() for m in _flatten(v)]
    if isinstance(value, (list, tuple)):
        return [m for v in value for m in _flatten(v)]
    return [str(value)]


def _add_errors(form, errors: dict[str, list[str]], *, field_map: dict | None = None) -> None:
    field_map = field_map or {}
    for key, texts in errors.items():
        field = field_map.get(key, key)
        for text in texts:
            form.add_error(field if field in form.fields else None, text)


# --- Booking a stay ----------------------------------------------------------------------


@require_POST
def booking_create(request):
    """The booking box on a property page posts here."""
    try:
        property_id = int(request.POST.get("property", ""))
    except ValueError:
        raise Http404("No such property.") from None
    page = property_get_public(property_id=property_id)

    if not request.user.is_authenticated:
        # Keep what they typed: the login/sign-up page sends them back to the filled-in form.
        # Dates and party size travel in the URL; co-guests' names and contacts stay in
        # the session (login keeps its data), out of URLs, logs and browser history.
        carried = {key: request.POST[key] for key in ("check_in", "check_out", "guests") if request.POST.get(key)}
        request.session[BOOKING_DRAFT_SESSION_KEY] = {"property": page.pk, "co_guests": _typed_co_guests(request.POST)}
        back = f"{page.url}?{urlencode(carried)}#book"
        messages.info(request, "Log in or create an account to book. We kept your dates.")
        return redirect(f"{reverse('accounts:login')}?{urlencode({'next': back})}")

    form = BookingRequestForm(request.POST, property=page)
    coguests = co_guest_formset(data=request.POST)
    if _booking_throttled(request):
        form.is_valid()  # the page shows again with what was typed
        form.add_error(None, BOOKING_THROTTLED_MESSAGE)
        return _render_property_with_form(request, page, form, coguests, status=429)
    status = 400
    if form.is_valid() and coguests.is_valid():
        guests = [
            {key: value for key, value in row.cleaned_data.items() if value} for row in coguests.forms
        ]
        if len(guests) != form.cleaned_data["guests"] - 1:
            form.add_error(
                None,
                f"You chose {form.cleaned_data['guests']} guests: add the name of each person travelling with you.",
            )
        else:
            try:
                booking = services.booking_create(
                    user=request.user,
                    property_id=page.pk,
                    check_in=form.cleaned_data["check_in"],
                    check_out=form.cleaned_data["check_out"],
                    guests=guests,
                )
            except ApplicationError as error:
                status = error.status
                form.add_error(None, DATES_TAKEN_MESSAGE if error.code == "dates_unavailable" else error.message)
            except (DrfValidationError, DjangoValidationError) as error:
                _add_errors(form, _error_messages(error), field_map={"property": None})
            else:
                request.session.pop(BOOKING_DRAFT_SESSION_KEY, None)
                minutes = _hold_minutes(booking)
                hold = f" We're holding these dates for {minutes} minutes." if minutes else ""
                messages.success(request, f"Booking {booking.reference} created.{hold} Pay a deposit or the full amount to secure it.")
                return redirect("reservations:booking_detail", booking_id=booking.pk)
    return _render_property_with_form(request, page, form, coguests, status=status)


def _booking_throttled(request) -> bool:
    """The bookings API's own per-user throttle (one counter for both), applied to the form."""
    throttle = BookingUserThrottle()
    return not throttle.allow_request(request, None)


def _typed_co_guests(data) -> list[dict]:
    rows = []
    for index in range(MAX_CO_GUEST_ROWS):
        prefix = f"{CO_GUEST_PREFIX}-{index}-"
        if prefix + "name" not in data:
            break
        rows.append({field: str(data.get(prefix + field, ""))[:150] for field in ("name", "email", "phone_number")})
    return rows


def _hold_minutes(booking) -> int | None:
    if not booking.hold_expires_at:
        return None
    return max(round((booking.hold_expires_at - timezone.now()).total_seconds() / 60), 1)


def _render_property_with_form(request, page, form, coguests, *, status: int):
    """The property page again, with what the guest typed and why it was refused."""
    rows = form.cleaned_data.get("guests") if hasattr(form, "cleaned_data") else None
    if rows and coguests.total_form_count() != rows - 1:
        # Party size changed without JavaScript: show one row per co-guest, keeping what was typed.
        typed = [{k: f.data.get(f.add_prefix(k), "") for k in ("name", "email", "phone_number")} for f in coguests.forms]
        coguests = co_guest_formset(initial=typed, rows=rows - 1)
    context = page.get_context(request)
    context.update({"booking_form": form, "co_guest_formset": coguests, "booking_failed": True})
    return render(request, page.get_template(request), context, status=status)


# --- One booking ---------------------------------------------------------------------------


@never_cache
@login_required
def booking_detail(request, booking_id: int):
    booking = booking_get_for_user(user=request.user, booking_id=booking_id)
    context = booking_page_context(request=request, booking=booking)
    return render(request, "reservations/booking_detail.html", context)


@login_required
@require_POST
def booking_guest_add(request, booking_id: int):
    booking = booking_get_for_user(user=request.user, booking_id=booking_id)
    form = CoGuestAddForm(request.POST, prefix="add")
    if form.is_valid():
        try:
            guest = services.booking_guest_add(booking_id=booking.pk, actor=request.user, **form.cleaned_data)
        except ApplicationError as error:
            form.add_error(None, error.message)
        except (DrfValidationError, DjangoValidationError) as error:
            _add_errors(form, _error_messages(error))
        else:
            invited = " We emailed them an invitation to join it." if guest.invited_at else ""
            messages.success(request, f"{guest.name} added to your booking.{invited}")
            return redirect(f"{reverse('reservations:booking_detail', args=[booking.pk])}#guests")
    context = booking_page_context(request=request, booking=booking, guest_form=form)
    return render(request, "reservations/booking_detail.html", context, status=400)


@login_required
@require_POST
def booking_guest_remove(request, booking_id: int, guest_id: int):
    booking = booking_get_for_user(user=request.user, booking_id=booking_id)
    try:
        guest = booking_guest_remove_service(booking_id=booking.pk, guest_id=guest_id, actor=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{guest.name} removed from your booking.")
    return redirect(f"{reverse('reservations:booking_detail', args=[booking.pk])}#guests")


@login_required
@require_POST
def booking_guest_invite(request, booking_id: int, guest_id: int):
    """The booker sends a co-guest's invitation again; the earlier link stops working."""
    booking = booking_get_for_user(user=request.user, booking_id=booking_id)
    try:
        guest = booking_guest_invitation_resend(booking_id=booking.pk, guest_id=guest_id, actor=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"We sent {guest.name} a new invitation. Earlier links no longer work.")
    return redirect(f"{reverse('reservations:booking_detail', args=[booking.pk])}#guests")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def invitation_accept(request, token: str):
    """The link in a co-guest's invitation email: GET shows what accepting does, POST accepts.

    Logged-out visitors are sent to log in (or sign up) and come back here. Opening the link
    changes nothing; only the POST links the account.
    """
    try:
        guest = invitation_get(token=token)
        if request.method == "POST":
            booking = booking_invitation_accept(token=token, user=request.user)
            messages.success(request, f"You have joined booking {booking.reference}.")
            return redirect("reservations:booking_detail", booking_id=booking.pk)
    except ApplicationError as error:
        return render(request, "reservations/invitation.html", {"error": error.message}, status=error.status)
    context = {"guest": guest, "booking": guest.booking, "inviter": guest.booking.primary_guest}
    return render(request, "reservations/invitation.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def booking_cancel(request, booking_id: int):
    """"Cancel this booking": GET is the confirmation (what comes back, under the listing's
    policy), the page the button opens without JavaScript; the dialog on the booking page
    shows the same and posts here. POST cancels, when the refund it carries
    (`expected_refund`) is still the refund: otherwise the confirmation comes back with the
    new figure, so nobody confirms an amount they were not shown."""
    booking = booking_get_for_user(user=request.user, booking_id=booking_id)
    detail = reverse("reservations:booking_detail", args=[booking.pk])
    if booking.primary_guest_id != request.user.pk:
        messages.error(request, "Only the guest who made the booking can cancel it.")
        return redirect(detail)
    quote = guest_cancellation(booking)
    if request.method == "GET" or not quote.allowed:
        if not quote.allowed:
            messages.error(request, quote.refusal)
            return redirect(detail)
        return _cancel_confirmation(request, booking, quote)
    expected = request.POST.get("expected_refund", "").strip()
    if booking.amount_paid and expected != str(quote.terms.refund_amount):
        changed = "" if not expected else (
            "The refund has changed since the page was opened. Please check the new amount before you confirm."
        )
        return _cancel_confirmation(request, booking, quote, changed=changed, status=409 if expected else 200)
    try:
        services.booking_cancel(booking_id=booking.pk, actor=request.user, reason="Cancelled by the guest")
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(detail)
    refund = quote.terms.refund_amount
    if refund:
        messages.success(
            request,
            f"Booking {booking.reference} is cancelled and the dates are released. "
            f"KES {refund:,} is being refunded to the phone that paid.",
        )
    else:
        messages.success(request, f"Booking {booking.reference} is cancelled and the dates are released.")
    return redirect(f"{detail}#refunds" if refund else detail)


def _cancel_confirmation(request, booking, quote, *, changed: str = "", status: int = 200):
    context = {
        "booking": booking,
        "property_page": booking.property,
        "terms": quote.terms,
        "policy_text": booking.property.get_cancellation_policy_display(),
        "changed": changed,
    }
    return render(request, "reservations/booking_cancel.html", context, status=status)


# --- My bookings -----------------------------------------------------------------------------


@never_cache
@login_required
def my_bookings(request):
    bookings = booking_list_for_user(user=request.user)
    return render(request, "reservations/my_bookings.html", my_bookings_context(bookings=bookings, today=timezone.localdate()))
