"""The booking box on a property page: reservations' part of the page's context.

Registered with listings.page_context at start-up (ReservationsConfig.ready()), so the
listing page shows the booking form without listings importing reservations.
"""

from django.conf import settings

from reservations.forms import BOOKING_DRAFT_SESSION_KEY, BookingRequestForm, co_guest_formset


def property_page_booking_box(*, page, request, initial: dict) -> dict:
    """The booking form, filled in with the stay carried from a search (`initial`), and a
    co-guest row per guest beyond the booker."""
    booking_form = BookingRequestForm(property=page, initial=initial)
    guests = booking_form.initial.get("guests", 1)
    coguests = co_guest_formset(initial=_co_guest_initial(request, page), rows=guests - 1)
    return {"booking_form": booking_form, "co_guest_formset": coguests}


def _co_guest_initial(request, page) -> list[dict]:
    """Co-guests typed before a login or sign-up interrupted the booking (kept in the session)."""
    if not request.COOKIES.get(settings.SESSION_COOKIE_NAME):
        return []  # no session to read: spare the lookup
    draft = request.session.get(BOOKING_DRAFT_SESSION_KEY) or {}
    return list(draft.get("co_guests", [])) if draft.get("property") == page.pk else []
