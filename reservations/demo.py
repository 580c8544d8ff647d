"""Demo bookings for `seed_demo`: a few stays in each state.

Idempotent: each booking has a fixed reference and is created only when missing.
Rows are written directly (a past stay cannot go through booking_create) with the
amount_paid and balance_due the payments app would derive; its own demo step, which runs
after this one, writes the successful payment rows behind them (core.demo's order).
No notifications are sent for demo data.
"""

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from reservations.models import Booking, BookingGuest

ACHIENG = "guest.achieng@nexus.demo"
BARAKA = "guest.baraka@nexus.demo"

DEMO_BOOKINGS = [
    # reference, listing slug, guest, co-guest emails, days from today, nights, paid share, status
    {
        "reference": "NXDEM2K7A",
        "slug": "diani-beach-cottage",
        "guest": ACHIENG,
        "co_guests": [BARAKA],
        "starts_in": 21,
        "nights": 3,
        "paid": 1.0,
        "status": Booking.Status.CONFIRMED,
    },
    {
        "reference": "NXDEM3K7B",
        "slug": "lake-naivasha-cabin",
        "guest": BARAKA,
        "co_guests": [],
        "starts_in": 10,
        "nights": 2,
        "paid": 0.3,
        "status": Booking.Status.PROCESSING,
    },
    {
        "reference": "NXDEM4K7C",
        "slug": "milimani-lakeside-studio",
        "guest": ACHIENG,
        "co_guests": [],
        "starts_in": -30,
        "nights": 2,
        "paid": 1.0,
        "status": Booking.Status.CONFIRMED,
    },
    {
        "reference": "NXDEM5K7D",
        "slug": "nyali-ocean-view-flat",
        "guest": BARAKA,
        "co_guests": [],
        "starts_in": 45,
        "nights": 2,
        "paid": 0.0,
        "status": Booking.Status.CANCELED,
    },
]


def _user(users: dict, email: str):
    return users.get(email) or User.objects.get(email__iexact=email)


def seed_bookings(*, users: dict, properties: list) -> list[Booking]:
    by_slug = {page.slug: page for page in properties}
    bookings = []
    for spec in DEMO_BOOKINGS:
        existing = Booking.objects.filter(reference=spec["reference"]).first()
        if existing is not None:
            bookings.append(existing)
            continue
        property = by_slug.get(spec["slug"])
        if property is None:
            continue
        try:
            with transaction.atomic():
                bookings.append(_create(spec=spec, property=property, users=users))
        except IntegrityError:
            # Someone already booked these nights on this database: the demo does without this one.
            continue
    return bookings


def _create(*, spec: dict, property, users: dict) -> Booking:
    guest = _user(users, spec["guest"])
    co_guests = [_user(users, email) for email in spec["co_guests"]]
    check_in = timezone.localdate() + dt.timedelta(days=spec["starts_in"])
    # Priced as booking_create prices a stay (listings.pricing: seasons, weekends, discounts).
    quote = property.price_rules().quote(check_in, check_in + dt.timedelta(days=spec["nights"]))
    total = quote.total
    paid = round(total * spec["paid"])
    now = timezone.now()
    booking = Booking.objects.create(
        reference=spec["reference"],
        property=property,
        primary_guest=guest,
        status=spec["status"],
        check_in=check_in,
        check_out=check_in + dt.timedelta(days=spec["nights"]),
        nights=spec["nights"],
        party_size=1 + len(co_guests),
        price_per_night=property.price_per_night,
        total_price=total,
        nightly_prices=quote.nightly_json(),
        amount_paid=paid,
        balance_due=total - paid,
        hold_expires_at=now + dt.timedelta(minutes=15) if spec["status"] == Booking.Status.PENDING else None,
        canceled_at=now if spec["status"] == Booking.Status.CANCELED else None,
        cancel_reason="Hold expired before payment" if spec["status"] == Booking.Status.CANCELED else "",
        cancel_kind=Booking.CancelKind.HOLD_EXPIRED if spec["status"] == Booking.Status.CANCELED else "",
    )
    BookingGuest.objects.bulk_create(
        [
            BookingGuest(
                booking=booking,
                name=guest.name,
                email=guest.email,
                phone_number=str(guest.phone_number),
                user=guest,
                is_primary=True,
            ),
            *[
                BookingGuest(booking=booking, name=co.name, email=co.email, phone_number=str(co.phone_number), user=co)
                for co in co_guests
            ],
        ]
    )
    return booking
