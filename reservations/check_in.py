"""What a guest needs to arrive: the one read behind the booking page, the API and the
confirmation email and SMS, so they can never disagree about what a guest is shown.

The street address, the host's phone and the check-in instructions are given to a guest
only once the booking is CONFIRMED (paid as the property asks): until then they stay
private, the way the public listing shows only the area and town.
"""

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from reservations.models import Booking

# A Google Maps *directions* link rather than an OpenStreetMap map link: on a phone it opens
# the Maps app (on nearly every Android phone in Kenya) straight into turn-by-turn directions
# from where the guest is, which is what a guest on the way to check in wants; an OSM link
# only shows a pin. The site's own map (Leaflet + OSM tiles) still shows where the place is.
DIRECTIONS_URL = "https://www.google.com/maps/dir/"


@dataclass(frozen=True)
class CheckInDetails:
    address: str
    latitude: Decimal | None
    longitude: Decimal | None
    directions_url: str
    host_name: str
    host_phone: str  # E.164 ("+254712345678") or ""
    instructions: str


def directions_url(*, latitude: Decimal | None, longitude: Decimal | None, address: str = "") -> str:
    """A directions link to the coordinates, else to the address; "" when there is neither."""
    if latitude is not None and longitude is not None:
        destination = f"{latitude},{longitude}"
    elif address.strip():
        destination = address.strip()
    else:
        return ""
    # The comma between the coordinates stays readable (Google documents "LAT,LON").
    query = urlencode({"api": "1", "destination": destination}, safe=",")
    return f"{DIRECTIONS_URL}?{query}"


def booking_check_in_details(*, booking: Booking) -> CheckInDetails | None:
    """The check-in details of a CONFIRMED booking; None for any other status."""
    if booking.status != Booking.Status.CONFIRMED:
        return None
    page = booking.property
    owner = page.owner if page.owner_id else None
    # The listing's own number first (a caretaker who meets guests), else the owner's account phone.
    phone = page.host_phone_number or (owner.phone_number if owner is not None else None)
    address = (page.street_address or "").strip()
    return CheckInDetails(
        address=address,
        latitude=page.latitude,
        longitude=page.longitude,
        # Without coordinates, the address with its area and town is what a map can look up.
        directions_url=directions_url(
            latitude=page.latitude,
            longitude=page.longitude,
            address=", ".join(part for part in (address, page.area, page.town) if part) if address else "",
        ),
        host_name=owner.name if owner is not None else "",
        host_phone=phone.as_e164 if phone else "",
        instructions=(page.check_in_instructions or "").strip(),
    )
