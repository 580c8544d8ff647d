"""A listing's own iCal feed, which the owner pastes into Airbnb or Booking.com.

One VEVENT per active booking and per blocked period (hand-made or imported: the other
sites need every night taken here), as all-day dates with DTEND the check-out day, the way
those sites write their own feeds. What leaves the server is dates and a fixed word
("Booked" or "Not available"): no guest name, email, phone, booking reference or block
reason. UIDs are an HMAC of the row's kind and id, stable from one fetch to the next (so
the reader updates an event rather than adding one) and saying nothing about our ids.

Two queries whatever the size: the token, then one UNION of every occupancy's rows.
"""

import datetime as dt

import icalendar
from django.db.models import CharField, Value
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from listings.calendar.services import calendar_export_token
from listings.models import CalendarExport
from listings.selectors import night_takers

# Stays that ended within this many days are still listed (a reader may lag a few days).
PAST_DAYS = 30
PRODID = "-//Nexus//Calendar export 1.0//EN"
SUMMARIES = {"booking": "Booked (Nexus)"}
DEFAULT_SUMMARY = "Not available (Nexus)"


def calendar_export_url(request, property_id: int) -> str:
    """The absolute address of the listing's feed, as the owner pastes it elsewhere (token made on first use)."""
    token = calendar_export_token(property_id=property_id)
    return request.build_absolute_uri(reverse("calendar_export", kwargs={"token": token}))


def calendar_export_property_id(*, token: str) -> int | None:
    """The listing whose export token this is, or None."""
    if not token or len(token) > 64:
        return None
    return CalendarExport.objects.filter(token=token).values_list("property_id", flat=True).first()


def taken_ranges(*, property_id: int, since: dt.date) -> list[tuple[str, int, dt.date, dt.date]]:
    """(kind, id, start, end) of every row taking nights of the listing and ending after `since`."""
    parts = []
    for taker in night_takers():
        rows = taker.rows()
        kind = rows.model._meta.model_name
        parts.append(
            rows.filter(**{taker.property_field: property_id, f"{taker.end_field}__gt": since})
            .annotate(export_kind=Value(kind, output_field=CharField()))
            .values_list("export_kind", "pk", taker.start_field, taker.end_field)
            .order_by()
        )
    return list(parts[0].union(*parts[1:], all=True))


def _uid(kind: str, pk: int) -> str:
    return salted_hmac("nexus.calendar-export.uid", f"{kind}:{pk}").hexdigest()[:32] + "@nexus"


def calendar_export_body(*, property_id: int, today: dt.date | None = None) -> bytes:
    """The .ics file of one listing."""
    today = today or timezone.localdate()
    stamp = timezone.now().astimezone(dt.UTC).replace(microsecond=0)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    rows = taken_ranges(property_id=property_id, since=today - dt.timedelta(days=PAST_DAYS))
    for kind, pk, start, end in sorted(rows, key=lambda row: (row[2], row[3], row[0], row[1])):
        event = icalendar.Event()
        event.add("uid", _uid(kind, pk))
        event.add("dtstamp", stamp)
        event.add("dtstart", start)  # a date: written as DTSTART;VALUE=DATE
        event.add("dtend", end)  # the check-out day, the first night free again
        event.add("summary", SUMMARIES.get(kind, DEFAULT_SUMMARY))
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical()
