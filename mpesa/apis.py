"""Payments API: payments, a booking's refunds and owners' payouts. See docs/api.md
"Payments", "Bookings" (refunds) and "Owners" (payouts)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from core.idempotency import idempotent
from core.pagination import paginate, paginated_schema
from core.phones import to_msisdn
from core.throttling import WindowRateThrottle
from mpesa.selectors import payment_get_for_user, payment_list_for_booking
from mpesa.client import MAX_AMOUNT
from mpesa.models import Payout, Refund
from mpesa.money_out_selectors import refund_list_for_booking
from mpesa.payouts import payout_list_for_owner
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


# --- Money going out: a booking's refunds, an owner's payouts (docs/money-out.md) ----------


class RefundOutputSerializer(serializers.Serializer):
    """The refund object of docs/api.md."""

    id = serializers.IntegerField()
    booking = serializers.IntegerField(source="booking_id")
    payment = serializers.IntegerField(source="payment_id", help_text="The payment whose money goes back")
    amount = serializers.IntegerField()
    phone_number = serializers.CharField(help_text="The phone that paid, 2547XXXXXXXX: where the money goes")
    method = serializers.ChoiceField(
        choices=Refund.Method.choices,
        help_text="reversal: the whole M-Pesa payment is reversed; b2c: part of it is sent back",
    )
    status = serializers.ChoiceField(choices=Refund.Status.choices)
    mpesa_transaction_id = serializers.CharField(allow_null=True, help_text="M-Pesa's receipt, once sent")
    result_code = serializers.CharField(allow_null=True)
    result_desc = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class BookingRefundListApi(APIView):
    """The refunds of a booking (any guest of the booking), oldest first."""

    @extend_schema(
        summary="The refunds of a booking",
        responses={200: paginated_schema(RefundOutputSerializer, name="PaginatedRefundList"), 404: ERROR_RESPONSE},
        tags=["bookings"],
    )
    def get(self, request, booking_id: int):
        booking = booking_get_for_user(user=request.user, booking_id=booking_id)
        return paginate(
            queryset=refund_list_for_booking(booking=booking),
            request=request,
            view=self,
            serializer_class=RefundOutputSerializer,
        )


class IsOwnerRole(BasePermission):
    message = "Only hosts have payouts."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (getattr(user, "is_owner", False) or user.is_staff))


class PayoutOutputSerializer(serializers.Serializer):
    """The payout object of docs/api.md: an owner's share of one stay."""

    id = serializers.IntegerField()
    booking = serializers.IntegerField(source="booking_id")
    booking_reference = serializers.CharField(source="booking.reference")
    gross = serializers.IntegerField(help_text="What the guest paid less refunds")
    commission = serializers.IntegerField(help_text="The platform's commission (PLATFORM_COMMISSION_PERCENT of gross)")
    amount = serializers.IntegerField(help_text="gross - commission: what the owner receives")
    # A plain string rather than an enum: its values (b2c, paybill, till) overlap the refund's
    # method enum, and one name for two sets would make the schema ambiguous.
    method = serializers.CharField(help_text="b2c (to phone_number), paybill or till (to business_number)")
    phone_number = serializers.CharField(help_text="B2C: the M-Pesa number paid, 2547XXXXXXXX")
    business_number = serializers.CharField(help_text="B2B: the paybill or till paid")
    status = serializers.ChoiceField(choices=Payout.Status.choices)
    due_at = serializers.DateTimeField(help_text="When it is released: check-in plus PAYOUT_DELAY_HOURS")
    mpesa_transaction_id = serializers.CharField(allow_null=True)
    result_code = serializers.CharField(allow_null=True)
    result_desc = serializers.CharField()
    completed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class OwnerPayoutListApi(APIView):
    """The caller's payouts (hosts only; everyone sees their own and nobody else's), latest due first."""

    permission_classes = [IsAuthenticated, IsOwnerRole]

    @extend_schema(
        summary="The owner's payouts",
        responses={
            200: paginated_schema(PayoutOutputSerializer, name="PaginatedPayoutList"),
            401: ERROR_RESPONSE,
            403: OpenApiResponse(description="Not a host"),
        },
        tags=["owners"],
    )
    def get(self, request):
        return paginate(
            queryset=payout_list_for_owner(user=request.user),
            request=request,
            view=self,
            serializer_class=PayoutOutputSerializer,
        )
