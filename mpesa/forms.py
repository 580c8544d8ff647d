"""The pay form of the site's booking page. It checks the shape of the input once, at the
edge: the phone comes out in Daraja's 2547XXXXXXXX form and the amount as whole shillings
within what one STK push takes; who may pay how much is the payment service's decision."""

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from core.phones import to_msisdn
from mpesa.client import MAX_AMOUNT


class PaymentForm(forms.Form):
    """Posted by the booking page's script (answered in JSON) or, without JavaScript, by the
    browser (mpesa.site_views.booking_pay). Same fields and messages as the payments API."""

    phone_number = forms.CharField(
        label=_("M-Pesa phone number"), max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
        help_text=_("The phone that will get the M-Pesa prompt, e.g. 0712 345 678."),
    )
    amount = forms.IntegerField(
        label=_("Amount (KES)"),
        min_value=1,
        max_value=MAX_AMOUNT,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={
            "min_value": _("Enter a whole number of shillings, at least 1."),
            "max_value": format_lazy(_("M-Pesa takes at most KES {limit} in one payment."), limit=f"{MAX_AMOUNT:,}"),
        },
    )

    def clean_phone_number(self) -> str:
        return to_msisdn(self.cleaned_data["phone_number"])
