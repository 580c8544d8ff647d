from django import forms
from django.contrib.auth import authenticate, password_validation
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField
from wagtail.admin.forms.auth import LoginForm as WagtailLoginForm
from wagtail.users.forms import UserCreationForm, UserEditForm

from accounts.models import User
from accounts.payout_destination import payout_destination_clean
from accounts.services import role_change_refusal, user_set_role, validate_kenyan_phone
from accounts.validators import validate_id_photo
from core.throttling import check_sign_in_allowed

_ADMIN_FIELDS = ["email", "name", "phone_number", "role"]


class _RoleIsTheOnlyAccessSetting:
    """The admin's user forms. The role is the single source of truth for access:

    - no "groups" (they follow the role, accounts.roles) and no "Administrator" flag
      (superusers are made with `manage.py createsuperuser`);
    - a user who is not a superuser may give only the guest and owner roles;
    - nobody changes their own role (the field is disabled, so a tampered POST is ignored);
    - the role is saved through accounts.services.user_set_role, which re-checks those
      rules, syncs the groups on every save and writes the audit entry.
    """

    is_superuser = None  # declared by Wagtail's UserForm; removed here

    def _limit_role(self, *, for_user, editing_self: bool) -> None:
        self.for_user = for_user
        self._role_before = self.instance.role
        field = self.fields["role"]
        if editing_self:
            field.disabled = True
            field.help_text = "Your own role can only be changed by a superuser."
        elif for_user is None or not for_user.is_superuser:
            field.choices = [(value, label) for value, label in field.choices if value != User.Role.STAFF]
            field.help_text = "Only a superuser can grant the staff role."

    def clean_role(self):
        role = self.cleaned_data["role"]
        refusal = role_change_refusal(actor=self.for_user, user=self.instance, role=role)
        if refusal:
            raise forms.ValidationError(refusal, code="role_change_forbidden")
        return role

    def save(self, commit=True):
        role = self.cleaned_data.get("role") or self._role_before
        self.instance.role = self._role_before  # changed only by user_set_role, below
        if not commit:
            return super().save(commit=False)
        with transaction.atomic():
            user = super().save(commit=True)
            return user_set_role(user=user, role=role, actor=self.for_user)


class WagtailUserCreationForm(_RoleIsTheOnlyAccessSetting, UserCreationForm):
    first_name = None
    last_name = None

    def __init__(self, *args, for_user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._limit_role(for_user=for_user, editing_self=False)

    class Meta(UserCreationForm.Meta):
        model = User
        fields = _ADMIN_FIELDS
        widgets = {}


class WagtailUserEditForm(_RoleIsTheOnlyAccessSetting, UserEditForm):
    first_name = None
    last_name = None

    def __init__(self, *args, for_user=None, editing_self=False, **kwargs):
        # Not passed on: Wagtail's form would delete "is_superuser", which is not here.
        super().__init__(*args, **kwargs)
        if editing_self:
            del self.fields["is_active"]
        self._limit_role(for_user=for_user, editing_self=editing_self)

    class Meta(UserEditForm.Meta):
        model = User
        fields = _ADMIN_FIELDS + ["is_active"]
        widgets = {}


class SignUpForm(forms.ModelForm):
    """The public sign-up page. Same rules as POST /api/auth/register/."""

    name = forms.CharField(label=_("Full name"), max_length=150)
    email = forms.EmailField(label=_("Email"), max_length=254)
    phone_number = PhoneNumberField(
        region="KE",
        label=_("M-Pesa phone number"),
        help_text=_("e.g. 0712 345 678"),
        error_messages={"invalid": _("Enter a Kenyan mobile number such as 0712 345 678 or +254 712 345 678.")},
    )
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False
    )
    id_photo = forms.FileField(
        label=_("Photo of your national ID or passport"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
        help_text=_("JPEG, PNG or WebP, up to 5 MB. Owners see it only when you book their property."),
    )

    class Meta:
        model = User
        fields = ["name", "email", "phone_number", "password", "id_photo"]

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("An account with this email already exists."), code="unique")
        return email

    def clean_phone_number(self):
        try:
            return validate_kenyan_phone(self.cleaned_data["phone_number"])
        except forms.ValidationError as error:
            # core.phones says it in English only (core holds no translations of its own).
            raise forms.ValidationError(
                _("Enter a Kenyan mobile number such as 0712 345 678 or +254 712 345 678."), code=error.code
            )

    def clean_id_photo(self):
        photo = self.cleaned_data.get("id_photo")
        # The re-encoded image (accounts.validators.IdPhotoImage) replaces the upload.
        return validate_id_photo(photo) if photo else photo

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            candidate = User(email=cleaned.get("email", ""), name=cleaned.get("name", ""))
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned


class LoginForm(forms.Form):
    # The id of the template's error summary: a wrong password marks both fields invalid and
    # points them at it (the error belongs to neither field alone).
    ERROR_SUMMARY_ID = "login-errors"

    email = forms.EmailField(
        label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        strip=False,
    )

    def __init__(self, request=None, *args, **kwargs):
        self.request = request
        self.user = None
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        email, password = cleaned.get("email"), cleaned.get("password")
        check_sign_in_allowed(self.request, email)
        if email and password:
            self.user = authenticate(self.request, username=email.lower(), password=password)
            if self.user is None:
                raise forms.ValidationError(_("That email and password do not match an account."), code="invalid_login")
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        if self.non_field_errors():
            for name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                described_by = [self.ERROR_SUMMARY_ID] + ([f"id_{name}_error"] if name in self.errors else [])
                attrs["aria-describedby"] = " ".join(described_by)


class AdminLoginForm(WagtailLoginForm):
    """Wagtail's admin sign-in form under the same failed-sign-in lock as the site's."""

    def clean(self):
        check_sign_in_allowed(self.request, self.cleaned_data.get("username"))
        return super().clean()


class PayoutDestinationForm(forms.Form):
    """The account page's "Where your payouts go" (hosts): the same rules as PATCH /api/me/
    (accounts.payout_destination)."""

    payout_method = forms.ChoiceField(
        label=_("Pay me by"), choices=User.PayoutMethod.choices, widget=forms.RadioSelect
    )
    payout_phone_number = forms.CharField(
        label=_("M-Pesa phone number"),
        required=False,
        max_length=32,
        help_text=_("e.g. 0712 345 678"),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    payout_business_number = forms.CharField(
        label=_("Paybill or till number"),
        required=False,
        max_length=16,
        help_text=_("5 to 7 digits"),
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    payout_account_reference = forms.CharField(
        label=_("Account number (paybill only)"), required=False, max_length=40
    )

    @classmethod
    def for_user(cls, user, data=None):
        national = user.payout_phone_number
        if national.startswith("254") and len(national) == 12:
            national = "0" + national[3:]
        initial = {
            "payout_method": user.payout_method,
            "payout_phone_number": national,
            "payout_business_number": user.payout_business_number,
            "payout_account_reference": user.payout_account_reference,
        }
        return cls(data, initial=initial)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.destination = payout_destination_clean(
                method=cleaned["payout_method"],
                phone_number=cleaned.get("payout_phone_number", ""),
                business_number=cleaned.get("payout_business_number", ""),
                account_reference=cleaned.get("payout_account_reference", ""),
            )
        except forms.ValidationError as error:
            for field, messages in error.message_dict.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        return cleaned


class LanguageForm(forms.Form):
    """The language switch (header and account page): the site's languages, by their own names."""

    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choose English or Kiswahili.")},
    )
