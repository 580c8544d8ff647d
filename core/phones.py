"""Kenyan mobile numbers, as M-Pesa takes them.

Accepted input: 07XXXXXXXX, 01XXXXXXXX, +2547XXXXXXXX, 2541XXXXXXXX (spaces and
dashes allowed). Daraja wants 2547XXXXXXXX / 2541XXXXXXXX (docs/daraja.md).
"""

import re

import phonenumbers
from django.core.exceptions import ValidationError

_MSISDN = re.compile(r"^254[17]\d{8}$")
INVALID_MESSAGE = "Enter a Kenyan mobile number such as 0712 345 678 or +254 712 345 678."


def parse_kenyan_mobile(value) -> phonenumbers.PhoneNumber:
    raw = str(value or "").strip()
    if not raw or len(raw) > 20:
        raise ValidationError(INVALID_MESSAGE, code="invalid_phone")
    if raw.startswith("254"):
        raw = "+" + raw
    try:
        number = phonenumbers.parse(raw, "KE")
    except phonenumbers.NumberParseException:
        raise ValidationError(INVALID_MESSAGE, code="invalid_phone")
    msisdn = f"{number.country_code}{number.national_number}"
    if not phonenumbers.is_valid_number(number) or not _MSISDN.match(msisdn):
        raise ValidationError(INVALID_MESSAGE, code="invalid_phone")
    return number


def to_msisdn(value) -> str:
    """'0712 345 678' -> '254712345678'. Raises ValidationError for anything Daraja would refuse."""
    number = parse_kenyan_mobile(value)
    return f"{number.country_code}{number.national_number}"
