from django.apps import AppConfig
from wagtail.users.apps import WagtailUsersAppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"
    default = True

    def ready(self):
        # Imported here, not at the top: an app's models load after its AppConfig.
        from django.db.models.signals import post_migrate

        from accounts.demo import DEMO_STEP
        from core.demo import demo_step_register

        post_migrate.connect(_ensure_groups, sender=self)
        demo_step_register(DEMO_STEP)


class NexusUsersAppConfig(WagtailUsersAppConfig):
    """Wagtail's user admin, with forms for our email/name/role user model."""

    user_viewset = "accounts.viewsets.UserViewSet"


def _ensure_groups(**kwargs):
    # Imported when the signal fires: apps.py loads before the models do.
    from accounts.models import User
    from accounts.owner_media import owner_collection_ensure
    from accounts.roles import ensure_role_groups

    ensure_role_groups()
    # Owners who existed before owners had collections of their own get theirs here.
    for owner in User.objects.filter(role=User.Role.OWNER):
        owner_collection_ensure(owner)
