"""factory_boy factories shared by the whole suite."""

import datetime as dt

import factory
from django.utils import timezone

from accounts.models import User

DEFAULT_PASSWORD = "a-Strong-pass-2026"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    phone_number = factory.Sequence(lambda n: f"+2547{n % 100000000:08d}")
    role = User.Role.GUEST

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or DEFAULT_PASSWORD)
        if create:
            self.save(update_fields=["password"])
            if self.role != User.Role.GUEST:
                from accounts.roles import user_sync_role_groups

                user_sync_role_groups(self)


class OwnerFactory(UserFactory):
    role = User.Role.OWNER


class StaffFactory(UserFactory):
    role = User.Role.STAFF


def future_date(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)
