from django.db import transaction
from phonenumber_field.phonenumber import PhoneNumber

from accounts.models import User
from accounts.roles import user_sync_role_groups
from accounts.validators import ALLOWED_IMAGE_FORMATS, validate_id_photo
from core.exceptions import ApplicationError
from core.phones import parse_kenyan_mobile
from core.services import audit_record


def validate_kenyan_phone(value) -> PhoneNumber:
    number = parse_kenyan_mobile(value)
    return PhoneNumber.from_string(f"+{number.country_code}{number.national_number}")


@transaction.atomic
def user_register(*, name: str, email: str, phone_number, password: str, id_photo=None) -> User:
    """Create a guest account. Inputs are validated by the caller's form or serializer."""
    user = User(name=name.strip(), email=email.strip().lower(), phone_number=phone_number, role=User.Role.GUEST)
    user.set_password(password)
    if id_photo:
        id_photo_store(user=user, file=id_photo, save=False)
    user.save()
    # Signing up never links the account to bookings that list this email or phone as a
    # co-guest: only accepting the emailed invitation does (reservations.invitations).
    return user


def id_photo_store(*, user: User, file, save: bool = True) -> None:
    """Store `file` as the user's ID photo: Pillow's re-encoding of it, named after the format
    Pillow detected. The client's file name and type are never used (an "id.html" that is
    really a PNG is stored as a PNG, and nothing but its pixels survive).

    Callers validate first so that a bad file is a field error; a file they already cleaned
    is not decoded again.
    """
    photo = validate_id_photo(file)
    user.id_photo.save(f"id{ALLOWED_IMAGE_FORMATS[photo.image_format]}", photo, save=save)


def role_change_refusal(*, actor: User | None, user: User, role: str) -> str | None:
    """Why `actor` may not give `user` the role `role`, or None when they may.

    The role decides the user's groups and so their admin rights: nobody changes their
    own, and only superusers grant or take away staff. `actor` None is the system itself
    (createsuperuser, seed data, a maintenance shell).
    """
    if actor is None or role == user.role:
        return None
    if actor.pk == user.pk:
        return "You cannot change your own role."
    if not actor.is_superuser:
        if not actor.has_perm("accounts.change_user"):
            return "You cannot change roles."
        if role == User.Role.STAFF or user.role == User.Role.STAFF or user.is_superuser:
            return "Only a superuser can grant or take away the staff role."
    return None


def user_set_role(*, user: User, role: str, actor: User | None = None) -> User:
    """Give `user` the role `role` and make their groups follow it: the one way a role changes.

    Runs on every save of a user in the admin, so it also re-syncs the groups of a user
    whose role did not change, repairing any drift (a group added by hand).
    """
    if role not in User.Role.values:
        raise ApplicationError("Unknown role.", "invalid_role", status=400)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        refusal = role_change_refusal(actor=actor, user=locked, role=role)
        if refusal:
            raise ApplicationError(refusal, "role_change_forbidden", status=403)
        before = locked.role
        if before != role:
            locked.role = role
            locked.save(update_fields=["role"])
            audit_record(
                obj=locked,
                action="user.role_changed",
                actor=actor,
                summary=f"Role changed from {before} to {role}",
                before={"role": before},
                after={"role": role},
            )
        user_sync_role_groups(locked)
    user.role = role
    return user
