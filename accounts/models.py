from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField

from accounts.roles import user_sync_role_groups
from accounts.storage import id_photo_upload_to, private_storage

CREDIT_SCORE_START = 50
CREDIT_SCORE_MIN = 0
CREDIT_SCORE_MAX = 100


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_superuser", False)
        return self._with_role_groups(self._create_user(email, password, **extra_fields))

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("role", User.Role.STAFF)
        extra_fields["is_superuser"] = True
        return self._with_role_groups(self._create_user(email, password, **extra_fields))

    @staticmethod
    def _with_role_groups(user):
        # createsuperuser, seed scripts and the shell create users here: their groups
        # follow the role from the start (accounts.services.user_set_role for changes).
        if user.role != User.Role.GUEST:
            user_sync_role_groups(user)
        return user

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class User(AbstractBaseUser, PermissionsMixin):
    class Role(models.TextChoices):
        GUEST = "guest", "Guest"
        OWNER = "owner", "Owner"
        STAFF = "staff", "Staff"

    class PayoutMethod(models.TextChoices):
        MPESA = "mpesa", "M-Pesa phone number"
        PAYBILL = "paybill", "Paybill"
        TILL = "till", "Till (Buy Goods)"

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150)
    phone_number = PhoneNumberField(region="KE", blank=True)
    id_photo = models.FileField(storage=private_storage, upload_to=id_photo_upload_to, blank=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.GUEST, db_index=True)
    credit_score = models.PositiveSmallIntegerField(default=CREDIT_SCORE_START)
    # Booking and payment SMS to phone_number (emails are sent either way).
    sms_notifications = models.BooleanField(default=True, help_text="Send booking and payment updates by SMS")
    # The language of the site after log-in, and of this user's emails and SMS (docs/i18n.md).
    language = models.CharField(
        max_length=8, choices=[("en", "English"), ("sw", "Kiswahili")], default="en",
        help_text="Language of the site, emails and SMS",
    )
    # Where an owner's payouts go (mpesa.payouts): an M-Pesa phone (B2C), or a business
    # number (B2B: a paybill with an account reference, or a till).
    payout_method = models.CharField(max_length=8, choices=PayoutMethod.choices, default=PayoutMethod.MPESA)
    payout_phone_number = models.CharField(
        max_length=12, blank=True, help_text="M-Pesa number for payouts, stored as 2547XXXXXXXX / 2541XXXXXXXX"
    )
    payout_business_number = models.CharField(max_length=10, blank=True, help_text="Paybill or till number")
    payout_account_reference = models.CharField(max_length=20, blank=True, help_text="Account number at the paybill")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["name", "email"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credit_score__gte=CREDIT_SCORE_MIN) & Q(credit_score__lte=CREDIT_SCORE_MAX),
                name="user_credit_score_0_100",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email

    # Staff use the Django/Wagtail admin; the role decides it so there is one source of truth.
    @property
    def is_staff(self) -> bool:
        return self.role == self.Role.STAFF or self.is_superuser

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER

    @property
    def first_name(self) -> str:
        return self.name.split(" ")[0] if self.name else ""

    @property
    def last_name(self) -> str:
        return " ".join(self.name.split(" ")[1:]) if self.name else ""

    def sms_number(self) -> str:
        """The E.164 number to text this user at, or "" (no number, or SMS turned off)."""
        if not self.sms_notifications or not self.phone_number:
            return ""
        return self.phone_number.as_e164

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.first_name


class PersonalDataRun(models.Model):
    """One run of the personal data retention pass (manage.py erase_personal_data, daily):
    when it ran and what it erased, so staff can see that it still runs (dashboard panel)."""

    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    retention_days = models.PositiveIntegerField()
    photos_erased = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Personal data retention {self.started_at:%Y-%m-%d %H:%M}: {self.photos_erased} photos erased"
