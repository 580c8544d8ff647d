import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from phonenumber_field.phonenumber import PhoneNumber
from rest_framework.authtoken.models import Token

from accounts.models import PersonalDataRun, User
from accounts.privacy import (
    DELETED_NAME,
    NAIROBI,
    erased_email,
    personal_data_parts,
    user_erasure_refusals,
    users_last_stays,
)
from accounts.roles import user_sync_role_groups
from accounts.validators import ALLOWED_IMAGE_FORMATS, validate_id_photo
from core.exceptions import ApplicationError
from core.models import IdempotencyRecord
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


# --- Personal data: erasure and ID photo retention (accounts.privacy, docs/security.md) ----------


def id_photo_erase(*, user: User, reason: str, actor: User | None = None) -> bool:
    """Clear `user`'s ID photo and delete its file once the transaction commits (a rollback
    keeps both). Audited. False when there was no photo."""
    name = user.id_photo.name
    if not name:
        return False
    storage = user.id_photo.storage
    User.objects.filter(pk=user.pk).update(id_photo="")
    user.id_photo = ""
    transaction.on_commit(lambda: storage.delete(name), robust=True)
    audit_record(obj=user, action="user.id_photo_erased", actor=actor, summary=f"ID photo erased: {reason}")
    return True


def user_erase(*, user: User, password: str | None, actor: User | None = None, today=None) -> dict[str, int]:
    """Erase `user`'s personal data: the account closes for good, while the bookings, payments
    and audit entries that name them stay, anonymised, so every shilling is still accounted for.

    `password` is the user's own confirmation (None only for staff acting on a request received
    elsewhere: `actor` is then that staff member). Refused (409) while the account is needed:
    see accounts.privacy.user_erasure_refusals. Returns what was anonymised, by kind.
    """
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not locked.is_active and locked.email == erased_email(locked.pk):
            raise ApplicationError("This account has already been deleted.", "account_deleted", status=409)
        if password is not None and not locked.check_password(password):
            raise ApplicationError("The password is not right.", "invalid_password", status=400)
        refusals = user_erasure_refusals(user=locked, today=today)
        if refusals:
            raise ApplicationError(" ".join(refusals), "account_erasure_refused", status=409)

        counts: dict[str, int] = {}
        for part in personal_data_parts():
            if part.erase is not None:
                counts.update(part.erase(locked))
        counts["id_photo"] = int(id_photo_erase(user=locked, reason="account deleted", actor=actor or locked))
        counts["api_tokens"] = Token.objects.filter(user=locked).delete()[0]
        counts["idempotency_records"] = IdempotencyRecord.objects.filter(user=locked).delete()[0]
        counts["admin_avatar"] = _admin_avatar_erase(locked)

        locked.name = DELETED_NAME
        locked.email = erased_email(locked.pk)
        locked.phone_number = ""
        locked.is_active = False
        # An unusable password changes the session hash Django checks on every request, so
        # every session of this user (on any device) is logged out; inactive users are
        # refused by the auth backend as well.
        locked.set_unusable_password()
        locked.save(update_fields=["name", "email", "phone_number", "is_active", "password"])
        locked.groups.clear()
        locked.user_permissions.clear()
        audit_record(
            obj=locked,
            action="user.erased",
            actor=actor or locked,
            summary="Account deleted and personal data erased at the user's request"
            if actor is None
            else "Account deleted and personal data erased by staff",
            data={"anonymised": counts},
        )
    user.refresh_from_db()
    return counts


def _admin_avatar_erase(user: User) -> int:
    """The photo a user may have uploaded as their admin avatar (Wagtail's user profile)."""
    from wagtail.users.models import UserProfile

    profile = UserProfile.objects.filter(user=user).first()
    if profile is None or not profile.avatar:
        return 0
    name, storage = profile.avatar.name, profile.avatar.storage
    UserProfile.objects.filter(pk=profile.pk).update(avatar="")
    transaction.on_commit(lambda: storage.delete(name), robust=True)
    return 1


def id_photos_retention_erase(*, now=None, days: int | None = None) -> int:
    """Erase the ID photos of users whose last stay ended more than `days` days ago
    (ID_PHOTO_RETENTION_DAYS), or who never booked and joined more than `days` days ago.
    Recorded as a PersonalDataRun. Returns how many photos were erased."""
    now = now or timezone.now()
    days = settings.ID_PHOTO_RETENTION_DAYS if days is None else days
    cutoff_time = now - dt.timedelta(days=days)
    cutoff_date = timezone.localtime(now, NAIROBI).date() - dt.timedelta(days=days)
    run = PersonalDataRun.objects.create(started_at=now, retention_days=days)
    # Only someone who joined before the cutoff can have stayed before it.
    candidates = list(
        User.objects.exclude(id_photo="").filter(date_joined__lt=cutoff_time).values_list("pk", flat=True)
    )
    last_stays = users_last_stays(candidates)
    erased = 0
    for user_id in candidates:
        last = last_stays.get(user_id)
        if last is not None and last >= cutoff_date:
            continue
        with transaction.atomic():
            user = User.objects.select_for_update().get(pk=user_id)
            reason = (
                f"{days} days after the last check-out ({last.isoformat()})"
                if last
                else f"{days} days after joining, no booking"
            )
            erased += id_photo_erase(user=user, reason=reason)
    run.photos_erased = erased
    run.finished_at = timezone.now()
    run.save(update_fields=["photos_erased", "finished_at"])
    return erased


def user_set_sms_notifications(*, user: User, enabled: bool) -> User:
    """Turn the user's booking and payment SMS on or off (emails are sent either way)."""
    enabled = bool(enabled)
    if user.sms_notifications == enabled:
        return user
    with transaction.atomic():
        user.sms_notifications = enabled
        user.save(update_fields=["sms_notifications"])
        audit_record(
            obj=user,
            action="user.sms_notifications",
            actor=user,
            summary=f"SMS notifications {'on' if enabled else 'off'}",
            after={"sms_notifications": enabled},
        )
    return user


def user_set_language(*, user: User, language: str) -> User:
    """The language of the user's site after log-in and of their emails and SMS ("en" or "sw")."""
    if language not in dict(settings.LANGUAGES):
        raise ApplicationError("Unknown language.", "invalid_language", 400)
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return user
