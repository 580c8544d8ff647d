from django.apps import AppConfig
from wagtail.users.apps import WagtailUsersAppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"
    default = True

    def ready(self):
        from django.db.models.signals import post_migrate

        post_migrate.connect(_ensure_groups, sender=self)


class NexusUsersAppConfig(WagtailUsersAppConfig):
    """Wagtail's user admin, with forms for our email/name/role user model."""

    user_viewset = "accounts.viewsets.UserViewSet"


def _ensure_groups(**kwargs):
    from accounts.models import User
    from accounts.owner_media import owner_collection_ensure
    from accounts.roles import ensure_role_groups

    ensure_role_groups()
    # Owners who existed before owners had collections of their own get theirs here.
    for owner in User.objects.filter(role=User.Role.OWNER):
        owner_collection_ensure(owner)
