from django import forms
from django.contrib.auth import authenticate, password_validation
from phonenumber_field.formfields import PhoneNumberField
from wagtail.users.forms import UserCreationForm, UserEditForm

from accounts.models import User
from accounts.validators import validate_id_photo

_ADMIN_FIELDS = ["email", "name", "phone_number", "role", "is_superuser", "groups"]


class WagtailUserCreationForm(UserCreationForm):
    first_name = None
    last_name = None

    class Meta(UserCreationForm.Meta):
        model = User
        fields = _ADMIN_FIELDS
        widgets = {"groups": forms.CheckboxSelectMultiple}


class WagtailUserEditForm(UserEditForm):
    first_name = None
    last_name = None

    class Meta(UserEditForm.Meta):
        model = User
        fields = _ADMIN_FIELDS + ["is_active"]
        widgets = {"groups": forms.CheckboxSelectMultiple}


class SignUpForm(forms.ModelForm):
    """The public sign-up page. Same rules as POST /api/auth/register/."""

    phone_number = PhoneNumberField(region="KE", label="M-Pesa phone number", help_text="e.g. 0712 345 678")
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False)
    id_photo = forms.FileField(
        label="Photo of your national ID or passport",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
        help_text="JPEG, PNG or WebP, up to 5 MB. Owners see it only when you book their property.",
    )

    class Meta:
        model = User
        fields = ["name", "email", "phone_number", "password", "id_photo"]

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists.", code="unique")
        return email

    def clean_phone_number(self):
        from accounts.services import validate_kenyan_phone

        return validate_kenyan_phone(self.cleaned_data["phone_number"])

    def clean_id_photo(self):
        photo = self.cleaned_data.get("id_photo")
        if photo:
            validate_id_photo(photo)
        return photo

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
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}), strip=False)

    def __init__(self, request=None, *args, **kwargs):
        self.request = request
        self.user = None
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        email, password = cleaned.get("email"), cleaned.get("password")
        if email and password:
            self.user = authenticate(self.request, username=email.lower(), password=password)
            if self.user is None:
                raise forms.ValidationError("That email and password do not match an account.", code="invalid_login")
        return cleaned
