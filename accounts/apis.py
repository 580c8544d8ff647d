from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.payout_destination import payout_destination_clean, receives_payouts, user_set_payout_destination
from accounts.privacy import personal_data_download
from accounts.services import (
    user_erase,
    user_register,
    user_set_language,
    user_set_sms_notifications,
    validate_kenyan_phone,
)
from accounts.validators import validate_id_photo
from core.exceptions import ApplicationError
from core.throttling import LOCKED_CODE, ScopedWindowRateThrottle, locked_message, sign_in_locked


class UserOutputSerializer(serializers.ModelSerializer):
    phone_number = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "name",
            "email",
            "phone_number",
            "role",
            "credit_score",
            "sms_notifications",
            "language",  # of the site after log-in, emails and SMS: "en" or "sw"
            # Where a host's payouts go (accounts.payout_destination); unused for guests.
            "payout_method",
            "payout_phone_number",
            "payout_business_number",
            "payout_account_reference",
        ]

    def get_phone_number(self, user) -> str:
        return str(user.phone_number) if user.phone_number else ""


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedWindowRateThrottle]
    throttle_scope = "auth"

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=150)
        email = serializers.EmailField(max_length=254)
        phone_number = serializers.CharField(max_length=32)
        password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)
        id_photo = serializers.FileField(required=False, allow_null=True)

        def validate_email(self, value):
            value = value.strip().lower()
            if User.objects.filter(email__iexact=value).exists():
                raise serializers.ValidationError("An account with this email already exists.")
            return value

        def validate_phone_number(self, value):
            try:
                return validate_kenyan_phone(value)
            except DjangoValidationError as error:
                raise serializers.ValidationError(error.messages)

        def validate_id_photo(self, value):
            if not value:
                return value
            try:
                # The re-encoded image (accounts.validators.IdPhotoImage) replaces the upload.
                return validate_id_photo(value)
            except DjangoValidationError as error:
                raise serializers.ValidationError(error.messages)

        def validate(self, attrs):
            candidate = User(email=attrs.get("email", ""), name=attrs.get("name", ""))
            try:
                password_validation.validate_password(attrs["password"], candidate)
            except DjangoValidationError as error:
                raise serializers.ValidationError({"password": error.messages})
            return attrs

    @extend_schema(request=InputSerializer, responses={201: UserOutputSerializer}, tags=["accounts"])
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_register(**serializer.validated_data)
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenObtainApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedWindowRateThrottle]
    throttle_scope = "auth"

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        password = serializers.CharField(trim_whitespace=False, max_length=128)

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer}, tags=["accounts"])
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email = serializer.validated_data["email"].lower()
        # Checked before authenticating: while locked even the right password is refused.
        if sign_in_locked(request, email):
            raise ApplicationError(locked_message(), LOCKED_CODE, status=429)
        user = authenticate(request, username=email, password=serializer.validated_data["password"])
        if user is None:
            raise serializers.ValidationError(
                {"non_field_errors": ["Unable to log in with the provided credentials."]}, code="authorization"
            )
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class MeApi(APIView):
    class InputSerializer(serializers.Serializer):
        sms_notifications = serializers.BooleanField(required=False)
        language = serializers.ChoiceField(choices=User._meta.get_field("language").choices, required=False)
        payout_method = serializers.ChoiceField(
            choices=User.PayoutMethod.choices, required=False, help_text="Hosts only: where payouts go"
        )
        payout_phone_number = serializers.CharField(
            required=False, allow_blank=True, max_length=32, help_text="payout_method mpesa: a Kenyan mobile number"
        )
        payout_business_number = serializers.CharField(
            required=False, allow_blank=True, max_length=16, help_text="payout_method paybill or till: 5 to 7 digits"
        )
        payout_account_reference = serializers.CharField(
            required=False, allow_blank=True, max_length=40, help_text="payout_method paybill: the account number"
        )

        def validate(self, attrs):
            if not attrs:
                raise serializers.ValidationError(
                    {"non_field_errors": ["Send sms_notifications, language, or a payout destination (payout_method ...)."]}
                )
            payout = {key: value for key, value in attrs.items() if key.startswith("payout_")}
            if payout:
                if "payout_method" not in payout:
                    raise serializers.ValidationError({"payout_method": ["Give the method with the destination."]})
                try:
                    attrs["payout"] = payout_destination_clean(
                        method=payout["payout_method"],
                        phone_number=payout.get("payout_phone_number", ""),
                        business_number=payout.get("payout_business_number", ""),
                        account_reference=payout.get("payout_account_reference", ""),
                    )
                except DjangoValidationError as error:
                    raise serializers.ValidationError(error.message_dict)
            return attrs

    @extend_schema(responses={200: UserOutputSerializer}, tags=["accounts"])
    def get(self, request):
        return Response(UserOutputSerializer(request.user).data)

    @extend_schema(request=InputSerializer, responses={200: UserOutputSerializer}, tags=["accounts"])
    def patch(self, request):
        """Turn SMS notifications on or off ({"sms_notifications": bool}) and, for hosts, set
        where payouts go ({"payout_method": "mpesa", "payout_phone_number"} or "paybill" with
        "payout_business_number" and "payout_account_reference", or "till" with
        "payout_business_number"). 403 not_a_host for a guest's payout destination."""
        # partial: a field left out of a form-encoded body is absent, not False (DRF reads a
        # missing checkbox as unticked), so setting a payout destination never turns SMS off.
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "payout" in data and not receives_payouts(request.user):
            raise ApplicationError("Only hosts receive payouts.", "not_a_host", 403)
        if "payout" in data:
            user_set_payout_destination(user=request.user, destination=data["payout"], actor=request.user)
        if "sms_notifications" in data:
            user_set_sms_notifications(user=request.user, enabled=data["sms_notifications"])
        if "language" in data:
            user_set_language(user=request.user, language=data["language"])
        return Response(UserOutputSerializer(request.user).data)


class MeDataApi(APIView):
    """The current user's personal data as a JSON download (accounts.privacy)."""

    @extend_schema(responses={200: dict}, tags=["accounts"])
    def get(self, request):
        return personal_data_download(user=request.user)


class MeDeleteApi(APIView):
    """Delete the current account: personal data erased, bookings and payments kept anonymised.
    The password confirms it; 409 while the account is still needed (accounts.privacy)."""

    throttle_classes = [ScopedWindowRateThrottle]
    throttle_scope = "auth"

    class InputSerializer(serializers.Serializer):
        password = serializers.CharField(trim_whitespace=False, max_length=128)

    @extend_schema(request=InputSerializer, responses={204: None}, tags=["accounts"])
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user_erase(user=request.user, password=serializer.validated_data["password"])
        except ApplicationError as error:
            if error.code == "invalid_password":
                raise serializers.ValidationError({"password": [error.message]})
            raise
        return Response(status=status.HTTP_204_NO_CONTENT)
