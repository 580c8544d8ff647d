from django.apps import AppConfig


class ListingsConfig(AppConfig):
    name = "listings"
    verbose_name = "Listings"

    def ready(self):
        # Imported here, not at the top: an app's models load after its AppConfig.
        from wagtail.models import AbstractPage
        from wagtail.permissions import register_permission_policy

        from accounts.roles import role_grants_register
        from core.demo import demo_step_register
        from listings.demo import DEMO_STEPS
        from listings.permissions import ROLE_GRANTS, OwnerScopedPagePermissionPolicy

        # Replaces the policy wagtail.permissions registered for every page model. Done at
        # start-up, before any view or hook asks the registry for it.
        register_permission_policy(AbstractPage, OwnerScopedPagePermissionPolicy())
        role_grants_register(ROLE_GRANTS)
        for step in DEMO_STEPS:
            demo_step_register(step)
