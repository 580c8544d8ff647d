from django.db import transaction
from phonenumber_field.phonenumber import PhoneNumber

from accounts.models import User
from core.phones import parse_kenyan_mobile


def validate_kenyan_phone(value) -> PhoneNumber:
    number = parse_kenyan_mobile(value)
    return PhoneNumber.from_string(f"+{number.country_code}{number.national_number}")


@transaction.atomic
def user_register(*, name: str, email: str, phone_number, password: str, id_photo=None) -> User:
    """Create a guest account. Inputs are validated by the caller's form or serializer."""
    user = User(name=name.strip(), email=email.strip().lower(), phone_number=phone_number, role=User.Role.GUEST)
    user.set_password(password)
    if id_photo:
        user.id_photo = id_photo
    user.save()
    from reservations.services import booking_guest_link_user

    booking_guest_link_user(user=user)
    return user
