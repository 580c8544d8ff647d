"""Where an owner's payouts go (mpesa.payouts sends them; docs/money-out.md): an M-Pesa
phone (B2C), a paybill with an account reference, or a till (B2B).

One validation for the account page's form and PATCH /api/me/, and the one service that
saves it (audited). Numbers are stored the way Daraja takes them: a phone as 2547XXXXXXXX /
2541XXXXXXXX, a paybill or till as its 5 to 7 digits.
"""

import re

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from core.phones import to_msisdn
from core.services import audit_record

Method = User.PayoutMethod
FIELDS = ("payout_method", "payout_phone_number", "payout_business_number", "payout_account_reference")
_BUSINESS_NUMBER = re.compile(r"^\d{5,7}$")
# What a paybill's "account number" looks like on a Kenyan bill: letters, digits, spaces,
# dashes and slashes, at most the column's 20 characters.
_ACCOUNT_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 /-]{0,19}$")


def receives_payouts(user) -> bool:
    """Hosts (and staff, who may own listings) have a payout destination; guests do not."""
    return bool(user.is_authenticated and (user.is_owner or user.is_staff))


def payout_destination_clean(
    *, method: str, phone_number: str = "", business_number: str = "", account_reference: str = ""
) -> dict:
    """The destination as it is stored ({"payout_method", "payout_phone_number", ...}), or
    ValidationError with field errors keyed by those names. Fields the method does not use
    are stored blank, so an old number never lingers behind a new method."""
    errors: dict[str, list[str]] = {}
    phone, business, reference = "", "", ""
    if method not in Method.values:
        errors["payout_method"] = ["Choose M-Pesa phone, paybill or till."]
    elif method == Method.MPESA:
        try:
            phone = to_msisdn(phone_number)
        except ValidationError as error:
            errors["payout_phone_number"] = list(error.messages)
    else:
        business = re.sub(r"\s+", "", str(business_number or ""))
        if not _BUSINESS_NUMBER.match(business):
            kind = "paybill" if method == Method.PAYBILL else "till"
            errors["payout_business_number"] = [f"Enter the {kind} number: 5 to 7 digits."]
        if method == Method.PAYBILL:
            reference = " ".join(str(account_reference or "").split())
            if not reference:
                errors["payout_account_reference"] = ["Enter the account number to pay into at this paybill."]
            elif not _ACCOUNT_REFERENCE.match(reference):
                errors["payout_account_reference"] = [
                    "Use at most 20 letters, digits, spaces, dashes or slashes for the account number."
                ]
    if errors:
        raise ValidationError(errors)
    return {
        "payout_method": method,
        "payout_phone_number": phone,
        "payout_business_number": business,
        "payout_account_reference": reference,
    }


def payout_destination_text(user) -> str:
    """The destination in words ("" when none is set), for the account page."""
    if user.payout_method == Method.MPESA:
        if not user.payout_phone_number:
            return ""
        return f"M-Pesa {user.payout_phone_number}"
    if not user.payout_business_number:
        return ""
    if user.payout_method == Method.PAYBILL:
        return f"Paybill {user.payout_business_number}, account {user.payout_account_reference}"
    return f"Till {user.payout_business_number}"


def user_set_payout_destination(*, user: User, destination: dict, actor=None) -> User:
    """Save a destination payout_destination_clean returned; audited (before and after)."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        before = {name: getattr(locked, name) for name in FIELDS}
        after = {name: destination[name] for name in FIELDS}
        if before != after:
            for name, value in after.items():
                setattr(locked, name, value)
            locked.save(update_fields=list(FIELDS))
            audit_record(
                obj=locked,
                action="user.payout_destination",
                actor=actor or user,
                summary=f"Payout destination set: {payout_destination_text(locked) or 'none'}",
                before=before,
                after=after,
            )
    for name, value in after.items():
        setattr(user, name, value)
    return user
