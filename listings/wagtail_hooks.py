"""Listings in the Wagtail admin: the Amenity snippet and owner-scoped blocked dates.

Owners see and edit blocked periods of their own properties only: the listing, the
property choices in the form and every per-object view (edit, delete, history,
usage) are scoped, and another owner's blocked period is a 404, as if it did not
exist. The permission policy applies the same rule to what has no object view
(bulk actions). Staff see all. Page editing is scoped by listings.permissions; the page
chooser, the dashboard's page count and the reports menu below, and listings.admin_scope
(404 for admin URLs naming another owner's listing or file), apply the same rule.
"""

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.text import capfirst
from wagtail import hooks
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, FieldRowPanel, ObjectList
from wagtail.admin.site_summary import PagesSummaryItem
from wagtail.admin.ui.tables import Column
from wagtail.models import Page
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import policy_registry, register_permission_policy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import (
    DeleteView,
    EditView,
    HistoryView,
    InspectView,
    SnippetViewSet,
    SnippetViewSetGroup,
    UsageView,
)

from listings import owner_tools
from listings.calendar.admin_views import CalendarFeedViewSet
from listings.date_words import blocked_period_in_words
from listings.models import Amenity, BlockedPeriod, PropertyPage
from listings.permissions import listings_hidden_from, sees_every_listing
from listings.selectors import blocked_period_refusals


def _sees_everything(user) -> bool:
    return user.is_superuser or user.is_staff


def blocked_period_queryset_for(user):
    queryset = BlockedPeriod.objects.select_related("property", "feed")
    return queryset if _sees_everything(user) else queryset.filter(property__owner=user)


def properties_editable_by(user):
    queryset = PropertyPage.objects.order_by("title")
    return queryset if _sees_everything(user) else queryset.filter(owner=user)


# Blocks imported from a calendar feed change only through the feed (listings.calendar).
IMPORTED_READ_ONLY = frozenset({"change", "delete"})


class BlockedPeriodPermissionPolicy(ModelPermissionPolicy):
    """The Owners group's model permissions, limited to blocks of the owner's own properties."""

    def user_has_permission_for_instance(self, user, action, instance):
        return self.user_has_any_permission_for_instance(user, [action], instance)

    def user_has_any_permission_for_instance(self, user, actions, instance):
        if instance.feed_id is not None:
            # Imported from another site's calendar: the next import would undo a hand edit.
            actions = [action for action in actions if action not in IMPORTED_READ_ONLY]
        if not actions or not self.user_has_any_permission(user, actions):
            return False
        return _sees_everything(user) or PropertyPage.objects.filter(pk=instance.property_id, owner=user).exists()

    def instances_user_has_any_permission_for(self, user, actions):
        queryset = super().instances_user_has_any_permission_for(user, actions)
        if IMPORTED_READ_ONLY.issuperset(actions):
            queryset = queryset.filter(feed__isnull=True)
        return queryset if _sees_everything(user) else queryset.filter(property__owner=user)


# Registered before the viewsets below, which look the policy up when they are built.
register_permission_policy(BlockedPeriod, BlockedPeriodPermissionPolicy(BlockedPeriod))


class BlockedPeriodForm(WagtailAdminModelForm):
    """Property choices are the user's own listings; a block may not cover nights already booked here."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.for_user is not None and "property" in self.fields:
            self.fields["property"].queryset = properties_editable_by(self.for_user)

    def clean(self):
        cleaned = super().clean()
        property, start, end = cleaned.get("property"), cleaned.get("start"), cleaned.get("end")
        if start and end and end <= start:
            self.add_error("end", "The end must be after the start (it is the first night free again).")
        elif property and start and end:
            for refusal in blocked_period_refusals(property_id=property.pk, start=start, end=end):
                self.add_error(None, refusal)
        return cleaned

    def save(self, commit=True):
        if self.instance.created_by_id is None and self.for_user is not None:
            self.instance.created_by = self.for_user
        return super().save(commit=commit)


class OwnedObjectMixin:
    """Per-object admin views: another owner's blocked period is a 404."""

    def get_object(self, *args, **kwargs):
        obj = super().get_object(*args, **kwargs)
        if not blocked_period_queryset_for(self.request.user).filter(pk=obj.pk).exists():
            raise Http404
        return obj


class ImportedBlockReadOnlyMixin:
    """A block imported from a calendar feed changes only through its feed: the next import
    would undo a hand edit (remove the event on the other site, or the feed, instead)."""

    def get_object(self, *args, **kwargs):
        obj = super().get_object(*args, **kwargs)
        if obj.feed_id is not None:
            raise PermissionDenied
        return obj


class BlockedPeriodEditView(ImportedBlockReadOnlyMixin, OwnedObjectMixin, EditView):
    pass


class BlockedPeriodDeleteView(ImportedBlockReadOnlyMixin, OwnedObjectMixin, DeleteView):
    pass


class BlockedPeriodHistoryView(OwnedObjectMixin, HistoryView):
    pass


class BlockedPeriodUsageView(OwnedObjectMixin, UsageView):
    pass


class BlockedPeriodInspectView(OwnedObjectMixin, InspectView):
    # "Dates" says in words which night is free again (listings/date_words.py), after the property.
    def get_fields(self):
        fields = super().get_fields()
        after = fields.index("property") + 1 if "property" in fields else 0
        return fields[:after] + ["dates"] + fields[after:]

    def get_field_label(self, field_name, field):
        return "Dates" if field_name == "dates" else super().get_field_label(field_name, field)

    def get_dates_display_value(self):
        return capfirst(blocked_period_in_words(self.object))


class AmenityViewSet(SnippetViewSet):
    model = Amenity
    icon = "tag"
    menu_label = "Amenities"
    list_display = ["name", "icon"]
    ordering = ["name"]


class BlockedPeriodViewSet(SnippetViewSet):
    model = BlockedPeriod
    icon = "date"
    menu_label = "Blocked dates"
    list_display = [
        "property",
        # The half-open range in words ("from 10 Dec to 13 Dec, the 13th is free again"); sorts by start.
        Column(
            "dates", label="Dates", accessor=lambda period: capfirst(blocked_period_in_words(period)), sort_key="start"
        ),
        "reason",
        "feed",  # the calendar it was imported from; empty for blocks made by hand
    ]
    ordering = ["-start"]
    copy_view_enabled = False
    inspect_view_enabled = True
    edit_view_class = BlockedPeriodEditView
    delete_view_class = BlockedPeriodDeleteView
    history_view_class = BlockedPeriodHistoryView
    usage_view_class = BlockedPeriodUsageView
    inspect_view_class = BlockedPeriodInspectView
    edit_handler = ObjectList(
        [
            FieldPanel("property", widget=forms.Select),
            FieldRowPanel([FieldPanel("start"), FieldPanel("end")]),
            FieldPanel("reason"),
        ],
        base_form_class=BlockedPeriodForm,
    )

    def get_queryset(self, request):
        return blocked_period_queryset_for(request.user)


class ListingsViewSetGroup(SnippetViewSetGroup):
    menu_label = "Listings"
    menu_icon = "home"
    menu_order = 190
    items = (BlockedPeriodViewSet, CalendarFeedViewSet, AmenityViewSet)


register_snippet(ListingsViewSetGroup)


@hooks.register("construct_explorer_page_queryset")
def owners_see_their_own_listings(parent_page, pages, request):
    """In the page explorer an owner lists only their own properties (staff see all)."""
    user = request.user
    if _sees_everything(user) or not getattr(user, "is_owner", False):
        return pages
    other_owners_listings = PropertyPage.objects.exclude(owner=user).values("pk")
    return pages.exclude(pk__in=other_owners_listings)


@hooks.register("construct_page_chooser_queryset")
def owners_choose_among_their_own_listings(pages, request):
    """The page chooser (browse and search) offers an owner no other owner's listing."""
    if sees_every_listing(request.user):
        return pages
    return pages.exclude(pk__in=listings_hidden_from(request.user))


class OwnPagesSummaryItem(PagesSummaryItem):
    """The dashboard's page count, for an owner: the listings they own, not the whole index."""

    def get_context_data(self, parent_context):
        context = super().get_context_data(parent_context)
        policy = policy_registry.get_by_type(Page)
        context["total_pages"] = policy.instances_user_has_permission_for(self.request.user, "change").count()
        return context


@hooks.register("construct_homepage_summary_items", order=1)
def owners_count_their_own_pages(request, items):
    # Images and documents are counted per collection by Wagtail, and an owner's rights
    # reach only their own collection (accounts/owner_media.py).
    if sees_every_listing(request.user):
        return
    items[:] = [OwnPagesSummaryItem(request) if type(item) is PagesSummaryItem else item for item in items]


@hooks.register("construct_reports_menu")
def site_wide_reports_are_for_staff(request, menu_items):
    """Mirrors listings.admin_scope, which answers 404 to an owner opening these reports."""
    if sees_every_listing(request.user):
        return
    hidden = {"site-history", "page-types-usage"}
    menu_items[:] = [item for item in menu_items if item.name not in hidden]


# --- Owners' shortcuts (listings/owner_tools.py): "Add a property" on the dashboard, photos
# uploaded several at once into a listing's gallery.


@hooks.register("construct_homepage_panels")
def add_property_panel(request, panels):
    panel = owner_tools.add_property_panel_for(request.user)
    if panel is not None:
        panels.append(panel)


@hooks.register("register_admin_urls")
def register_owner_tools_urls():
    return owner_tools.urlpatterns


@hooks.register("insert_editor_js")
def gallery_upload_js():
    return owner_tools.editor_js()
