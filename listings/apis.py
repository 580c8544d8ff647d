"""Properties API (public): search, one listing, its taken nights and the price of a stay.
See docs/api.md "Properties"."""

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from wagtail.rich_text import expand_db_html

from core.exceptions import ApplicationError
from core.pagination import StandardPagination, paginated_schema
from listings.models import PropertyPage
from listings.selectors import (
    THUMBNAIL_SPEC,
    PropertySearchResults,
    amenity_list,
    page_url_resolver,
    property_attach_summaries,
    property_get_public,
    property_photo_urls,
    property_price_rules,
    property_rendition_url,
    property_thumbnail_url,
    property_unavailable_ranges,
)

# Bounds that keep every query parameter inside what the database columns hold.
MAX_INT = 2_147_483_647
MAX_PARTY = 50
MAX_AMENITIES = 20
SORT_CHOICES = [("price", "price"), ("-price", "-price"), ("newest", "newest")]
AVAILABILITY_DEFAULT_DAYS = 90
AVAILABILITY_MAX_DAYS = 366
BAD_QUERY = OpenApiResponse(description='Invalid query: field errors, e.g. {"check_out": ["..."]}')
NOT_FOUND = OpenApiResponse(description='No live listing with this id: {"detail", "code": "not_found"}')


def _absolute(request, url: str | None) -> str | None:
    return request.build_absolute_uri(url) if url else None


class PropertyListItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="title")
    slug = serializers.CharField()
    url = serializers.SerializerMethodField()
    location = serializers.CharField()
    price_per_night = serializers.IntegerField()
    max_guests = serializers.IntegerField()
    min_nights = serializers.IntegerField()
    amenities = serializers.SerializerMethodField()
    thumbnail = serializers.SerializerMethodField()

    def get_url(self, page) -> str | None:
        request = self.context["request"]
        return _absolute(request, page.get_url(request=request))

    def get_amenities(self, page) -> list[str]:
        return [amenity.name for amenity in page.amenities.all()]

    def get_thumbnail(self, page) -> str | None:
        return _absolute(self.context["request"], property_thumbnail_url(page))


class PropertyListApi(APIView):
    """Live, available listings; with check_in and check_out, only those free for the whole stay.
    Filters: price range, amenities (all of them), guests, location; `sort` orders them."""

    permission_classes = [AllowAny]

    class FilterSerializer(serializers.Serializer):
        check_in = serializers.DateField(required=False)
        check_out = serializers.DateField(required=False)
        guests = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PARTY)
        location = serializers.CharField(required=False, allow_blank=True, max_length=80)
        price_min = serializers.IntegerField(
            required=False, min_value=0, max_value=MAX_INT, help_text="Lowest price per night, KES (inclusive)"
        )
        price_max = serializers.IntegerField(
            required=False, min_value=0, max_value=MAX_INT, help_text="Highest price per night, KES (inclusive)"
        )
        # The first names of the price bounds, still accepted: clients written against them keep working.
        min_price = serializers.IntegerField(
            required=False, min_value=0, max_value=MAX_INT, help_text="Same as price_min (older name)"
        )
        max_price = serializers.IntegerField(
            required=False, min_value=0, max_value=MAX_INT, help_text="Same as price_max (older name)"
        )
        amenities = serializers.CharField(
            required=False, allow_blank=True, max_length=200,
            help_text="Comma-separated amenity ids, e.g. 3,7: only listings with every one of them",
        )
        sort = serializers.ChoiceField(
            required=False, choices=SORT_CHOICES, allow_blank=True,
            help_text="price: cheapest first; -price: dearest first; newest: last published first. "
            "Default: the site's recommended order",
        )

        def validate_amenities(self, value: str) -> list[int]:
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if len(parts) > MAX_AMENITIES:
                raise serializers.ValidationError(f"Choose at most {MAX_AMENITIES} amenities.")
            if not all(part.isdigit() and 0 < int(part) <= MAX_INT for part in parts):
                raise serializers.ValidationError("Give amenity ids as whole numbers separated by commas, e.g. 3,7.")
            ids = sorted({int(part) for part in parts})
            if ids:
                unknown = set(ids) - {amenity.pk for amenity in amenity_list()}
                if unknown:
                    raise serializers.ValidationError(f"Unknown amenity id(s): {', '.join(map(str, sorted(unknown)))}.")
            return ids

        def validate(self, attrs):
            for new, old in (("price_min", "min_price"), ("price_max", "max_price")):
                if new in attrs and old in attrs and attrs[new] != attrs[old]:
                    raise serializers.ValidationError({new: [f"Give {new} or {old}, not two different values."]})
                if new in attrs:
                    attrs[old] = attrs.pop(new)
            attrs["sort"] = attrs.get("sort") or ""
            if not attrs.get("amenities"):
                attrs.pop("amenities", None)
            check_in, check_out = attrs.get("check_in"), attrs.get("check_out")
            if (check_in is None) != (check_out is None):
                missing = "check_out" if check_out is None else "check_in"
                raise serializers.ValidationError({missing: ["Give both check_in and check_out, or neither."]})
            if check_in is not None:
                if check_in < timezone.localdate():
                    raise serializers.ValidationError({"check_in": ["Check-in cannot be in the past."]})
                if check_out <= check_in:
                    raise serializers.ValidationError({"check_out": ["Check-out must be after check-in."]})
            min_price, max_price = attrs.get("min_price"), attrs.get("max_price")
            if min_price is not None and max_price is not None and max_price < min_price:
                named = "price_max" if "price_max" in self.initial_data else "max_price"
                raise serializers.ValidationError({named: [f"{named} must be at least the lowest price."]})
            return attrs

    class OutputSerializer(PropertyListItemSerializer):
        def to_representation(self, page) -> dict:
            # The declared fields (which also make the schema), written out: DRF's
            # per-field machinery, ten fields times twenty results, was a fifth of a
            # search's time. tests/listings/test_apis.py holds the two to the same keys.
            # `page_url` is a page_url_resolver; `amenity_names` and `cover` come from
            # property_attach_summaries.
            request = self.context["request"]
            cover = page.cover
            return {
                "id": page.pk,
                "name": page.title,
                "slug": page.slug,
                "url": _absolute(request, self.context["page_url"](page)),
                "location": page.location,
                "price_per_night": page.price_per_night,
                "max_guests": page.max_guests,
                "min_nights": page.min_nights,
                "amenities": page.amenity_names,
                "thumbnail": _absolute(request, property_rendition_url(cover, THUMBNAIL_SPEC)) if cover else None,
            }

    @extend_schema(
        parameters=[FilterSerializer],
        responses={200: paginated_schema(OutputSerializer, name="PaginatedPropertyList"), 400: BAD_QUERY},
        tags=["properties"],
        auth=[],
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = StandardPagination()
        results = PropertySearchResults(filters=filters.validated_data)
        properties = property_attach_summaries(
            paginator.paginate_queryset(results, request, view=self), cover_specs=(THUMBNAIL_SPEC,)
        )
        context = {"request": request, "page_url": page_url_resolver(request)}
        return paginator.get_paginated_response(self.OutputSerializer(properties, many=True, context=context).data)


class PropertyDetailApi(APIView):
    permission_classes = [AllowAny]

    class OutputSerializer(PropertyListItemSerializer):
        description = serializers.SerializerMethodField()
        photos = serializers.SerializerMethodField()
        owner_name = serializers.SerializerMethodField()
        availability_status = serializers.CharField()
        town = serializers.CharField()
        area = serializers.CharField()
        latitude = serializers.DecimalField(max_digits=9, decimal_places=6, allow_null=True)
        longitude = serializers.DecimalField(max_digits=9, decimal_places=6, allow_null=True)
        min_deposit_percent = serializers.IntegerField()
        max_nights = serializers.IntegerField()
        min_credit_score = serializers.IntegerField(allow_null=True)
        # The price rules besides seasons; a stay's nightly prices, seasons included, come
        # from the quote endpoint.
        weekend_price_per_night = serializers.IntegerField(allow_null=True, help_text="Friday and Saturday nights")
        weekly_discount_percent = serializers.IntegerField(help_text="Off stays of 7 nights or more")
        monthly_discount_percent = serializers.IntegerField(help_text="Off stays of 28 nights or more")
        cancellation_policy = serializers.ChoiceField(
            choices=PropertyPage.CancellationPolicy.choices,
            help_text="What a guest who cancels gets back (docs/money-out.md)",
        )
        cancellation_policy_text = serializers.CharField(
            source="get_cancellation_policy_display", help_text="The policy in words, as the site shows it"
        )

        def get_description(self, page) -> str:
            return expand_db_html(page.description)

        def get_photos(self, page) -> list[str]:
            request = self.context["request"]
            return [_absolute(request, url) for url in property_photo_urls(page)]

        def get_owner_name(self, page) -> str:
            return page.owner.name if page.owner_id else ""

    @extend_schema(responses={200: OutputSerializer, 404: NOT_FOUND}, tags=["properties"], auth=[])
    def get(self, request, property_id: int):
        page = property_get_public(property_id=property_id)
        return Response(self.OutputSerializer(page, context={"request": request}).data)


class PropertyAvailabilityApi(APIView):
    """Nights of [start, end) taken by active bookings or blocks, as merged half-open ranges (no guest data)."""

    permission_classes = [AllowAny]

    class FilterSerializer(serializers.Serializer):
        start = serializers.DateField(required=False, help_text="Default: today")
        end = serializers.DateField(required=False, help_text=f"Default: start + {AVAILABILITY_DEFAULT_DAYS} days")

        def validate(self, attrs):
            start = attrs.get("start") or timezone.localdate()
            try:
                end = attrs.get("end") or start + dt.timedelta(days=AVAILABILITY_DEFAULT_DAYS)
            except OverflowError as error:
                raise serializers.ValidationError({"start": ["Date out of range."]}) from error
            if end <= start:
                raise serializers.ValidationError({"end": ["end must be after start."]})
            if (end - start).days > AVAILABILITY_MAX_DAYS:
                raise serializers.ValidationError({"end": [f"Ask for at most {AVAILABILITY_MAX_DAYS} days at a time."]})
            return {"start": start, "end": end}

    class OutputSerializer(serializers.Serializer):
        class RangeSerializer(serializers.Serializer):
            start = serializers.DateField()
            end = serializers.DateField()

        unavailable = RangeSerializer(many=True)

    @extend_schema(
        parameters=[FilterSerializer],
        responses={200: OutputSerializer, 400: BAD_QUERY, 404: NOT_FOUND},
        tags=["properties"],
        auth=[],
    )
    def get(self, request, property_id: int):
        window = self.FilterSerializer(data=request.query_params)
        window.is_valid(raise_exception=True)
        page = property_get_public(property_id=property_id, details=False)
        ranges = property_unavailable_ranges(property=page, **window.validated_data)
        body = {"unavailable": [{"start": start, "end": end} for start, end in ranges]}
        return Response(self.OutputSerializer(body).data)


class PropertyQuoteApi(APIView):
    """What a stay would cost, night by night, as a booking made now would be charged
    (listings.pricing, the function booking creation uses). The property page's live
    estimate asks here. It refuses what a booking of these dates would be refused for (stay
    length, party size, nights already taken), so the page never shows a price for a stay
    that cannot be booked."""

    permission_classes = [AllowAny]

    class FilterSerializer(serializers.Serializer):
        check_in = serializers.DateField()
        check_out = serializers.DateField()
        guests = serializers.IntegerField(min_value=1, max_value=50, required=False)

        def validate(self, attrs):
            check_in, check_out = attrs["check_in"], attrs["check_out"]
            if check_in < timezone.localdate():
                raise serializers.ValidationError({"check_in": ["Check-in cannot be in the past."]})
            if check_out <= check_in:
                raise serializers.ValidationError({"check_out": ["Check-out must be after check-in."]})
            return attrs

    class OutputSerializer(serializers.Serializer):
        class NightSerializer(serializers.Serializer):
            date = serializers.DateField()
            price = serializers.IntegerField()

        check_in = serializers.DateField()
        check_out = serializers.DateField()
        nights = serializers.IntegerField()
        nightly_prices = NightSerializer(many=True)
        subtotal = serializers.IntegerField(help_text="The nights' prices added up")
        discount_percent = serializers.IntegerField(help_text="Weekly (7+ nights) or monthly (28+) discount; 0 if none")
        discount = serializers.IntegerField(help_text="Shillings off the subtotal, rounded down")
        total_price = serializers.IntegerField()

    @extend_schema(
        parameters=[FilterSerializer],
        responses={
            200: OutputSerializer,
            400: BAD_QUERY,
            404: NOT_FOUND,
            409: OpenApiResponse(description="Some of these nights are taken (code dates_unavailable)"),
        },
        tags=["properties"],
        auth=[],
    )
    def get(self, request, property_id: int):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        check_in, check_out = filters.validated_data["check_in"], filters.validated_data["check_out"]
        page = property_get_public(property_id=property_id, details=False)
        if (check_out - check_in).days > page.max_nights:
            # Also bounds the work: a quote is at most a year of nights.
            raise serializers.ValidationError(
                {"check_out": [f"This property takes stays of at most {page.max_nights} nights."]}
            )
        if (check_out - check_in).days < page.min_nights:
            raise serializers.ValidationError(
                {"check_out": [f"This property takes stays of at least {page.min_nights} nights."]}
            )
        guests = filters.validated_data.get("guests")
        if guests is not None and guests > page.max_guests:
            raise serializers.ValidationError({"guests": [f"This property sleeps at most {page.max_guests} guests."]})
        if property_unavailable_ranges(property=page, start=check_in, end=check_out):
            raise ApplicationError(
                "Some of these nights are already taken. Choose other dates.", "dates_unavailable", 409
            )
        quote = property_price_rules(property=page, start=check_in, end=check_out).quote(check_in, check_out)
        body = {
            "check_in": check_in,
            "check_out": check_out,
            "nights": quote.nights,
            "nightly_prices": [{"date": night, "price": price} for night, price in quote.nightly],
            "subtotal": quote.subtotal,
            "discount_percent": quote.discount_percent,
            "discount": quote.discount,
            "total_price": quote.total,
        }
        return Response(self.OutputSerializer(body).data)
