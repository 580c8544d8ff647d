from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
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
        home = HomePage(
            title="Nexus",
            slug="home",
            seo_title="Nexus - stays across Kenya",
            title_sw="Nexus - malazi kote Kenya",
            intro_sw="Malazi kote Kenya, lipa kwa M-Pesa.",
        )
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
        index = ListingIndexPage(
            title="Stays",
            slug="stays",
            intro="<p>Places to stay across Kenya.</p>",
            title_sw="Malazi",
            intro_sw="<p>Mahali pa kukaa kote Kenya.</p>",
        )
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


def site_address_from_url(base_url: str) -> tuple[str, int]:
    """The hostname and port a Site needs for `base_url` (WAGTAILADMIN_BASE_URL):
    https://example.com -> ("example.com", 443), http://127.0.0.1:8000 -> ("127.0.0.1", 8000).
    Wagtail builds page URLs from them: port 443 means https://host, 80 http://host."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ImproperlyConfigured(f"WAGTAILADMIN_BASE_URL must be an http(s) origin, not {base_url!r}")
    try:
        port = parts.port
    except ValueError as error:
        raise ImproperlyConfigured(f"WAGTAILADMIN_BASE_URL has an invalid port: {base_url!r}") from error
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


@transaction.atomic
def site_address_apply(base_url: str | None = None) -> tuple[Site, bool]:
    """Point the default Site at the public address, so page URLs, "View live", previews
    and sitemaps name the real host. Idempotent; returns the site and whether it changed."""
    hostname, port = site_address_from_url(base_url or settings.WAGTAILADMIN_BASE_URL)
    site = Site.objects.select_for_update().get(is_default_site=True)
    if (site.hostname, site.port) == (hostname, port):
        return site, False
    if Site.objects.filter(hostname=hostname, port=port).exclude(pk=site.pk).exists():
        raise ImproperlyConfigured(f"Another Wagtail site already answers at {hostname}:{port}")
    site.hostname, site.port = hostname, port
    site.save(update_fields=["hostname", "port"])
    return site, True
