"""factory_boy factories shared by the whole suite."""

import datetime as dt

import factory
from django.utils import timezone

from accounts.models import User

DEFAULT_PASSWORD = "a-Strong-pass-2026"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    phone_number = factory.Sequence(lambda n: f"+2547{n % 100000000:08d}")
    role = User.Role.GUEST

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or DEFAULT_PASSWORD)
        if create:
            self.save(update_fields=["password"])
            if self.role != User.Role.GUEST:
                from accounts.roles import user_sync_role_groups

                user_sync_role_groups(self)


class OwnerFactory(UserFactory):
    role = User.Role.OWNER


class StaffFactory(UserFactory):
    role = User.Role.STAFF


def future_date(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


def make_property(*, owner=None, index=None, publish=True, **fields):
    """A live PropertyPage under the listings index, owned by `owner`."""
    from listings.models import PropertyPage
    from listings.site_setup import ensure_site_tree

    if index is None:
        _, index = ensure_site_tree()
    owner = owner or OwnerFactory()
    count = PropertyPage.objects.count() + 1
    defaults = {
        "title": f"Test stay {count}",
        "slug": f"test-stay-{count}-{timezone.now().strftime('%H%M%S%f')}",
        "area": "Kilimani",
        "town": "Nairobi",
        "price_per_night": 5000,
        "max_guests": 4,
        "min_nights": 1,
        "owner": owner,
    }
    defaults.update(fields)
    page = PropertyPage(**defaults)
    index.add_child(instance=page)
    if publish:
        page.save_revision(user=owner).publish()
    else:
        page.live = False
        page.save()
    page.refresh_from_db()
    return page


def make_booking(*, property=None, guest=None, check_in=None, nights=2, status="PENDING", amount_paid=0, **fields):
    """A Booking row written directly (no service): for tests that need a booking in a given state."""
    from reservations.models import Booking, BookingGuest

    property = property or make_property()
    guest = guest or UserFactory()
    check_in = check_in or future_date(30)
    total = nights * property.price_per_night
    booking = Booking.objects.create(
        reference=fields.pop("reference", f"T{Booking.objects.count() + 1:07d}X"),
        property=property,
        primary_guest=guest,
        status=status,
        check_in=check_in,
        check_out=check_in + dt.timedelta(days=nights),
        nights=nights,
        party_size=fields.pop("party_size", 1),
        price_per_night=property.price_per_night,
        total_price=total,
        amount_paid=amount_paid,
        balance_due=max(total - amount_paid, 0),
        hold_expires_at=fields.pop("hold_expires_at", timezone.now() + dt.timedelta(minutes=15)),
        # Not made by booking_create: nothing for the worker's follow-up to announce.
        created_followed_up_at=fields.pop("created_followed_up_at", timezone.now()),
        **fields,
    )
    BookingGuest.objects.create(booking=booking, name=guest.name, email=guest.email, user=guest, is_primary=True)
    return booking


def make_image(*, title: str = "Test photo", size=(64, 48), color=(30, 120, 200)):
    """A real (tiny) Wagtail image, so renditions can be generated."""
    import io

    from django.core.files.images import ImageFile
    from PIL import Image as PILImage
    from wagtail.images import get_image_model

    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, format="PNG")
    image = get_image_model()(title=title)
    image.file = ImageFile(io.BytesIO(buffer.getvalue()), name="test-photo.png")
    image.save()
    return image


def add_gallery(page, *, count: int = 3, amenities: tuple[str, ...] = ()):
    """Give a PropertyPage `count` gallery photos (with captions) and amenities, and publish it again."""
    from listings.models import Amenity, PropertyGalleryImage

    page.gallery_images = [
        PropertyGalleryImage(image=make_image(title=f"{page.title} photo {n}"), caption=f"Photo {n}", sort_order=n)
        for n in range(count)
    ]
    page.amenities = [Amenity.objects.get_or_create(name=name)[0] for name in amenities]
    page.save_revision(user=page.owner).publish()
    page.refresh_from_db()
    return page


def make_payment(*, booking, status="SUCCESS", amount=None, kind="PAYMENT", **fields):
    """A Payment row written directly (no service), e.g. a settled STK push with its receipt.

    A SUCCESS payment gets received_amount = amount and a unique receipt unless given.
    """
    import uuid

    from mpesa.models import Payment

    amount = amount if amount is not None else booking.total_price
    token = uuid.uuid4().hex[:10].upper()
    defaults = {
        "phone_number": "254712345678",
        "checkout_request_id": f"ws_CO_TEST_{token}" if kind == "PAYMENT" else None,
        "merchant_request_id": f"MR-{token}" if kind == "PAYMENT" else "",
        "initiated_by": booking.primary_guest,
    }
    if status == "SUCCESS" and kind == "PAYMENT":
        defaults.update(
            received_amount=amount,
            mpesa_receipt_number=f"T{token[:9]}",
            result_code="0",
            result_desc="The service request is processed successfully.",
            transaction_date=timezone.now(),
        )
    defaults.update(fields)
    payment = Payment.objects.create(booking=booking, kind=kind, status=status, amount=amount, **defaults)
    if kind == "PAYMENT" and status in ("QUEUED", "PENDING"):
        # What the payments app reports when it starts a payment: the booking knows the
        # money on its way (booking totals are otherwise left as the test set them).
        from django.db.models import F

        from reservations.models import Booking

        Booking.objects.filter(pk=booking.pk).update(amount_in_flight=F("amount_in_flight") + amount)
        booking.amount_in_flight += amount
    return payment


def start_payment(*, booking_id: int, user, phone_number: str, amount: int):
    """mpesa.start.payment_start with the phone as a guest types it (the edges validate it)."""
    from core.phones import to_msisdn
    from mpesa.start import payment_start

    return payment_start(booking_id=booking_id, user=user, msisdn=to_msisdn(phone_number), amount=amount)


def recompute_booking_money(booking_id: int) -> None:
    """What the payments app does after changing payment rows in a test: report the booking's
    money to reservations under the booking's row lock."""
    from django.db import transaction

    from mpesa.selectors import booking_money_of
    from reservations.services import booking_lock, booking_money_changed

    with transaction.atomic():
        booking_money_changed(booking=booking_lock(booking_id=booking_id), money=booking_money_of(booking_id=booking_id))


def booking_form_data(prop, *, check_in, nights=3, guests=1, co_guests=()) -> dict:
    """What the property page's booking box posts to /bookings/new/ (with its co-guest formset)."""
    data = {
        "property": prop.pk,
        "check_in": check_in.isoformat(),
        "check_out": (check_in + dt.timedelta(days=nights)).isoformat(),
        "guests": guests,
        "guest-TOTAL_FORMS": len(co_guests),
        "guest-INITIAL_FORMS": 0,
        "guest-MIN_NUM_FORMS": 0,
        "guest-MAX_NUM_FORMS": 1000,
    }
    for index, row in enumerate(co_guests):
        for key, value in row.items():
            data[f"guest-{index}-{key}"] = value
    return data
