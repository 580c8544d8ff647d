"""The booking page's payment views: the pay form, and the live status the page's script
polls while a payment goes from "check your phone" to paid or failed.

Their paths sit under the booking's (/bookings/<id>/pay/, /bookings/<id>/status/, in
mpesa/site_urls.py); the page itself is reservations', which shows the pay card the
payments app registers (mpesa.site_context). Failures come back as plain words on the
page, or as {"detail", "code"} to the script, never as an error page.
"""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.utils.translation import gettext as _, gettext_lazy

from core.exceptions import ApplicationError
from mpesa.apis import BookingPaymentCreateApi
from mpesa.forms import PaymentForm
from mpesa.selectors import payment_get_for_user
from mpesa.site_context import booking_payments, booking_refunds, payment_progress, refunds_summary
from mpesa.start import payment_start
from reservations.selectors import booking_get_for_user
from reservations.site_context import booking_check_in_html, booking_page_context, booking_status_data

THROTTLED_MESSAGE = gettext_lazy("Too many payment requests in a short time. Please wait a minute and try again.")
NO_SUCH_PAYMENT = gettext_lazy("No such payment.")


@never_cache
@login_required
@require_GET
def booking_status(request, booking_id: int):
    """What the booking page's live panel polls: the booking's figures, its refunds if it
    has any and, with ?payment=<id>, where that payment has got to, in plain words."""
    booking = booking_get_for_user(user=request.user, booking_id=booking_id)
    data = {"booking": booking_status_data(booking), "payments": booking_payments(booking)}
    check_in_html = booking_check_in_html(request=request, booking=booking)
    if check_in_html:
        # Confirmed while the page was open: the check-in section it did not have yet.
        data["check_in_html"] = check_in_html
    refunds = booking_refunds(booking)
    if refunds:
        # A cancelled booking's refunds, until they land (the page keeps polling while any is open).
        data["refunds"] = refunds
        data["refunds_summary"] = refunds_summary(refunds)
    payment_id = request.GET.get("payment")
    if payment_id:
        try:
            payment = payment_get_for_user(user=request.user, payment_id=int(payment_id))
        except (ValueError, Http404):
            return JsonResponse({"detail": str(NO_SUCH_PAYMENT), "code": "not_found"}, status=404)
        if payment.booking_id != booking.pk:
            return JsonResponse({"detail": str(NO_SUCH_PAYMENT), "code": "not_found"}, status=404)
        data["payment"] = payment_progress(payment)
    return JsonResponse(data)


@login_required
@require_POST
def booking_pay(request, booking_id: int):
    """The pay form. The page's script posts it with `Accept: application/json` and follows
    the payment live; without JavaScript it redirects back to the booking page.

    Throttled like the payments API (per user and per phone), so the form is no way
    around the limit on STK prompts.
    """
    booking = booking_get_for_user(user=request.user, booking_id=booking_id)
    wants_json = "application/json" in request.headers.get("Accept", "")
    form = PaymentForm(request.POST)
    status = 400
    code = "invalid"
    if form.is_valid():
        if _payment_throttled(request):
            status, code = 429, "throttled"
            form.add_error(None, THROTTLED_MESSAGE)
        else:
            try:
                # The same service as the API: it also puts back a booking that a failed
                # payment cancelled ("Try again"), and only such a booking.
                payment = payment_start(
                    booking_id=booking.pk,
                    user=request.user,
                    msisdn=form.cleaned_data["phone_number"],
                    amount=form.cleaned_data["amount"],
                )
            except ApplicationError as error:
                status, code = error.status, error.code
                form.add_error(None, error.message)
            else:
                if wants_json:
                    booking.refresh_from_db()
                    return JsonResponse(
                        {"payment": payment_progress(payment), "booking": booking_status_data(booking)}, status=202
                    )
                url = reverse("reservations:booking_detail", args=[booking.pk])
                return HttpResponseRedirect(f"{url}?{urlencode({'payment': payment.pk})}#pay")
    if wants_json:
        errors = {field: list(messages) for field, messages in form.errors.items() if field != "__all__"}
        detail = " ".join(form.non_field_errors()) or _("Please correct the highlighted fields.")
        return JsonResponse({"detail": detail, "code": code, "errors": errors}, status=status)
    booking.refresh_from_db()
    context = booking_page_context(request=request, booking=booking, payment_form=form)
    return render(request, "reservations/booking_detail.html", context, status=status)


def _payment_throttled(request) -> bool:
    """The payments API's own throttles (per user, per target phone), applied to the form."""
    api = BookingPaymentCreateApi()
    api.request, api.args, api.kwargs = request, (), {}
    return any(not throttle.allow_request(request, api) for throttle in api.get_throttles())
