from django.apps import AppConfig


class ListingsConfig(AppConfig):
    name = "listings"
    verbose_name = "Listings"

    def ready(self):
        # Replaces the policy wagtail.permissions registered for every page model. Done at
        # start-up, before any view or hook asks the registry for it.
        from wagtail.models import AbstractPage
        from wagtail.permissions import register_permission_policy

        from listings.permissions import OwnerScopedPagePermissionPolicy

        register_permission_policy(AbstractPage, OwnerScopedPagePermissionPolicy())
