"""The guest's booking pages: make a booking from a property page, manage its
guests, list one's bookings. Paying for a booking (the pay form and the live status the
page polls) is the payments app's: mpesa.site_views, shown on the page through
reservations.site_context's registered parts.

Views translate between HTML forms and the services; every rule (availability,
price, who may pay how much) is the services' and selectors'. Failures come back
as plain words on the page, never as an error page.
"""

import secrets
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
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

# Set once a kept draft has been booked: {"token", "booking"}, so its link opens that booking.
RESUMED_SESSION_KEY = "booking_draft_resumed"

BOOKING_THROTTLED_MESSAGE = gettext_lazy(
    "Too many bookings from your account in a short time. Please wait a while and try again, "
    "or finish paying for the bookings you already have."
)
DATES_TAKEN_MESSAGE = gettext_lazy(
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
        raise Http404(_("No such property.")) from None
    page = property_get_public(property_id=property_id)

    if not request.user.is_authenticated:
        # Keep what they typed in the session (co-guests' names and contacts stay out of
        # URLs, logs and browser history; login keeps the session's data) and come back to
        # the resume view once they have logged in or signed up: it books with the same
        # checks as here. The one-time token in its URL is what makes that GET safe.
        token = secrets.token_urlsafe(16)
        request.session[BOOKING_DRAFT_SESSION_KEY] = {
            "property": page.pk,
            "co_guests": _typed_co_guests(request.POST),
            "stay": {key: str(request.POST.get(key, ""))[:20] for key in ("check_in", "check_out", "guests")},
            "token": token,
        }
        messages.info(request, _("Log in or create an account to book. We kept your dates."))
        resume = f"{reverse('reservations:booking_resume')}?{urlencode({'token': token})}"
        return redirect(f"{reverse('accounts:login')}?{urlencode({'next': resume})}")

    return _book_from_form(request, page, request.POST)


def _book_from_form(request, page, data):
    """Validate the booking box's data, book, and open the booking page; or show the property
    page again with what was typed and why it was refused. (booking_create and booking_resume.)"""
    form = BookingRequestForm(data, property=page)
    coguests = co_guest_formset(data=data)
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
                _("You chose %(count)s guests: add the name of each person travelling with you.")
                % {"count": form.cleaned_data["guests"]},
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
                if minutes:
                    text = _("Booking %(reference)s created. We're holding these dates for %(minutes)s minutes.")
                else:
                    text = _("Booking %(reference)s created.")
                messages.success(request, text % {"reference": booking.reference, "minutes": minutes})
                return redirect("reservations:booking_detail", booking_id=booking.pk)
    return _render_property_with_form(request, page, form, coguests, status=status)


@never_cache
@login_required
@require_GET
def booking_resume(request):
    """Where log-in or sign-up sends a guest who pressed Reserve while logged out: books the
    stay kept in the session (booking_create's checks and service) and opens the booking page.

    A GET that writes, so it only acts with the one-time token the draft was stored with
    (another site cannot know it) and consumes the draft before booking: at most one
    booking per draft. A second visit with the same token goes to that booking; if the
    dates were taken meanwhile, the property page comes back filled in, with the reason.
    """
    token = request.GET.get("token", "")
    done = request.session.get(RESUMED_SESSION_KEY) or {}
    if token and done.get("token") == token:
        return redirect("reservations:booking_detail", booking_id=done["booking"])
    draft = request.session.get(BOOKING_DRAFT_SESSION_KEY) or {}
    if not token or not constant_time_compare(str(draft.get("token", "")), token):
        messages.info(request, _("There is no booking waiting to be confirmed. Choose your dates and press Reserve."))
        return redirect(reverse("reservations:my_bookings"))
    try:
        page = property_get_public(property_id=int(draft.get("property")))
    except (TypeError, ValueError, Http404):
        request.session.pop(BOOKING_DRAFT_SESSION_KEY, None)
        messages.error(request, _("Sorry, that place can no longer be booked."))
        return redirect("/")
    # Claimed once, across processes (the shared cache), before anything is written: a
    # double-loaded page or a replayed redirect finds the claim taken and waits for the booking.
    if not cache.add(f"booking-resume:{token}", True, timeout=600):
        return redirect(reverse("reservations:my_bookings"))
    # The token is spent; what was typed stays for the property page if booking fails.
    request.session[BOOKING_DRAFT_SESSION_KEY] = {key: value for key, value in draft.items() if key != "token"}
    response = _book_from_form(request, page, _draft_as_form_data(draft))
    booking_id = _booking_id_from(response.url) if response.status_code == 302 else None
    if booking_id:
        request.session[RESUMED_SESSION_KEY] = {"token": token, "booking": booking_id}
    return response


def _draft_as_form_data(draft: dict) -> QueryDict:
    """The kept draft as the booking box would post it."""
    data = QueryDict(mutable=True)
    stay = draft.get("stay") or {}
    data.update({"property": str(draft.get("property", "")), **{k: str(v) for k, v in stay.items()}})
    rows = draft.get("co_guests") or []
    data.update({
        f"{CO_GUEST_PREFIX}-TOTAL_FORMS": str(len(rows)),
        f"{CO_GUEST_PREFIX}-INITIAL_FORMS": "0",
        f"{CO_GUEST_PREFIX}-MIN_NUM_FORMS": "0",
        f"{CO_GUEST_PREFIX}-MAX_NUM_FORMS": str(MAX_CO_GUEST_ROWS),
    })
    for index, row in enumerate(rows):
        for key in ("name", "email", "phone_number"):
            data[f"{CO_GUEST_PREFIX}-{index}-{key}"] = str(row.get(key, ""))
    return data


def _booking_id_from(url: str) -> int | None:
    try:
        match = resolve(url)
    except Resolver404:
        return None
    return match.kwargs.get("booking_id") if match.url_name == "booking_detail" else None


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
            if guest.invited_at:
                text = _("%(name)s added to your booking. We emailed them an invitation to join it.")
            else:
                text = _("%(name)s added to your booking.")
            messages.success(request, text % {"name": guest.name})
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
        messages.success(request, _("%(name)s removed from your booking.") % {"name": guest.name})
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
        messages.success(request, _("We sent %(name)s a new invitation. Earlier links no longer work.") % {"name": guest.name})
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
            messages.success(request, _("You have joined booking %(reference)s.") % {"reference": booking.reference})
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
        messages.error(request, _("Only the guest who made the booking can cancel it."))
        return redirect(detail)
    quote = guest_cancellation(booking)
    if request.method == "GET" or not quote.allowed:
        if not quote.allowed:
            messages.error(request, quote.refusal)
            return redirect(detail)
        return _cancel_confirmation(request, booking, quote)
    expected = request.POST.get("expected_refund", "").strip()
    if booking.amount_paid and expected != str(quote.terms.refund_amount):
        changed = "" if not expected else _(
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
            _("Booking %(reference)s is cancelled and the dates are released. "
              "KES %(refund)s is being refunded to the phone that paid.")
            % {"reference": booking.reference, "refund": f"{refund:,}"},
        )
    else:
        messages.success(
            request, _("Booking %(reference)s is cancelled and the dates are released.") % {"reference": booking.reference}
        )
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
