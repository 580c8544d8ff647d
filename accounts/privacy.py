"""Personal data (Kenya's Data Protection Act 2019): what a user's export holds and what erasing
an account does to rows that other apps own.

accounts owns the user row but not the bookings or payments that name the user, and it may not
import the apps that do (reservations, mpesa). Each of those registers a PersonalDataPart from
its AppConfig.ready(): what it adds to the export, why it would refuse an erasure, how it
anonymises its own rows, and (for ID photo retention) the user's last stay. The erasure runs
every part's `erase` and then clears the user's own fields, all in one transaction
(accounts.services.user_erase).
"""

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.utils import timezone

from accounts.models import User

NAIROBI = ZoneInfo("Africa/Nairobi")
DELETED_NAME = "Deleted user"


@dataclass(frozen=True)
class PersonalDataPart:
    """One app's share of a user's personal data. Every callable is optional.

    export(user) -> {section: [rows]}: JSON-ready rows; sections of several parts are concatenated.
    refusal(user, today) -> str | None: why the account cannot be erased yet (shown to the user).
    erase(user) -> {what: count}: anonymise this app's rows about `user`; runs inside the
        erasure's transaction, before the user's own fields are cleared (so `user` still
        carries the name, email and phone to look for).
    last_stays(user_ids) -> {user_id: date}: the latest check-out of each user's bookings.
    """

    name: str
    export: Callable[[User], dict[str, list]] | None = None
    refusal: Callable[[User, dt.date], str | None] | None = None
    erase: Callable[[User], dict[str, int]] | None = None
    last_stays: Callable[[Iterable[int]], dict[int, dt.date]] | None = None


_parts: dict[str, PersonalDataPart] = {}


def personal_data_register(part: PersonalDataPart) -> None:
    _parts[part.name] = part


def personal_data_parts() -> list[PersonalDataPart]:
    return list(_parts.values())


def nairobi_iso(value: dt.datetime | None) -> str | None:
    """A timestamp as ISO 8601 in Nairobi time (+03:00), the way people in Kenya read it."""
    if value is None:
        return None
    return timezone.localtime(value, NAIROBI).isoformat()


def date_iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def mask_phone(value: str) -> str:
    """2547******49: the network prefix and the last two digits, enough to tell two payments
    apart in a reconciliation, not enough to call anyone."""
    digits = "".join(ch for ch in str(value or "") if ch.isdigit())
    if not digits:
        return ""
    if len(digits) <= 6:
        return "*" * len(digits)
    return digits[:4] + "*" * (len(digits) - 6) + digits[-2:]


def erased_email(user_id: int) -> str:
    """Unique (the email column is) and undeliverable: .invalid is reserved (RFC 2606)."""
    return f"deleted-{user_id}@invalid"


def user_profile_export(user: User) -> dict:
    return {
        "id": user.pk,
        "name": user.name,
        "email": user.email,
        "phone_number": str(user.phone_number) if user.phone_number else "",
        "role": user.role,
        "credit_score": user.credit_score,
        "date_joined": nairobi_iso(user.date_joined),
        "last_login": nairobi_iso(user.last_login),
        "has_id_photo": bool(user.id_photo),
        "sms_notifications": user.sms_notifications,
    }


def user_personal_data(*, user: User, now: dt.datetime | None = None) -> dict:
    """Everything we hold about `user` that can be attributed to them, as JSON-ready data."""
    data: dict = {
        "generated_at": nairobi_iso(now or timezone.now()),
        "time_zone": "Africa/Nairobi",
        "profile": user_profile_export(user),
    }
    for part in personal_data_parts():
        if part.export is None:
            continue
        for section, rows in part.export(user).items():
            data.setdefault(section, []).extend(rows)
    return data


def user_erasure_refusals(*, user: User, today: dt.date | None = None) -> list[str]:
    """Why `user`'s account cannot be erased now (empty: it can)."""
    today = today or timezone.localdate(timezone=NAIROBI)
    reasons = []
    if user.is_staff:
        reasons.append("Staff accounts are closed by a superuser, not from the account page.")
    for part in personal_data_parts():
        if part.refusal is not None:
            reason = part.refusal(user, today)
            if reason:
                reasons.append(reason)
    return reasons


def users_last_stays(user_ids: Iterable[int]) -> dict[int, dt.date]:
    ids = list(user_ids)
    last: dict[int, dt.date] = {}
    for part in personal_data_parts():
        if part.last_stays is None:
            continue
        for user_id, day in part.last_stays(ids).items():
            if day and (user_id not in last or day > last[user_id]):
                last[user_id] = day
    return last


def personal_data_download(*, user: User):
    """The user's data as a JSON attachment named nexus-data-<Nairobi date>.json, never cached."""
    now = timezone.now()
    body = json.dumps(user_personal_data(user=user, now=now), cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    filename = f"nexus-data-{timezone.localtime(now, NAIROBI).date().isoformat()}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
