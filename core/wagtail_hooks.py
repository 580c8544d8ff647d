"""Admin-wide styles shared by every app's lists (status badge colours: core/admin_views.BadgeColumn)."""

from django.templatetags.static import static
from django.utils.html import format_html
from wagtail import hooks


@hooks.register("insert_global_admin_css")
def nexus_admin_css():
    return format_html('<link rel="stylesheet" href="{}">', static("backoffice/admin.css"))
