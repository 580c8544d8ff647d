"""Bookings API. See docs/api.md "Bookings"."""

import datetime as dt

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from core.exceptions import ApplicationError
from core.idempotency import idempotent
from core.pagination import paginate, paginated_schema
from core.phones import to_msisdn
from core.throttling import WindowRateThrottle
from listings.models import PropertyPage
from reservations.check_in import booking_check_in_details
from reservations.guest_cancellation import booking_policy, guest_cancellation
from reservations.invitations import booking_invitation_accept
from reservations.models import BookingGuest
from reservations.selectors import (
    booking_get_for_user,
    booking_list_for_user,
    booking_with_guests,
)
from reservations.deadlines import booking_balance_due_by
from reservations.services import MAX_CO_GUESTS, booking_cancel, booking_create, booking_guest_add
from reservations.status import booking_min_first_payment

MAX_INT = 2_147_483_647

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Repeat the request with the same key (same user, within 24 h) to get the first response "
    "again instead of a second booking.",
)
ERROR_RESPONSE = OpenApiResponse(description='{"detail", "code"} or field errors')


class BookingUserThrottle(WindowRateThrottle, UserRateThrottle):
    """Every booking POST of a user, through the API or the site's booking form (one counter
    per user, so both count against one limit): a booking holds dates, and creating
    them in bulk would take a listing off the market for nothing (THROTTLE_BOOKING_USER)."""

    scope = "booking_user"


def _viewer_id(context) -> int | None:
    return getattr(getattr(context.get("request"), "user", None), "pk", None)


def _sees_contact(*, viewer_id: int | None, primary_guest_id: int, guest) -> bool:
    """Guests' emails and phones are the booker's to see (and each guest's own); other guests
    of the booking see names only (docs/api.md), so joining a booking reveals no one's number."""
    return viewer_id is not None and viewer_id in (primary_guest_id, guest.user_id)


class _GuestContactField(serializers.CharField):
    """A guest's email or phone, or "" for a viewer who may not see it."""

    def get_attribute(self, guest):
        value = super().get_attribute(guest)
        viewer_id = _viewer_id(self.context)
        shown = _sees_contact(viewer_id=viewer_id, primary_guest_id=guest.booking.primary_guest_id, guest=guest)
        return value if shown else ""


class BookingGuestOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    email = _GuestContactField()
    phone_number = _GuestContactField()
    is_primary = serializers.BooleanField()
    # Null until the co-guest accepts the invitation: it never tells whether the address has an account.
    user = serializers.IntegerField(source="user_id", allow_null=True)
    invitation = serializers.ChoiceField(choices=BookingGuest.Invitation.choices)


# One instance of each formatting field, shared: building a serializer's fields (DRF
# deep-copies every declared field per serializer) cost more than a booking's whole
# representation, and every booking answer pays it.
_DATE = serializers.DateField()
_DATETIME = serializers.DateTimeField()


class NightlyPriceSerializer(serializers.Serializer):
    date = serializers.DateField()
    price = serializers.IntegerField()


class BookingOutputSerializer(serializers.Serializer):
    """The booking object of docs/api.md.

    The declared fields are the contract (the OpenAPI schema is generated from them);
    to_representation writes the same thing by hand, because it runs for every booking the
    API returns. tests/reservations/test_apis.py checks that both agree.
    """

    id = serializers.IntegerField()
    reference = serializers.CharField()
    property = serializers.IntegerField(source="property_id")
    property_name = serializers.CharField(source="property.title")
    check_in = serializers.DateField()
    check_out = serializers.DateField()
    nights = serializers.IntegerField()
    status = serializers.CharField()
    total_price = serializers.IntegerField()
    nightly_prices = NightlyPriceSerializer(
        many=True,
        source="nightly_price_list",
        help_text="Each night's price as booked (season, weekend or base); total_price is their sum less discount.",
    )
    discount = serializers.IntegerField(help_text="The length-of-stay (weekly or monthly) discount, in shillings.")
    amount_paid = serializers.IntegerField()
    balance_due = serializers.IntegerField()
    booking_date = serializers.DateTimeField()
    hold_expires_at = serializers.DateTimeField(allow_null=True)
    min_first_payment = serializers.SerializerMethodField(
        help_text="The smallest first payment: the listing's deposit percent of the total, rounded up."
    )
    balance_due_by = serializers.SerializerMethodField(
        help_text="When the whole amount is due (Africa/Nairobi); unpaid by then, a partly paid booking is cancelled."
    )
    cancellation_policy = serializers.ChoiceField(
        source="property.cancellation_policy",
        choices=PropertyPage.CancellationPolicy.choices,
        help_text="The listing's cancellation policy, which this booking's refund follows "
        "(GET /api/bookings/{id}/cancellation/ gives the amount).",
    )
    guests = BookingGuestOutputSerializer(many=True, source="guests.all")

    def to_representation(self, booking):
        # A booking just created carries its listing's title and the guest rows it wrote
        # (booking_create); others read them, prefetched in display order by booking_with_guests.
        title = getattr(booking, "property_title", None)
        guests = getattr(booking, "guest_rows", None)
        if guests is None:
            guests = booking.guests.all()
        viewer_id = _viewer_id(self.context)
        return {
            "id": booking.pk,
            "reference": booking.reference,
            "property": booking.property_id,
            "property_name": title if title is not None else booking.property.title,
            "check_in": _DATE.to_representation(booking.check_in),
            "check_out": _DATE.to_representation(booking.check_out),
            "nights": booking.nights,
            "status": booking.status,
            "total_price": booking.total_price,
            "nightly_prices": booking.nightly_price_list(),
            "discount": booking.discount(),
            "amount_paid": booking.amount_paid,
            "balance_due": booking.balance_due,
            "booking_date": _DATETIME.to_representation(booking.booking_date),
            "hold_expires_at": (
                _DATETIME.to_representation(booking.hold_expires_at) if booking.hold_expires_at else None
            ),
            "min_first_payment": self.get_min_first_payment(booking),
            "balance_due_by": self.get_balance_due_by(booking),
            "cancellation_policy": booking_policy(booking),
            "guests": [_guest_representation(guest, viewer_id=viewer_id, booking=booking) for guest in guests],
        }

    def get_min_first_payment(self, booking) -> int:
        return booking_min_first_payment(
            total_price=booking.total_price, min_deposit_percent=_min_deposit_percent(booking)
        )

    def get_balance_due_by(self, booking) -> dt.datetime:
        return _DATETIME.to_representation(
            booking_balance_due_by(check_in=booking.check_in, booking_date=booking.booking_date)
        )


class CheckInDetailsSerializer(serializers.Serializer):
    """What a guest needs to arrive (reservations.check_in), given once the booking is CONFIRMED."""

    address = serializers.CharField(help_text="Street address; \"\" when the listing has none.")
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, allow_null=True, help_text="Approximate.")
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, allow_null=True, help_text="Approximate.")
    directions_url = serializers.URLField(allow_blank=True)
    host_name = serializers.CharField()
    host_phone = serializers.CharField(help_text="E.164, e.g. +254712345678; \"\" when unknown.")
    instructions = serializers.CharField(allow_blank=True)


class BookingDetailOutputSerializer(BookingOutputSerializer):
    """One booking (GET /api/bookings/{id}/): the booking object plus its check-in details."""

    check_in_details = serializers.SerializerMethodField(
        help_text="Address, host and check-in instructions; null until the booking is CONFIRMED."
    )

    def to_representation(self, booking):
        return {**super().to_representation(booking), "check_in_details": self.get_check_in_details(booking)}

    @extend_schema_field(CheckInDetailsSerializer(allow_null=True))
    def get_check_in_details(self, booking) -> dict | None:
        details = booking_check_in_details(booking=booking)
        return CheckInDetailsSerializer(details).data if details is not None else None


def _min_deposit_percent(booking) -> int | None:
    # A booking just created carries its listing's deposit (booking_create); others have the
    # listing loaded with them (booking_list_for_user).
    percent = getattr(booking, "property_min_deposit_percent", None)
    return percent if percent is not None else booking.property.min_deposit_percent


def _guest_representation(guest, *, viewer_id: int | None, booking) -> dict:
    shown = _sees_contact(viewer_id=viewer_id, primary_guest_id=booking.primary_guest_id, guest=guest)
    return {
        "name": guest.name,
        "email": guest.email if shown else "",
        "phone_number": guest.phone_number if shown else "",
        "is_primary": guest.is_primary,
        "user": guest.user_id,
        "invitation": guest.invitation,
    }


class BookingListCreateApi(APIView):
    """GET: the caller's bookings (as primary guest or linked co-guest). POST: book a stay.

    Two operations on one path (docs/api.md fixes the path); each has its own method and serializers.
    POST is throttled per user (BookingUserThrottle, shared with the site's booking form).
    """

    throttle_classes = [BookingUserThrottle]

    def get_throttles(self):
        if self.request.method != "POST":
            return []
        return super().get_throttles()

    class InputSerializer(serializers.Serializer):
        class GuestSerializer(serializers.Serializer):
            name = serializers.CharField(max_length=150)
            email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
            phone_number = serializers.CharField(required=False, allow_blank=True, max_length=32)

            def validate_phone_number(self, value):
                if not value.strip():
                    return ""
                try:
                    return to_msisdn(value)
                except DjangoValidationError as error:
                    raise serializers.ValidationError(error.messages) from error

        property = serializers.IntegerField(min_value=1, max_value=MAX_INT)
        check_in = serializers.DateField()
        check_out = serializers.DateField()
        guests = GuestSerializer(many=True, required=False, max_length=MAX_CO_GUESTS)

    @extend_schema(
        responses={200: paginated_schema(BookingOutputSerializer, name="PaginatedBookingList"), 401: ERROR_RESPONSE},
        tags=["bookings"],
    )
    def get(self, request):
        queryset = booking_with_guests(booking_list_for_user(user=request.user))
        return paginate(queryset=queryset, request=request, view=self, serializer_class=BookingOutputSerializer)

    @extend_schema(
        request=InputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: BookingOutputSerializer,
            400: ERROR_RESPONSE,
            401: ERROR_RESPONSE,
            409: OpenApiResponse(description="dates_unavailable, credit_score_too_low, idempotency_in_progress"),
            429: OpenApiResponse(description="throttled: too many bookings by this user"),
        },
        tags=["bookings"],
    )
    def post(self, request):
        return idempotent(request, scope="booking_create", handler=lambda: self._create(request))

    def _create(self, request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        booking = booking_create(
            user=request.user,
            property_id=data["property"],
            check_in=data["check_in"],
            check_out=data["check_out"],
            guests=[dict(guest) for guest in data.get("guests", [])],
        )
        return Response(
            BookingOutputSerializer(booking, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class BookingDetailApi(APIView):
    @extend_schema(
        responses={200: BookingDetailOutputSerializer, 401: ERROR_RESPONSE, 404: ERROR_RESPONSE}, tags=["bookings"]
    )
    def get(self, request, booking_id: int):
        booking = booking_get_for_user(user=request.user, booking_id=booking_id)
        return Response(BookingDetailOutputSerializer(booking, context={"request": request}).data)


class BookingCancellationApi(APIView):
    """What cancelling the booking now would refund, under its listing's policy (any guest of
    the booking may ask; only the booker may cancel). 409 when it cannot be cancelled now,
    with the code POST .../cancel/ would answer."""

    class OutputSerializer(serializers.Serializer):
        # A string, not a second enum: the same set as the booking's cancellation_policy,
        # which names the schema's CancellationPolicyEnum.
        policy = serializers.CharField(help_text="The listing's cancellation policy: flexible, moderate or strict")
        amount_paid = serializers.IntegerField(help_text="What the booking holds now")
        refund_percent = serializers.IntegerField(help_text="Of amount_paid, what goes back")
        refund_amount = serializers.IntegerField(help_text="What cancelling now refunds, in shillings")
        kept_amount = serializers.IntegerField(help_text="amount_paid - refund_amount")
        refund_drops_at = serializers.DateTimeField(
            allow_null=True, help_text="When the refund would next get smaller (Africa/Nairobi); null: it will not"
        )
        explanation = serializers.CharField(help_text="The policy applied to this booking, in words")

    @extend_schema(
        responses={
            200: OutputSerializer,
            401: ERROR_RESPONSE,
            404: ERROR_RESPONSE,
            409: OpenApiResponse(
                description="booking_not_cancellable (already cancelled, or check-in has passed), "
                "payment_in_flight (wait until it lands or fails)"
            ),
        },
        tags=["bookings"],
    )
    def get(self, request, booking_id: int):
        booking = booking_get_for_user(user=request.user, booking_id=booking_id)
        quote = guest_cancellation(booking)
        if not quote.allowed:
            raise ApplicationError(quote.refusal, quote.refusal_code, 409)
        return Response(self.OutputSerializer(quote.terms.as_dict()).data)


class CancelRefundSerializer(serializers.Serializer):
    """A refund a cancellation created (the whole object: GET /api/bookings/{id}/refunds/)."""

    id = serializers.IntegerField(
        allow_null=True, help_text="null: sent by staff by hand (a payment with no M-Pesa receipt, or too small for B2C)"
    )
    payment = serializers.IntegerField(help_text="The payment whose money goes back")
    amount = serializers.IntegerField()
    method = serializers.CharField(help_text="reversal, b2c, or manual (id null)")
    status = serializers.CharField(help_text="QUEUED; AWAITING_APPROVAL above the approval threshold; FLAGGED (manual)")


def _refund_items(answers) -> list[dict]:
    """The booking_canceled receivers' answers (the payments app: one dict per refund it
    created, mpesa.refunds_out) as the cancel answer lists them."""
    items = []
    for answer in answers or ():
        if not isinstance(answer, dict) or "refund_id" not in answer:
            continue
        items.append(
            {
                "id": answer["refund_id"],
                "payment": answer.get("payment_id"),
                "amount": answer.get("amount"),
                "method": answer.get("method"),
                "status": answer.get("status"),
            }
        )
    return items


class BookingCancelApi(APIView):
    """The guest who made the booking cancels it. Money it holds goes back to the phones
    that paid, as much as the listing's policy gives (GET .../cancellation/ says how much
    beforehand); the answer is the booking with the refunds this created."""

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=200)

    class OutputSerializer(BookingOutputSerializer):
        refunds = CancelRefundSerializer(
            many=True, help_text="The refunds this cancellation created; follow them at GET /api/bookings/{id}/refunds/"
        )

        def to_representation(self, booking):
            data = super().to_representation(booking)
            data["refunds"] = _refund_items(getattr(booking, "cancellation_refunds", None))
            return data

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: ERROR_RESPONSE,
            401: ERROR_RESPONSE,
            403: OpenApiResponse(description="not_primary_guest: co-guests cannot cancel"),
            404: ERROR_RESPONSE,
            409: OpenApiResponse(
                description="booking_not_cancellable (already cancelled, or check-in has passed), "
                "payment_in_flight (wait until it lands or fails)"
            ),
        },
        tags=["bookings"],
    )
    def post(self, request, booking_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        booking = booking_get_for_user(user=request.user, booking_id=booking_id)
        if booking.primary_guest_id != request.user.pk:
            raise ApplicationError("Only the guest who made the booking can cancel it.", "not_primary_guest", 403)
        canceled = booking_cancel(
            booking_id=booking.pk, actor=request.user, reason=serializer.validated_data.get("reason", "")
        )
        refunds = getattr(canceled, "refunds_created", None)
        booking = booking_get_for_user(user=request.user, booking_id=booking.pk)
        booking.cancellation_refunds = refunds
        return Response(self.OutputSerializer(booking, context={"request": request}).data)


class BookingGuestCreateApi(APIView):
    """The booker adds a co-guest; one with an email is sent an invitation to accept.

    The answer is the same whether or not the address belongs to an account (`user` is
    null and `invitation` is "invited" either way): adding a guest never looks accounts up.
    """

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=150)
        email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
        phone_number = serializers.CharField(required=False, allow_blank=True, max_length=32)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: BookingGuestOutputSerializer,
            400: ERROR_RESPONSE,
            401: ERROR_RESPONSE,
            403: OpenApiResponse(description="not_primary_guest: only the guest who booked adds guests"),
            404: ERROR_RESPONSE,
            409: OpenApiResponse(description="booking_canceled"),
        },
        tags=["bookings"],
    )
    def post(self, request, booking_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        booking = booking_get_for_user(user=request.user, booking_id=booking_id)
        guest = booking_guest_add(booking_id=booking.pk, actor=request.user, **serializer.validated_data)
        return Response(
            BookingGuestOutputSerializer(guest, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class InvitationAcceptApi(APIView):
    """The logged-in invitee accepts the invitation whose link carries `token`, and is linked to the booking."""

    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=1000, allow_blank=True, trim_whitespace=True)

    @extend_schema(
        request=InputSerializer,
        responses={
            200: BookingOutputSerializer,
            400: OpenApiResponse(description="invalid_invitation: unknown, used or expired link"),
            401: ERROR_RESPONSE,
        },
        tags=["bookings"],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        if not serializer.is_valid():
            raise ApplicationError("This invitation link is not valid.", "invalid_invitation", 400)
        booking = booking_invitation_accept(token=serializer.validated_data["token"], user=request.user)
        booking = booking_get_for_user(user=request.user, booking_id=booking.pk)
        return Response(BookingOutputSerializer(booking, context={"request": request}).data)
