"""Demo listings for `seed_demo`: published PropertyPages across Kenya with drawn photos.

Idempotent: a listing is found by its slug and an image by its title, so running the
seed again creates nothing new. Photos are placeholders drawn with Pillow (no
network, no stock photos), stored as ordinary Wagtail images.
"""

import datetime as dt
import io
import random
import zlib

from django.core.files.images import ImageFile
from django.utils import timezone
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont
from wagtail.images import get_image_model

from accounts.models import User
from accounts.owner_media import owner_collection_ensure
from core.demo import DemoOrder, DemoStep
from listings.models import Amenity, PropertyGalleryImage, PropertyPage, PropertySeasonalPrice
from listings.site_setup import ensure_site_tree

AMINA = "owner.amina@nexus.demo"
KIP = "owner.kip@nexus.demo"

AMENITIES = {
    "Wi-Fi": Amenity.Icon.WIFI,
    "Swimming pool": Amenity.Icon.POOL,
    "Free parking": Amenity.Icon.PARKING,
    "Kitchen": Amenity.Icon.KITCHEN,
    "Air conditioning": Amenity.Icon.AIRCON,
    "Smart TV": Amenity.Icon.TV,
    "Washing machine": Amenity.Icon.WASHER,
    "Beach access": Amenity.Icon.BEACH,
    "Garden": Amenity.Icon.GARDEN,
    "24h security": Amenity.Icon.SECURITY,
    "Backup generator": Amenity.Icon.GENERATOR,
    "Workspace": Amenity.Icon.WORKSPACE,
    "Breakfast included": Amenity.Icon.BREAKFAST,
    "Pets allowed": Amenity.Icon.PETS,
}

LISTINGS = [
    {
        "slug": "kilimani-garden-apartment",
        "title": "Kilimani Garden Apartment",
        "owner": AMINA,
        "town": "Nairobi",
        "area": "Kilimani",
        "coords": ("-1.290000", "36.783300"),
        "price_per_night": 6500,
        "max_guests": 4,
        "min_nights": 1,
        "scene": "city",
        "amenities": ["Wi-Fi", "Kitchen", "Free parking", "24h security", "Backup generator", "Workspace"],
        "description": "A quiet two-bedroom flat off Argwings Kodhek Road, ten minutes from Yaya Centre. "
        "Fibre Wi-Fi, a desk by the window and a backup generator for the odd power cut.",
        "photos": ["Living room with garden view", "Main bedroom", "Kitchen", "Balcony over the garden"],
    },
    {
        "slug": "westlands-business-suite",
        "title": "Westlands Business Suite",
        "owner": KIP,
        "town": "Nairobi",
        "area": "Westlands",
        "coords": ("-1.267600", "36.810800"),
        "price_per_night": 5500,
        "max_guests": 2,
        "min_nights": 1,
        "scene": "city",
        "amenities": ["Wi-Fi", "Workspace", "Smart TV", "24h security", "Backup generator"],
        "description": "A serviced one-bedroom suite a short walk from Sarit Centre, made for work trips: "
        "fast internet, a proper desk and a 24-hour concierge.",
        "photos": ["Open-plan lounge", "Bedroom", "City view at night"],
    },
    {
        "slug": "nyali-ocean-view-flat",
        "title": "Nyali Ocean View Flat",
        "owner": KIP,
        "town": "Mombasa",
        "area": "Nyali",
        "coords": ("-4.038000", "39.716000"),
        "price_per_night": 8500,
        "max_guests": 5,
        "min_nights": 2,
        "scene": "beach",
        "amenities": ["Swimming pool", "Wi-Fi", "Air conditioning", "Beach access", "Free parking"],
        "description": "Third-floor flat with a sea-facing balcony, a shared pool and a path to Nyali beach. "
        "Old Town and Fort Jesus are twenty minutes away.",
        "photos": ["Balcony facing the ocean", "Lounge", "Pool deck", "Twin bedroom"],
    },
    {
        "slug": "diani-beach-cottage",
        "title": "Diani Beach Cottage",
        "owner": AMINA,
        "town": "Diani",
        "area": "Galu Beach",
        "coords": ("-4.316000", "39.581000"),
        "price_per_night": 12000,
        "max_guests": 6,
        "min_nights": 2,
        "min_deposit_percent": 30,
        "scene": "beach",
        "amenities": ["Beach access", "Swimming pool", "Air conditioning", "Breakfast included", "Wi-Fi"],
        "description": "A makuti-roofed cottage on Galu beach with its own plunge pool. Breakfast of mandazi, "
        "fruit and Kenyan coffee is served on the veranda.",
        "photos": ["Cottage from the beach", "Veranda", "Plunge pool", "Bedroom under the makuti roof", "Sunrise"],
    },
    {
        "slug": "lake-naivasha-cabin",
        "title": "Lake Naivasha Cabin",
        "owner": KIP,
        "town": "Naivasha",
        "area": "Moi South Lake Road",
        "coords": ("-0.766700", "36.350000"),
        "price_per_night": 7000,
        "max_guests": 4,
        "min_nights": 1,
        "scene": "lake",
        "amenities": ["Garden", "Free parking", "Kitchen", "Pets allowed"],
        "description": "A timber cabin in an acacia garden by the lake; hippos graze on the lawn at night. "
        "Boat trips to Crescent Island leave from the jetty next door.",
        "photos": ["Cabin in the acacias", "Lake at dawn", "Fireplace lounge"],
    },
    {
        "slug": "mt-kenya-view-farmhouse",
        "title": "Mt Kenya View Farmhouse",
        "owner": KIP,
        "town": "Nanyuki",
        "area": "Timau Road",
        "coords": ("0.016700", "37.072200"),
        "price_per_night": 9000,
        "max_guests": 8,
        "min_nights": 2,
        "min_credit_score": 40,
        "scene": "mountain",
        "amenities": ["Garden", "Free parking", "Kitchen", "Backup generator", "Breakfast included"],
        "description": "A stone farmhouse on a working wheat farm with Mt Kenya filling the view. "
        "Four bedrooms, a big kitchen and a fire pit for cold highland evenings.",
        "photos": ["Farmhouse and the mountain", "Dining room", "Fire pit", "Bunk room"],
    },
    {
        "slug": "milimani-lakeside-studio",
        "title": "Milimani Lakeside Studio",
        "owner": AMINA,
        "town": "Kisumu",
        "area": "Milimani",
        "coords": ("-0.102200", "34.761700"),
        "price_per_night": 4000,
        "max_guests": 2,
        "min_nights": 1,
        "scene": "lake",
        "amenities": ["Wi-Fi", "Air conditioning", "Workspace"],
        "description": "A bright studio in leafy Milimani, close to Dunga Beach for Lake Victoria sunsets "
        "and fresh tilapia.",
        "photos": ["Studio", "Sunset over Lake Victoria", "Work corner"],
    },
    {
        "slug": "shela-swahili-house",
        "title": "Shela Swahili House",
        "owner": AMINA,
        "town": "Lamu",
        "area": "Shela Village",
        "coords": ("-2.296000", "40.918000"),
        "price_per_night": 15000,
        "weekend_price_per_night": 17000,
        "weekly_discount_percent": 10,
        "seasons": [("Christmas and New Year", (12, 20), (1, 4), 22000)],
        "max_guests": 6,
        "min_nights": 3,
        "min_deposit_percent": 50,
        "scene": "beach",
        "amenities": ["Beach access", "Breakfast included", "Air conditioning", "Wi-Fi"],
        "description": "A restored coral-stone house with carved doors and a rooftop baraza, two lanes from "
        "Shela beach. No cars on the island: the dhow captain meets you at the jetty.",
        "photos": ["Carved Lamu door", "Rooftop baraza", "Courtyard", "Dhows at sunset"],
    },
    {
        "slug": "watamu-reef-villa",
        "title": "Watamu Reef Villa",
        "owner": KIP,
        "town": "Watamu",
        "area": "Turtle Bay",
        "coords": ("-3.354000", "40.016000"),
        "price_per_night": 18000,
        "weekend_price_per_night": 21000,
        "weekly_discount_percent": 10,
        "monthly_discount_percent": 25,
        "seasons": [
            ("Christmas and New Year", (12, 18), (1, 5), 26000),
            ("Long rains", (4, 15), (6, 1), 14000),
        ],
        "max_guests": 10,
        "min_nights": 2,
        "scene": "beach",
        "amenities": ["Swimming pool", "Beach access", "Air conditioning", "24h security", "Wi-Fi", "Kitchen"],
        "description": "Five-bedroom villa above Turtle Bay and the marine park's coral gardens. "
        "Snorkelling gear, a cook on request and a pool shaded by palms.",
        "photos": ["Villa and pool", "Turtle Bay", "Open-air dining", "Master bedroom", "Snorkelling reef"],
    },
]

SCENES = {
    # sky top, sky bottom, ground, accent
    "beach": ((70, 160, 230), (190, 230, 250), (235, 215, 160), (20, 120, 170)),
    "city": ((60, 90, 150), (200, 180, 160), (90, 90, 95), (240, 200, 80)),
    "lake": ((110, 150, 200), (230, 200, 170), (70, 130, 70), (60, 110, 160)),
    "mountain": ((90, 140, 210), (220, 230, 240), (110, 140, 70), (245, 245, 250)),
}
PHOTO_SIZE = (1200, 800)


def _font(size: int):
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def draw_placeholder_photo(*, title: str, caption: str, scene: str, seed: int) -> bytes:
    """A JPEG landscape in the listing's colours: sky, ground, a house and the caption."""
    rng = random.Random(seed)
    top, bottom, ground, accent = SCENES.get(scene, SCENES["lake"])
    width, height = PHOTO_SIZE
    horizon = int(height * rng.uniform(0.55, 0.68))
    picture = PILImage.new("RGB", PHOTO_SIZE, top)
    draw = ImageDraw.Draw(picture)
    for y in range(horizon):
        t = y / horizon
        draw.line([(0, y), (width, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    draw.rectangle([0, horizon, width, height], fill=ground)
    sun_x, sun_y = rng.randint(100, width - 100), rng.randint(60, horizon // 2)
    draw.ellipse([sun_x - 45, sun_y - 45, sun_x + 45, sun_y + 45], fill=(255, 225, 120))
    if scene == "beach":
        draw.rectangle([0, horizon - 40, width, horizon + 30], fill=accent)
        for _ in range(3):
            x = rng.randint(50, width - 50)
            draw.line([(x, height - 40), (x + 25, horizon - 60)], fill=(110, 80, 50), width=12)
            for dx in (-80, -40, 40, 80):
                draw.line([(x + 25, horizon - 60), (x + 25 + dx, horizon - 20)], fill=(40, 130, 60), width=10)
    elif scene == "mountain":
        peak = rng.randint(400, 800)
        draw.polygon([(peak - 420, horizon), (peak, horizon - 330), (peak + 420, horizon)], fill=(95, 105, 125))
        draw.polygon([(peak - 90, horizon - 260), (peak, horizon - 330), (peak + 90, horizon - 260)], fill=accent)
    elif scene == "lake":
        draw.rectangle([0, horizon, width, horizon + 90], fill=accent)
        draw.polygon([(0, horizon), (300, horizon - 110), (650, horizon)], fill=(80, 110, 80))
    else:
        x = 0
        while x < width:
            w, h = rng.randint(60, 140), rng.randint(120, 340)
            draw.rectangle([x, horizon - h, x + w, horizon], fill=(50 + rng.randint(0, 40),) * 3)
            for wy in range(horizon - h + 15, horizon - 10, 30):
                for wx in range(x + 10, x + w - 10, 25):
                    if rng.random() < 0.5:
                        draw.rectangle([wx, wy, wx + 10, wy + 14], fill=accent)
            x += w + rng.randint(5, 25)
    house_x = rng.randint(150, width - 450)
    draw.rectangle([house_x, horizon - 130, house_x + 260, horizon + 60], fill=(245, 240, 230))
    draw.polygon(
        [(house_x - 30, horizon - 130), (house_x + 130, horizon - 230), (house_x + 290, horizon - 130)],
        fill=(150, 70, 40),
    )
    draw.rectangle([house_x + 105, horizon - 40, house_x + 155, horizon + 60], fill=(90, 60, 40))
    draw.rectangle([0, height - 120, width, height], fill=(0, 0, 0))
    draw.text((40, height - 108), title, font=_font(44), fill=(255, 255, 255))
    draw.text((40, height - 52), caption, font=_font(30), fill=(220, 220, 220))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=82)
    return buffer.getvalue()


def _image(*, spec: dict, caption: str, position: int, owner: User):
    Image = get_image_model()
    title = f"{spec['title']} - {caption}"
    existing = Image.objects.filter(title=title).first()
    if existing is not None:
        return existing
    data = draw_placeholder_photo(
        title=spec["title"],
        caption=caption,
        scene=spec["scene"],
        seed=zlib.crc32(f"{spec['slug']}-{position}".encode()),
    )
    # In the owner's own collection, as if they had uploaded it: they see it in their
    # library and chooser, and no other owner does.
    image = Image(title=title, collection=owner_collection_ensure(owner), uploaded_by_user=owner)
    image.file = ImageFile(io.BytesIO(data), name=f"{spec['slug']}-{position}.jpg")
    image.save()
    return image


def _owner(users: dict, email: str) -> User:
    return users.get(email) or User.objects.get(email__iexact=email)


def seed_amenities() -> dict[str, Amenity]:
    amenities = {}
    for name, icon in AMENITIES.items():
        amenities[name], _ = Amenity.objects.get_or_create(name=name, defaults={"icon": icon})
    return amenities


def seed_listings(*, users: dict) -> list[PropertyPage]:
    """The demo listings, split between the two demo owners. Existing ones are left as they are."""
    _, index = ensure_site_tree()
    amenities = seed_amenities()
    pages = []
    for spec in LISTINGS:
        page = PropertyPage.objects.filter(slug=spec["slug"]).first()
        if page is None:
            page = _create_listing(index=index, spec=spec, owner=_owner(users, spec["owner"]), amenities=amenities)
        else:
            _move_gallery_into_owners_collection(page)
        pages.append(page)
    return pages


def _move_gallery_into_owners_collection(page: PropertyPage) -> None:
    """Demo data seeded before owners had collections of their own kept its photos in the root."""
    if page.owner is None:
        return
    collection = owner_collection_ensure(page.owner)
    get_image_model().objects.filter(pk__in=page.gallery_images.values("image_id")).exclude(
        collection=collection
    ).update(collection=collection)


def _create_listing(*, index, spec: dict, owner: User, amenities: dict) -> PropertyPage:
    latitude, longitude = spec["coords"]
    page = PropertyPage(
        title=spec["title"],
        slug=spec["slug"],
        owner=owner,
        description=f"<p>{spec['description']}</p>",
        town=spec["town"],
        area=spec["area"],
        latitude=latitude,
        longitude=longitude,
        price_per_night=spec["price_per_night"],
        weekend_price_per_night=spec.get("weekend_price_per_night"),
        weekly_discount_percent=spec.get("weekly_discount_percent", 0),
        monthly_discount_percent=spec.get("monthly_discount_percent", 0),
        max_guests=spec["max_guests"],
        min_nights=spec["min_nights"],
        min_deposit_percent=spec.get("min_deposit_percent", 20),
        min_credit_score=spec.get("min_credit_score"),
        search_description=spec["description"][:160],
    )
    page.amenities = [amenities[name] for name in spec["amenities"]]
    page.gallery_images = [
        PropertyGalleryImage(
            image=_image(spec=spec, caption=caption, position=position, owner=owner),
            caption=caption,
            sort_order=position,
        )
        for position, caption in enumerate(spec["photos"])
    ]
    page.seasonal_prices = [
        PropertySeasonalPrice(label=label, start=start, end=end, price_per_night=price)
        for label, first, last, price in spec.get("seasons", [])
        for start, end in [_next_season(first, last)]
    ]
    index.add_child(instance=page)
    page.save_revision(user=owner).publish(user=owner)
    return page


def _next_season(first: tuple[int, int], last: tuple[int, int]) -> tuple[dt.date, dt.date]:
    """The coming (or current) yearly season from (month, day) `first` to `last`, which may
    fall in the next year (Christmas to New Year), so the demo always shows it ahead."""
    today = timezone.localdate()
    for year in (today.year - 1, today.year):
        start = dt.date(year, *first)
        end = dt.date(year + (last < first), *last)
        if end > today:
            return start, end
    return dt.date(today.year + 1, *first), dt.date(today.year + 1 + (last < first), *last)


# Registered in ListingsConfig.ready(): the site tree first of all, the listings after the
# users (later steps take them as properties=).
DEMO_STEPS = (
    DemoStep(order=DemoOrder.SITE_TREE, provides="site_tree", seed=ensure_site_tree),
    DemoStep(
        order=DemoOrder.LISTINGS, provides="properties", seed=seed_listings, needs=("users",), counted_as="listings"
    ),
)
