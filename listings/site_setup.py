from django.conf import settings
from django.db import transaction
from wagtail.models import Collection, Locale, Page, Site

from accounts.roles import ensure_role_groups
from listings.models import HomePage, ListingIndexPage


@transaction.atomic
def ensure_site_tree() -> tuple[HomePage, ListingIndexPage]:
    """Root -> HomePage -> ListingIndexPage ("Stays"), and the default Site pointing at home.

    Replaces the welcome page Wagtail's own migration creates. Idempotent.
    """
    _ensure_wagtail_roots()
    home = HomePage.objects.first()
    root = Page.get_first_root_node()
    if home is None:
        for welcome in root.get_children().filter(slug="home").exclude(content_type__model="homepage"):
            welcome.slug = f"wagtail-welcome-{welcome.pk}"
            welcome.save(update_fields=["slug"])
        home = HomePage(title="Nexus", slug="home", seo_title="Nexus - stays across Kenya")
        root.add_child(instance=home)
        home.save_revision().publish()
        for welcome in root.get_children().exclude(pk=home.pk):
            if not welcome.specific_class or welcome.specific_class is Page:
                welcome.delete()
    site = Site.objects.filter(is_default_site=True).first()
    if site is None:
        Site.objects.create(hostname="localhost", port=80, root_page=home, is_default_site=True, site_name="Nexus")
    elif site.root_page_id != home.pk:
        site.root_page = home
        site.site_name = "Nexus"
        site.save()
    index = ListingIndexPage.objects.first()
    if index is None:
        index = ListingIndexPage(title="Stays", slug="stays", intro="<p>Places to stay across Kenya.</p>")
        home.add_child(instance=index)
        index.save_revision().publish()
    ensure_role_groups()
    return home, index


def _ensure_wagtail_roots() -> None:
    """Wagtail's migrations create the default locale, root page and root collection;
    a flushed test database (transactional tests) has none of them."""
    if not Locale.objects.exists():
        Locale.objects.create(language_code=settings.LANGUAGE_CODE)
    if Page.get_first_root_node() is None:
        Page.add_root(title="Root", slug="root")
    if Collection.get_first_root_node() is None:
        Collection.add_root(name="Root")
