"""Forms of the public site's booking pages. They check the shape of the input only:
availability, prices, minimum stays and capacity are decided by the services. (The pay
form is the payments app's: mpesa.forms.)"""

from django import forms
from django.forms import formset_factory

from core.phones import to_msisdn

CO_GUEST_PREFIX = "guest"
MAX_CO_GUEST_ROWS = 50
# What an anonymous guest typed into a booking form, kept while they log in or sign up.
BOOKING_DRAFT_SESSION_KEY = "booking_draft"


class BookingRequestForm(forms.Form):
    """The booking box on a property page."""

    property = forms.IntegerField(widget=forms.HiddenInput)
    check_in = forms.DateField(label="Check-in", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    check_out = forms.DateField(label="Check-out", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    guests = forms.TypedChoiceField(label="Guests", coerce=int, initial=1)

    def __init__(self, *args, property, **kwargs):
        super().__init__(*args, **kwargs)
        self.property = property
        self.fields["property"].initial = property.pk
        self.fields["guests"].choices = [
            (n, "1 guest (you)" if n == 1 else f"{n} guests") for n in range(1, property.max_guests + 1)
        ]
        self.fields["check_in"].error_messages["required"] = "Choose your check-in date."
        self.fields["check_out"].error_messages["required"] = "Choose your check-out date."

    def clean(self):
        cleaned = super().clean()
        check_in, check_out = cleaned.get("check_in"), cleaned.get("check_out")
        if check_in and check_out and check_out <= check_in:
            self.add_error("check_out", "Check-out must be after check-in.")
        return cleaned


class CoGuestForm(forms.Form):
    name = forms.CharField(label="Full name", max_length=150, error_messages={"required": "Enter this guest's name."})
    email = forms.EmailField(label="Email (optional)", required=False)
    phone_number = forms.CharField(
        label="Phone (optional)", required=False, max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs["autocomplete"] = "off"

    def clean_phone_number(self):
        phone = self.cleaned_data["phone_number"].strip()
        if phone:
            to_msisdn(phone)  # the message says what a valid number looks like
        return phone


_CoGuestFormSet = formset_factory(CoGuestForm, extra=0, max_num=MAX_CO_GUEST_ROWS, validate_max=True)


def co_guest_formset(*, data=None, initial=None, rows: int = 0):
    """The people travelling with the booker. Every row shown must be filled in:
    the party size is 1 + the number of rows."""
    if data is not None:
        return _CoGuestFormSet(data=data, prefix=CO_GUEST_PREFIX, form_kwargs={"empty_permitted": False})
    initial = list(initial or [])[: max(rows, 0)]
    initial += [{} for _ in range(max(rows, 0) - len(initial))]
    formset = _CoGuestFormSet(initial=initial, prefix=CO_GUEST_PREFIX)
    return formset


class CoGuestAddForm(CoGuestForm):
    """Adding one co-guest from the booking page."""
