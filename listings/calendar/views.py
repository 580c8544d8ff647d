"""GET /calendar/<token>.ics: a listing's iCal feed. No sign-in: the token is the secret."""

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_safe

from listings.calendar.export import calendar_export_body, calendar_export_property_id


@require_safe
def calendar_export(request, token: str):
    property_id = calendar_export_property_id(token=token)
    if property_id is None:
        raise Http404
    response = HttpResponse(calendar_export_body(property_id=property_id), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="calendar.ics"'
    # Private to whoever holds the address: no shared cache keeps it, no search engine lists it,
    # and no link followed from it carries the address on in a Referer.
    response["Cache-Control"] = "private, no-cache"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response
