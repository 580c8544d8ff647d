from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from modelcluster.fields import ParentalKey, ParentalManyToManyField
from phonenumber_field.modelfields import PhoneNumberField
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Orderable, Page
from wagtail.search import index

from listings.calendar.panels import CalendarSyncPanel
from listings.forms import PropertyPageForm, SeasonalPricesPanel
from listings.panels import LocationMapPanel
from listings.permission_testers import ListingIndexPagePermissionTester, PropertyPagePermissionTester
from listings.pricing import MAX_DISCOUNT_PERCENT, MONTHLY_NIGHTS, WEEKLY_NIGHTS, PriceRules, Season

# Seasons one listing may have: a year's holidays and high seasons with room to spare.
MAX_SEASONS = 50


class Amenity(models.Model):
    """A feature a property offers (Wi-Fi, pool...). Edited as a Wagtail snippet."""

    class Icon(models.TextChoices):
        WIFI = "wifi", "Wi-Fi"
        POOL = "pool", "Pool"
        PARKING = "parking", "Parking"
        KITCHEN = "kitchen", "Kitchen"
        AIRCON = "aircon", "Air conditioning"
        TV = "tv", "TV"
        WASHER = "washer", "Washing machine"
        BEACH = "beach", "Beach access"
        GARDEN = "garden", "Garden"
        SECURITY = "security", "Security"
        GENERATOR = "generator", "Backup power"
        WORKSPACE = "workspace", "Workspace"
        BREAKFAST = "breakfast", "Breakfast"
        PETS = "pets", "Pets allowed"
        OTHER = "other", "Other"

    name = models.CharField(max_length=80, unique=True)
    icon = models.CharField(max_length=20, choices=Icon.choices, default=Icon.OTHER)

    panels = [FieldPanel("name"), FieldPanel("icon")]

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "amenities"

    def __str__(self) -> str:
        return self.name


class RoutesToItsOnlyChildType:
    """Routing for a page whose children are all of one type, `child_page_model`.

    Wagtail's Page.route() fetches the child as a plain Page and then again as its
    specific class: two queries per level of the URL. Asking the child's model directly
    takes one. Anything else (an unknown slug, a child of another type) goes through
    Wagtail's own route(), so 404s and non-live pages behave exactly as before.
    """

    child_page_model: type[Page]

    def route(self, request, path_components):
        if path_components:
            child = self.child_page_model.objects.child_of(self).filter(slug=path_components[0]).first()
            if child is not None:
                child._cached_parent_obj = self  # as Page.route() does: spares get_parent() a query
                return child.route(request, path_components[1:])
        return super().route(request, path_components)


class HomePage(RoutesToItsOnlyChildType, Page):
    # The Kiswahili fields are second fields on the one page, as PropertyPage.description_sw
    # is (docs/i18n.md); empty, the Kiswahili site shows the English ones.
    title_sw = models.CharField(
        "Title in Kiswahili",
        max_length=255,
        blank=True,
        help_text="The browser tab's title on the Kiswahili site. Empty: the English one is used there.",
    )
    intro = models.CharField(max_length=255, blank=True, default="Stays across Kenya, paid with M-Pesa.")
    intro_sw = models.CharField(
        "Intro in Kiswahili",
        max_length=255,
        blank=True,
        help_text="Shown on the Kiswahili site. Empty: the English intro is shown there.",
    )

    content_panels = Page.content_panels + [FieldPanel("title_sw"), FieldPanel("intro"), FieldPanel("intro_sw")]
    subpage_types = ["listings.ListingIndexPage"]
    parent_page_types = ["wagtailcore.Page"]
    max_count = 1

    @property
    def child_page_model(self):
        return ListingIndexPage

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        # The page context reads these models (it sits above them in the app), and Wagtail
        # asks the page for it: imported when a page is served, the one way round it can be.
        from listings.page_context import home_page_context

        context.update(home_page_context(page=self, request=request))
        return context


class ListingIndexPage(RoutesToItsOnlyChildType, Page):
    title_sw = models.CharField(
        "Title in Kiswahili",
        max_length=255,
        blank=True,
        help_text="The heading and browser tab's title on the Kiswahili site. Empty: the English title is used there.",
    )
    intro = RichTextField(blank=True)
    intro_sw = RichTextField(
        "Intro in Kiswahili",
        blank=True,
        help_text="Shown on the Kiswahili site. Empty: the English intro is shown there.",
    )

    content_panels = Page.content_panels + [FieldPanel("title_sw"), FieldPanel("intro"), FieldPanel("intro_sw")]
    subpage_types = ["listings.PropertyPage"]
    parent_page_types = ["listings.HomePage"]

    @property
    def child_page_model(self):
        return PropertyPage

    def permissions_for_user(self, user):
        # Owners may add (and publish) their own listings here, and nothing else.
        return ListingIndexPagePermissionTester(user, self)

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        from listings.page_context import listing_index_context

        context.update(listing_index_context(page=self, request=request))
        return context

    def serve(self, request, *args, **kwargs):
        # A search the form refuses is answered 400 with its errors and no results, so a
        # client (or a crawler) never takes the page for an unfiltered list.
        response = super().serve(request, *args, **kwargs)
        if (getattr(response, "context_data", None) or {}).get("search_invalid"):
            response.status_code = 400
        return response


class PropertyPage(Page):
    class AvailabilityStatus(models.TextChoices):
        AVAILABLE = "available", "Available"
        UNAVAILABLE = "unavailable", "Unavailable"

    class CancellationPolicy(models.TextChoices):
        """What a guest who cancels gets back (reservations.cancellation; docs/money-out.md)."""

        FLEXIBLE = "flexible", "Flexible: full refund until 24 hours before check-in"
        MODERATE = "moderate", "Moderate: full refund until 5 days before check-in, 50 % after"
        STRICT = "strict", "Strict: 50 % refund until 7 days before check-in, nothing after"

    description = RichTextField(blank=True)
    # A second field rather than a translated copy of the page (docs/i18n.md): one property
    # keeps one page, one calendar and one set of bookings whatever language it is read in.
    description_sw = RichTextField(
        "description in Kiswahili",
        blank=True,
        help_text="Shown on the Kiswahili site. Empty: the English description is shown there.",
    )
    area = models.CharField(max_length=120, help_text="Neighbourhood or area, e.g. Kilimani")
    town = models.CharField(max_length=80, db_index=True, help_text="e.g. Nairobi")
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    price_per_night = models.PositiveIntegerField(
        validators=[MinValueValidator(1)], help_text="Whole Kenyan shillings per night"
    )
    amenities = ParentalManyToManyField(Amenity, blank=True, related_name="properties")
    availability_status = models.CharField(
        max_length=12, choices=AvailabilityStatus.choices, default=AvailabilityStatus.AVAILABLE, db_index=True
    )
    max_guests = models.PositiveSmallIntegerField(default=2, validators=[MinValueValidator(1), MaxValueValidator(50)])
    min_nights = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(365)])
    max_nights = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Longest stay one booking may take (1 to 365 nights).",
    )
    # A deposit floor keeps a booking from holding its dates on a token payment.
    min_deposit_percent = models.PositiveSmallIntegerField(
        default=20,
        validators=[MinValueValidator(20), MaxValueValidator(100)],
        help_text="Smallest first payment, as a percentage of the total (20 to 100).",
    )
    cancellation_policy = models.CharField(
        max_length=10,
        choices=CancellationPolicy.choices,
        default=CancellationPolicy.MODERATE,
        help_text="What a guest who cancels gets back. Shown on the listing, the booking form and the booking.",
    )
    # Check-in details: shown to a guest only once their booking is confirmed
    # (booking page, confirmation email and SMS), never on the public page or in the API's listing.
    street_address = models.CharField(
        max_length=200,
        blank=True,
        help_text="Street, building, floor and door. Shown to guests once their booking is confirmed.",
    )
    check_in_instructions = models.TextField(
        max_length=2000,
        blank=True,
        help_text="Keys, gate code, parking, who meets the guest. Shown to guests once their booking is confirmed.",
    )
    host_phone_number = PhoneNumberField(
        region="KE",
        blank=True,
        help_text="Number confirmed guests may call. Empty: the owner's account phone number.",
    )
    min_credit_score = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(100)],
        help_text="Guests below this credit score cannot book. Empty: everyone can.",
    )
    # Prices beyond the base one (listings.pricing; docs/booking-rules.md "Prices").
    weekend_price_per_night = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Whole shillings for a Friday or Saturday night. Empty: the usual price.",
    )
    weekly_discount_percent = models.PositiveSmallIntegerField(
        "weekly discount (%)",
        default=0,
        blank=True,
        validators=[MaxValueValidator(MAX_DISCOUNT_PERCENT)],
        help_text=f"Off stays of {WEEKLY_NIGHTS} nights or more (0 to {MAX_DISCOUNT_PERCENT}).",
    )
    monthly_discount_percent = models.PositiveSmallIntegerField(
        "monthly discount (%)",
        default=0,
        blank=True,
        validators=[MaxValueValidator(MAX_DISCOUNT_PERCENT)],
        help_text=f"Off stays of {MONTHLY_NIGHTS} nights or more (0 to {MAX_DISCOUNT_PERCENT}).",
    )

    content_panels = Page.content_panels + [
        FieldPanel("description"),
        FieldPanel("description_sw"),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("area"), FieldPanel("town")]),
                FieldRowPanel([FieldPanel("latitude"), FieldPanel("longitude")]),
                LocationMapPanel("latitude", "longitude", heading="Map"),
            ],
            heading="Location",
        ),
        MultiFieldPanel(
            [FieldPanel("street_address"), FieldPanel("host_phone_number"), FieldPanel("check_in_instructions")],
            heading="Check-in details (shown to confirmed guests only)",
        ),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("price_per_night"), FieldPanel("min_deposit_percent")]),
                FieldRowPanel([FieldPanel("max_guests"), FieldPanel("min_nights"), FieldPanel("max_nights")]),
                FieldRowPanel([FieldPanel("availability_status"), FieldPanel("min_credit_score")]),
                FieldPanel("cancellation_policy"),
            ],
            heading="Price and rules",
        ),
        MultiFieldPanel(
            [
                FieldRowPanel(
                    [
                        FieldPanel("weekend_price_per_night"),
                        FieldPanel("weekly_discount_percent"),
                        FieldPanel("monthly_discount_percent"),
                    ]
                ),
                SeasonalPricesPanel(
                    "seasonal_prices",
                    label="Season",
                    heading="Seasonal prices",
                    max_num=MAX_SEASONS,
                    help_text="A season's price replaces the usual and the weekend price for its nights. "
                    "The end date is the first night back at the usual price; seasons may not overlap.",
                ),
            ],
            heading="Seasons and discounts",
        ),
        FieldPanel("amenities", widget=forms.CheckboxSelectMultiple),
        InlinePanel("gallery_images", label="Photos", heading="Photo gallery"),
        CalendarSyncPanel(heading="Calendar sync (iCal)"),
    ]
    search_fields = Page.search_fields + [
        index.SearchField("description"),
        index.SearchField("description_sw"),
        index.SearchField("town"),
        index.SearchField("area"),
        index.FilterField("town"),
        index.FilterField("price_per_night"),
    ]
    parent_page_types = ["listings.ListingIndexPage"]
    subpage_types: list[str] = []
    base_form_class = PropertyPageForm

    class Meta:
        # Searches sorted by price walk this index in order and stop after the first page,
        # instead of sorting every listing in the price range; the included columns let
        # the search's count answer the price, guests and status filters from the index
        # alone on PostgreSQL (docs/search.md "Speed").
        indexes = [
            models.Index(
                fields=["price_per_night"],
                include=["max_guests", "availability_status", "page_ptr"],
                name="property_price_idx",
            )
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price_per_night__gte=1), name="property_price_positive"),
            models.CheckConstraint(condition=Q(max_guests__gte=1), name="property_max_guests_positive"),
            models.CheckConstraint(condition=Q(min_nights__gte=1), name="property_min_nights_positive"),
            models.CheckConstraint(
                condition=Q(max_nights__gte=1, max_nights__lte=365), name="property_max_nights_range"
            ),
            models.CheckConstraint(
                condition=Q(min_deposit_percent__gte=20, min_deposit_percent__lte=100),
                name="property_min_deposit_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(weekend_price_per_night__isnull=True) | Q(weekend_price_per_night__gte=1),
                name="property_weekend_price_positive",
            ),
            models.CheckConstraint(
                condition=Q(weekly_discount_percent__lte=MAX_DISCOUNT_PERCENT)
                & Q(monthly_discount_percent__lte=MAX_DISCOUNT_PERCENT),
                name="property_discount_percent_range",
            ),
        ]

    @property
    def location(self) -> str:
        return f"{self.area}, {self.town}" if self.area else self.town

    def price_rules(self, *, seasons=None) -> PriceRules:
        """This listing's prices for listings.pricing. `seasons` (Season tuples) when the caller
        read them already; otherwise every season row, which in a preview are the editor's
        unsaved ones."""
        if seasons is None:
            seasons = [season.as_pricing() for season in self.seasonal_prices.all()]
        return PriceRules(
            base=self.price_per_night,
            weekend=self.weekend_price_per_night,
            seasons=tuple(seasons),
            weekly_percent=self.weekly_discount_percent or 0,
            monthly_percent=self.monthly_discount_percent or 0,
        )

    def permissions_for_user(self, user):
        # Owners may touch only their own listings, even with "publish" on the index.
        return PropertyPagePermissionTester(user, self)

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        from listings.page_context import property_page_context

        context.update(property_page_context(page=self, request=request))
        return context


class PropertySeasonalPrice(models.Model):
    """A nightly price for the nights of [start, end) of one listing: high season, holidays.

    Edited in the listing's "Seasons and discounts" panel, where seasons that overlap are
    refused (listings.forms.SeasonalPriceFormSet); listings.pricing decides what a night costs.
    """

    page = ParentalKey(PropertyPage, on_delete=models.CASCADE, related_name="seasonal_prices")
    start = models.DateField(help_text="First night at the season's price")
    end = models.DateField(help_text="First night back at the usual price (the season's last night is the day before)")
    price_per_night = models.PositiveIntegerField(validators=[MinValueValidator(1)], help_text="Whole Kenyan shillings")
    label = models.CharField(max_length=80, blank=True, help_text="e.g. Christmas and New Year")

    panels = [
        FieldRowPanel([FieldPanel("start"), FieldPanel("end")]),
        FieldRowPanel([FieldPanel("price_per_night"), FieldPanel("label")]),
    ]

    class Meta:
        ordering = ["page", "start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")),
                name="season_end_after_start",
                violation_error_message="A season ends after it starts: its end date is the first night back "
                "at the usual price.",
            ),
            models.CheckConstraint(
                condition=Q(price_per_night__gte=1),
                name="season_price_positive",
                violation_error_message="A season's price is at least 1 shilling a night.",
            ),
        ]

    def __str__(self) -> str:
        name = self.label or "Season"
        return f"{name}: {self.start:%d %b %Y} to {self.end:%d %b %Y}, KES {self.price_per_night:,}"

    def as_pricing(self) -> Season:
        return Season(start=self.start, end=self.end, price=self.price_per_night, label=self.label)


class PropertyGalleryImage(Orderable):
    page = ParentalKey(PropertyPage, on_delete=models.CASCADE, related_name="gallery_images")
    image = models.ForeignKey("wagtailimages.Image", on_delete=models.CASCADE, related_name="+")
    caption = models.CharField(max_length=250, blank=True)

    panels = [FieldPanel("image"), FieldPanel("caption")]


class CalendarExport(models.Model):
    """The secret in the address of a listing's iCal feed (GET /calendar/<token>.ics).

    Its own row rather than a page field: page fields live on in revisions, so reverting
    a revision or copying the page would bring an old address back to life. Regenerating
    replaces the token, and the old address answers 404 from then on (listings.calendar).
    """

    property = models.OneToOneField(
        PropertyPage, on_delete=models.CASCADE, primary_key=True, related_name="calendar_export"
    )
    token = models.CharField(max_length=64, unique=True)
    issued_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Calendar export of {self.property_id}"


class CalendarFeed(models.Model):
    """An iCal address of this listing elsewhere (Airbnb, Booking.com...), imported as
    blocked periods tagged with the feed (listings.calendar; docs/calendar-sync.md)."""

    property = models.ForeignKey(PropertyPage, on_delete=models.CASCADE, related_name="calendar_feeds")
    url = models.URLField(
        "calendar address", max_length=2000, help_text="The calendar's iCal (.ics) export address on the other site"
    )
    # The validators of the last answer, sent back as If-None-Match / If-Modified-Since.
    etag = models.CharField(max_length=255, blank=True)
    last_modified = models.CharField(max_length=64, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    panels = [FieldPanel("property"), FieldPanel("url")]

    class Meta:
        ordering = ["property", "pk"]
        verbose_name = "imported calendar"
        constraints = [models.UniqueConstraint(fields=["property", "url"], name="calendar_feed_url_once")]

    def __str__(self) -> str:
        return urlsplit(self.url).hostname or self.url


class BlockedPeriod(models.Model):
    """Dates an owner takes off the market: maintenance, a booking taken elsewhere. Half-open [start, end)."""

    property = models.ForeignKey(PropertyPage, on_delete=models.CASCADE, related_name="blocked_periods")
    start = models.DateField()
    end = models.DateField(help_text="First night that is free again (half-open range)")
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Set on blocks imported from another site's calendar (null: blocked by hand, which
    # imports never touch). feed_uid names the event in that feed, so a re-import updates
    # the block instead of adding a second one; removing the feed removes its blocks.
    feed = models.ForeignKey(
        CalendarFeed, null=True, blank=True, on_delete=models.CASCADE, related_name="blocked_periods"
    )
    feed_uid = models.CharField(max_length=255, blank=True)

    panels = [FieldPanel("property"), FieldRowPanel([FieldPanel("start"), FieldPanel("end")]), FieldPanel("reason")]

    class Meta:
        ordering = ["property", "start"]
        indexes = [models.Index(fields=["property", "start", "end"])]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="blocked_period_end_after_start"),
            models.UniqueConstraint(
                fields=["feed", "feed_uid"], condition=Q(feed__isnull=False), name="blocked_period_feed_event_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.property} blocked {self.start:%d %b} - {self.end:%d %b %Y}"
