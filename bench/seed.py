"""Data for the bench: users with tokens, photo listings made the normal Wagtail way,
and thousands of listings and bookings inserted in bulk.

Bulk listings: Wagtail pages are a treebeard materialised-path tree. Each child of the
listings index gets path = index.path + a 4-character base-36 step (treebeard's
`_get_path`), depth = index.depth + 1, and the index's `numchild` is bumped once at the
end. The wagtailcore_page rows go in with `Page.objects.bulk_create`; the
listings_propertypage rows (multi-table inheritance, which bulk_create refuses) go in
through the model manager's `_insert` with only the child table's own columns. Pages
made this way are live and published but have no revisions and no search-index
entries: the availability search reads neither.

Bulk bookings are one INSERT ... SELECT over generate_series: 20 non-overlapping
stays per listing, spread over the next ~300 days, with a per-listing phase so
listings are not all booked on the same nights; one in ten is CANCELED.
"""

import datetime as dt
import io
import random
import uuid

from django.contrib.contenttypes.models import ContentType
from django.core.files.images import ImageFile
from django.db import connection, transaction
from django.utils import timezone

AMENITIES = ["Wi-Fi", "Pool", "Parking", "Kitchen", "Air conditioning", "TV", "Washing machine", "Workspace"]
TOWNS = [("Kilimani", "Nairobi"), ("Nyali", "Mombasa"), ("Diani", "Kwale"), ("Milimani", "Kisumu"),
         ("Naka", "Nakuru"), ("Shela", "Lamu"), ("Kileleshwa", "Nairobi"), ("Malindi", "Kilifi")]
DESCRIPTION = (
    "<p>A bright, quiet place to stay with a view over the gardens. Fast Wi-Fi, a full kitchen, "
    "secure parking and a caretaker on site. Ten minutes from the shops and the beach.</p>"
    "<p>Check-in from 2 pm, check-out by 10 am. No parties.</p>"
)


def make_users(count: int, *, prefix: str = "bench") -> list[tuple[int, str]]:
    """Guests with API tokens: [(user_id, token_key)]."""
    from rest_framework.authtoken.models import Token

    from accounts.models import User

    result = []
    for n in range(count):
        user = User.objects.create_user(
            email=f"{prefix}{n}@example.com", name=f"Bench Guest {n}", phone_number=f"+2547{11000000 + n:08d}",
            password=None,
        )
        result.append((user.pk, Token.objects.create(user=user).key))
    return result


def make_owner():
    from accounts.models import User

    return User.objects.create_user(email="bench-owner@example.com", name="Bench Owner", role=User.Role.OWNER)


def make_images(count: int) -> list:
    """Photos the size a listing's owner uploads after a resize (1440x960 JPEG), textured so the
    encoder does real work; renditions are generated from them once, during the warm-up."""
    from PIL import Image as PILImage, ImageDraw
    from wagtail.images import get_image_model

    Image = get_image_model()
    rng = random.Random(7)
    images = []
    for n in range(count):
        canvas = PILImage.effect_noise((1440, 960), 40).convert("RGB")
        draw = ImageDraw.Draw(canvas)
        for _ in range(12):
            x, y = rng.randrange(1340), rng.randrange(860)
            draw.rectangle(
                [x, y, x + rng.randrange(80, 600), y + rng.randrange(60, 400)],
                fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)),
            )
        buffer = io.BytesIO()
        canvas.save(buffer, "JPEG", quality=85)
        images.append(Image.objects.create(title=f"Bench photo {n}", file=ImageFile(buffer, name=f"bench-{n}.jpg")))
    return images


def make_photo_listings(*, count: int, photos: int, images: list, owner) -> list:
    """Listings created as an editor would: add_child, revision, publish, gallery, amenities."""
    from listings.models import Amenity, PropertyGalleryImage, PropertyPage
    from listings.site_setup import ensure_site_tree

    _, index = ensure_site_tree()
    amenities = [Amenity.objects.get_or_create(name=name)[0] for name in AMENITIES]
    pages = []
    for n in range(count):
        area, town = TOWNS[n % len(TOWNS)]
        page = PropertyPage(
            title=f"{area} stay {n}", slug=f"bench-stay-{n}", description=DESCRIPTION, area=area, town=town,
            price_per_night=3000 + 250 * (n % 20), max_guests=2 + n % 5, min_nights=1, owner=owner,
        )
        page.amenities = amenities[: 3 + n % 6]
        page.gallery_images = [
            PropertyGalleryImage(image=images[(n * 3 + k) % len(images)], caption=f"Photo {k + 1}", sort_order=k)
            for k in range(photos)
        ]
        index.add_child(instance=page)
        page.save_revision(user=owner).publish()
        pages.append(page)
    return pages


def bulk_listings(*, count: int, owner, label: str) -> list[int]:
    """`count` more live listings under the index, in bulk (see the module docstring). Returns their ids."""
    from wagtail.models import Locale, Page

    from listings.models import ListingIndexPage, PropertyPage
    from listings.site_setup import ensure_site_tree

    ensure_site_tree()
    content_type = ContentType.objects.get_for_model(PropertyPage)
    locale = Locale.get_default()
    now = timezone.now()
    ids: list[int] = []
    with transaction.atomic():
        index = ListingIndexPage.objects.select_for_update().get(pk=ListingIndexPage.objects.first().pk)
        last = index.get_last_child()
        start = (PropertyPage._str2int(last.path[-PropertyPage.steplen:]) if last else 0) + 1
        for batch_start in range(0, count, 2000):
            batch = range(batch_start, min(count, batch_start + 2000))
            pages = []
            for n in batch:
                slug = f"{label}-{n}"
                title = f"{TOWNS[n % len(TOWNS)][0]} {label} {n}"
                pages.append(
                    Page(
                        title=title, draft_title=title, slug=slug, content_type=content_type, locale=locale,
                        path=PropertyPage._get_path(index.path, index.depth + 1, start + n), depth=index.depth + 1,
                        numchild=0, url_path=f"{index.url_path}{slug}/", live=True, has_unpublished_changes=False,
                        first_published_at=now, last_published_at=now, owner=owner, translation_key=uuid.uuid4(),
                    )
                )
            Page.objects.bulk_create(pages)
            children = []
            for page, n in zip(pages, batch):
                area, town = TOWNS[n % len(TOWNS)]
                children.append(
                    PropertyPage(
                        page_ptr_id=page.pk, description=DESCRIPTION, area=area, town=town,
                        price_per_night=2000 + 100 * (n % 80), max_guests=1 + n % 8, min_nights=1 + n % 3,
                        availability_status="unavailable" if n % 50 == 0 else "available",
                    )
                )
            PropertyPage._base_manager._insert(children, fields=PropertyPage._meta.local_concrete_fields)
            ids.extend(page.pk for page in pages)
        Page.objects.filter(pk=index.pk).update(numchild=index.numchild + count)
    return ids


BULK_BOOKINGS_COLUMNS = (
    "reference", "property_id", "primary_guest_id", "status", "check_in", "check_out", "nights", "party_size",
    "price_per_night", "total_price", "amount_paid", "balance_due", "hold_expires_at", "booking_date", "updated_at",
    "canceled_at", "cancel_reason", "cancel_kind",
)
BULK_BOOKINGS_SQL = """
INSERT INTO reservations_booking ({columns})
SELECT
    'S' || lpad(to_hex(s.property_id), 7, '0') || lpad(s.g::text, 2, '0'),
    s.property_id, %(guest)s,
    CASE (s.property_id * 7 + s.g) %% 10 WHEN 0 THEN 'CANCELED' WHEN 1 THEN 'PENDING' WHEN 2 THEN 'PROCESSING'
         ELSE 'CONFIRMED' END,
    s.check_in, s.check_in + s.nights, s.nights, 1, s.price, s.price * s.nights,
    CASE (s.property_id * 7 + s.g) %% 10 WHEN 2 THEN s.price WHEN 0 THEN 0 WHEN 1 THEN 0
         ELSE s.price * s.nights END,
    CASE (s.property_id * 7 + s.g) %% 10 WHEN 2 THEN s.price * (s.nights - 1) WHEN 3 THEN 0
         WHEN 0 THEN s.price * s.nights WHEN 1 THEN s.price * s.nights ELSE 0 END,
    NULL, now(), now(), NULL, '', ''{other_values}
FROM (
    SELECT p.page_ptr_id AS property_id, p.price_per_night AS price, g,
           %(first_day)s::date + (p.page_ptr_id * 7) %% 15 + g * 15 + (p.page_ptr_id + g * 3) %% 5 AS check_in,
           2 + (p.page_ptr_id + g) %% 5 AS nights
    FROM listings_propertypage p CROSS JOIN generate_series(0, %(per_listing)s - 1) AS g
    WHERE p.page_ptr_id = ANY(%(ids)s)
) AS s
"""


def bulk_bookings(*, property_ids: list[int], guest_id: int, per_listing: int = 20,
                  first_day: dt.date | None = None) -> int:
    """`per_listing` stays per listing (PostgreSQL only), from tomorrow unless `first_day` says.
    Slots are 15 days wide; a stay of at most 6 nights starting at most 4 days into its slot
    never reaches the next one."""
    from reservations.models import Booking

    first_day = first_day or timezone.localdate() + dt.timedelta(days=1)
    params = {"guest": guest_id, "first_day": first_day, "per_listing": per_listing, "ids": property_ids}
    # Columns added to Booking after this statement was written get their model default.
    others = [f for f in Booking._meta.concrete_fields if not f.primary_key and f.column not in BULK_BOOKINGS_COLUMNS]
    for n, f in enumerate(others):
        params[f"other_{n}"] = f.get_db_prep_save(f.get_default(), connection)
    sql = BULK_BOOKINGS_SQL.format(
        columns=", ".join([*BULK_BOOKINGS_COLUMNS, *(f.column for f in others)]),
        other_values="".join(f", %(other_{n})s" for n in range(len(others))),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def analyze() -> None:
    """Fresh planner statistics and visibility map, as autovacuum would have left a live
    database after bulk inserts (it vacuums on inserts too since PostgreSQL 13): without the
    visibility map no index-only scan can skip the table."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
