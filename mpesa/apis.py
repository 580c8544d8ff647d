"""Payments API. See docs/api.md "Payments"."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from core.idempotency import idempotent
from core.pagination import paginate, paginated_schema
from core.phones import to_msisdn
from core.throttling import WindowRateThrottle
from mpesa.selectors import payment_get_for_user, payment_list_for_booking
from mpesa.client import MAX_AMOUNT
from mpesa.start import payment_start
from reservations.selectors import booking_get_for_user

ERROR_RESPONSE = OpenApiResponse(description='{"detail", "code"} or field errors')
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Repeat the request with the same key (same user, within 24 h) to get the first response "
    "again instead of a second STK prompt.",
)


class PaymentOutputSerializer(serializers.Serializer):
    """The payment object of docs/api.md."""

    id = serializers.IntegerField()
    booking = serializers.IntegerField(source="booking_id")
    kind = serializers.CharField()
    amount = serializers.IntegerField()
    phone_number = serializers.CharField()
    status = serializers.CharField()
    checkout_request_id = serializers.CharField(allow_null=True)
    mpesa_receipt_number = serializers.CharField(allow_null=True)
    result_code = serializers.CharField(allow_null=True)
    result_desc = serializers.CharField()
    failure_reason = serializers.CharField()
    received_amount = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PaymentUserThrottle(WindowRateThrottle, UserRateThrottle):
    scope = "payment_user"


class PaymentPhoneThrottle(WindowRateThrottle):
    """Per target phone, whoever asks: nobody can flood a stranger's phone with prompts (docs/security.md)."""

    scope = "payment_phone"

    def get_cache_key(self, request, view):
        data = getattr(request, "data", None)
        if data is None:  # a plain Django request (the site's pay form)
            data = request.POST
        try:
            phone = to_msisdn(data.get("phone_number") if hasattr(data, "get") else None)
        except DjangoValidationError:
            return None  # not a phone: the request fails validation anyway
        return self.cache_format % {"scope": self.scope, "ident": phone}


class BookingPaymentCreateApi(APIView):
    """POST: pay toward a booking with an M-Pesa STK push. Answers 202 at once; the push is sent
    in the background. Throttled per user and per phone."""

    throttle_classes = [PaymentUserThrottle, PaymentPhoneThrottle]

    class InputSerializer(serializers.Serializer):
        phone_number = serializers.CharField(max_length=32)
        amount = serializers.IntegerField(
            min_value=1,
            max_value=MAX_AMOUNT,
            error_messages={
                "min_value": "Enter a whole number of shillings, at least 1.",
                "max_value": f"M-Pesa takes at most KES {MAX_AMOUNT:,} in one payment.",
            },
        )

        def validate_phone_number(self, value):
            try:
                return to_msisdn(value)
            except DjangoValidationError as error:
                raise serializers.ValidationError(error.messages)

    def get_throttles(self):
        if self.request.method != "POST":
            return []
        return super().get_throttles()

    @extend_schema(
        summary="Pay toward a booking with M-Pesa",
        description="Any guest of the booking. Answers 202 with the payment (status QUEUED) at once; the STK "
        "prompt is sent in the background. Poll GET /api/payments/{id}/ for the outcome.",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            202: PaymentOutputSerializer,
            400: ERROR_RESPONSE,
            404: ERROR_RESPONSE,
            409: OpenApiResponse(description="amount_exceeds_balance, booking_not_payable, phone_busy"),
            429: OpenApiResponse(description="throttled"),
        },
        tags=["payments"],
    )
    def post(self, request, booking_id: int):
        booking = booking_get_for_user(user=request.user, booking_id=booking_id)
        return idempotent(request, scope=f"payment_create:{booking.pk}", handler=lambda: self._create(request, booking))

    def _create(self, request, booking) -> Response:
        serializer = BookingPaymentCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = payment_start(
            booking_id=booking.pk,
            user=request.user,
            msisdn=serializer.validated_data["phone_number"],
            amount=serializer.validated_data["amount"],
        )
        return Response(PaymentOutputSerializer(payment).data, status=status.HTTP_202_ACCEPTED)


class BookingPaymentListCreateApi(BookingPaymentCreateApi):
    """GET: the payments of a booking. POST: see BookingPaymentCreateApi.

    Two operations on one path (docs/api.md fixes the path); the throttles apply to POST only.
    """

    @extend_schema(
        summary="The payments of a booking",
        responses={200: paginated_schema(PaymentOutputSerializer, name="PaginatedPaymentList"), 404: ERROR_RESPONSE},
        tags=["payments"],
    )
    def get(self, request, booking_id: int):
        booking = booking_get_for_user(user=request.user, booking_id=booking_id)
        return paginate(
            queryset=payment_list_for_booking(booking=booking),
            request=request,
            view=self,
            serializer_class=PaymentOutputSerializer,
        )


class PaymentDetailApi(APIView):
    @extend_schema(responses={200: PaymentOutputSerializer, 404: ERROR_RESPONSE}, tags=["payments"])
    def get(self, request, payment_id: int):
        payment = payment_get_for_user(user=request.user, payment_id=payment_id)
        return Response(PaymentOutputSerializer(payment).data)
