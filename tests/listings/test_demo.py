import io

import pytest
from django.core.management import call_command
from PIL import Image as PILImage
from wagtail.images import get_image_model

from accounts.demo import seed_users
from listings.demo import LISTINGS, seed_listings
from listings.models import PropertyPage
from mpesa.demo import seed_payments
from reservations.demo import DEMO_BOOKINGS, seed_bookings
from reservations.models import ACTIVE_STATUSES, Booking

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """The demo draws some 35 photos per run: keep them out of the shared test media folder."""
    settings.MEDIA_ROOT = tmp_path


TOWNS = {"Nairobi", "Mombasa", "Diani", "Naivasha", "Nanyuki", "Kisumu", "Lamu", "Watamu"}


def test_demo_listings_cover_the_towns_with_photos_amenities_and_two_owners(site_tree):
    users = seed_users()
    pages = seed_listings(users=users)
    live = PropertyPage.objects.live().filter(pk__in=[p.pk for p in pages])
    assert live.count() == len(pages) >= 8
    assert {p.town for p in live} >= TOWNS
    assert {p.owner.email for p in live} == {"owner.amina@nexus.demo", "owner.kip@nexus.demo"}
    for page in live:
        photos = list(page.gallery_images.all())
        assert 3 <= len(photos) <= 5, page.title
        assert all(photo.caption for photo in photos)
        assert page.amenities.count() >= 3
        assert page.price_per_night > 0
    with live.first().gallery_images.first().image.file.open("rb") as stream:
        picture = PILImage.open(io.BytesIO(stream.read()))
        assert picture.size == (1200, 800)


def test_demo_bookings_are_consistent_with_their_payments(site_tree):
    users = seed_users()
    pages = seed_listings(users=users)
    bookings = seed_bookings(users=users, properties=pages)
    seed_payments(bookings=bookings)  # the payments app's step, run after this one by seed_demo
    assert len(bookings) >= 3
    assert {b.status for b in bookings} >= {"CONFIRMED", "PROCESSING", "CANCELED"}
    for booking in bookings:
        paid = sum(p.received_amount for p in booking.payments.filter(status="SUCCESS", kind="PAYMENT"))
        assert booking.amount_paid == paid
        assert booking.balance_due == booking.total_price - paid
        quote = booking.property.price_rules().quote(booking.check_in, booking.check_out)
        assert booking.total_price == quote.total
        assert booking.nightly_prices == quote.nightly_json()
        assert booking.guests.filter(is_primary=True).count() == 1
    shared = Booking.objects.get(reference="NXDEM2K7A")
    assert shared.guests.filter(user=users["guest.baraka@nexus.demo"]).exists()
    assert Booking.objects.filter(status__in=ACTIVE_STATUSES).count() >= 2

    again = seed_bookings(users=users, properties=seed_listings(users=users))
    assert [b.pk for b in again] == [b.pk for b in bookings]


def test_seed_demo_command_runs_twice_and_creates_nothing_new(site_tree, capsys):
    def counts():
        return PropertyPage.objects.count(), get_image_model().objects.count(), Booking.objects.count()

    call_command("seed_demo", "--force")
    first = counts()
    call_command("seed_demo", "--force")
    assert counts() == first
    assert first[0] == len(LISTINGS) and first[2] == len(DEMO_BOOKINGS)
    output = capsys.readouterr().out
    assert output.count("9 listings, 4 bookings") == 2
