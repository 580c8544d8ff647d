"""Calendar sync in the Wagtail admin, owner-scoped like blocked dates (listings/wagtail_hooks.py).

- "Imported calendars" snippet (menu Listings): an owner lists, adds, edits and removes the
  feeds of their own listings; another owner's feed is a 404 in every per-object view, and
  the permission policy applies the same rule to what has no object view. Staff see all.
- The export address is shown on the listing's edit page (panels.CalendarSyncPanel) with a
  copy button; regenerating it goes through a confirmation screen (CalendarExportRegenerateView).
"""

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.views.generic import FormView
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import register_permission_policy
from wagtail.snippets.views.snippets import (
    CreateView,
    DeleteView,
    EditView,
    HistoryView,
    InspectView,
    SnippetViewSet,
    UsageView,
)

from listings.calendar.export import calendar_export_url
from listings.calendar.selectors import (
    calendar_feeds_for_user,
    calendar_feeds_of,
    calendar_properties_for_user,
    calendar_property_get_for_user,
)
from listings.calendar.services import calendar_export_regenerate, calendar_feed_refusal
from listings.models import CalendarFeed, PropertyPage
from listings.permissions import sees_every_listing


class CalendarFeedPermissionPolicy(ModelPermissionPolicy):
    """The Owners group's model permissions, limited to feeds of the owner's own listings."""

    def user_has_permission_for_instance(self, user, action, instance):
        return self.user_has_any_permission_for_instance(user, [action], instance)

    def user_has_any_permission_for_instance(self, user, actions, instance):
        if not self.user_has_any_permission(user, actions):
            return False
        return sees_every_listing(user) or PropertyPage.objects.filter(pk=instance.property_id, owner=user).exists()

    def instances_user_has_any_permission_for(self, user, actions):
        queryset = super().instances_user_has_any_permission_for(user, actions)
        return queryset if sees_every_listing(user) else queryset.filter(property__owner=user)


# Registered before the viewset is built (listings/wagtail_hooks.py), which looks it up then.
register_permission_policy(CalendarFeed, CalendarFeedPermissionPolicy(CalendarFeed))


class CalendarFeedForm(WagtailAdminModelForm):
    """Listing choices are the user's own; the address passes the import rules (public http/https,
    not already imported, not the listing's own export). A feed stays with its listing."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "property" in self.fields:
            if self.for_user is not None:
                self.fields["property"].queryset = calendar_properties_for_user(self.for_user).order_by("title")
            if self.instance.pk:
                # Its blocks belong to this listing: moving the feed would leave them behind.
                self.fields["property"].disabled = True

    def clean(self):
        cleaned = super().clean()
        property, url = cleaned.get("property"), cleaned.get("url")
        if property is not None and url:
            refusal = calendar_feed_refusal(property_id=property.pk, url=url, exclude_feed_id=self.instance.pk)
            if refusal:
                self.add_error("url", refusal)
        return cleaned

    def save(self, commit=True):
        if self.instance.created_by_id is None and self.for_user is not None:
            self.instance.created_by = self.for_user
        if "url" in self.changed_data and self.instance.pk:
            # Another address: the validators and status of the old one say nothing about it.
            self.instance.etag = self.instance.last_modified = self.instance.last_error = ""
            self.instance.last_synced_at = None
        return super().save(commit=commit)


class OwnedFeedMixin:
    """Per-object admin views: another owner's feed is a 404."""

    def get_object(self, *args, **kwargs):
        obj = super().get_object(*args, **kwargs)
        if not calendar_feeds_for_user(self.request.user).filter(pk=obj.pk).exists():
            raise Http404
        return obj


class CalendarFeedCreateView(CreateView):
    def get_initial_form_instance(self):
        # "Add a calendar" on a listing's edit page links here with ?property=<id>.
        instance = super().get_initial_form_instance() or self.model()
        raw = self.request.GET.get("property", "")
        if self.request.method == "GET" and raw.isdigit():
            if calendar_properties_for_user(self.request.user).filter(pk=int(raw)).exists():
                instance.property_id = int(raw)
        return instance


class CalendarFeedEditView(OwnedFeedMixin, EditView):
    pass


class CalendarFeedDeleteView(OwnedFeedMixin, DeleteView):
    pass


class CalendarFeedHistoryView(OwnedFeedMixin, HistoryView):
    pass


class CalendarFeedUsageView(OwnedFeedMixin, UsageView):
    pass


class CalendarFeedInspectView(OwnedFeedMixin, InspectView):
    pass


class CalendarExportRegenerateView(WagtailAdminTemplateMixin, FormView):
    """Confirm, then replace the listing's export token: the old address is a 404 from then on."""

    template_name = "backoffice/action_form.html"
    form_class = forms.Form
    page_title = "New calendar address"
    header_icon = "date"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.page = calendar_property_get_for_user(user=request.user, property_id=kwargs["property_id"])

    def get_cancel_url(self) -> str:
        return reverse("wagtailadmin_pages:edit", args=(self.page.pk,))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            {
                "summary": [
                    ("Listing", self.page.title),
                    (
                        "What happens",
                        "The current calendar address stops working at once. Paste the new address into "
                        "Airbnb, Booking.com and every other site that reads this calendar, or they will "
                        "stop seeing the nights booked here.",
                    ),
                ],
                "submit_label": "Make a new address",
                "cancel_url": self.get_cancel_url(),
            }
        )
        return context

    def form_valid(self, form):
        calendar_export_regenerate(property_id=self.page.pk, actor=self.request.user)
        messages.success(
            self.request,
            "The calendar address of %s was replaced; the old one no longer works. Copy the new one below into "
            "the other sites." % self.page.title,
        )
        return HttpResponseRedirect(self.get_cancel_url())


class CalendarFeedViewSet(SnippetViewSet):
    model = CalendarFeed
    icon = "calendar-alt"
    menu_label = "Imported calendars"
    list_display = ["property", "url", "last_synced_at", "last_error"]
    ordering = ["property__title", "pk"]
    copy_view_enabled = False
    add_view_class = CalendarFeedCreateView
    edit_view_class = CalendarFeedEditView
    delete_view_class = CalendarFeedDeleteView
    history_view_class = CalendarFeedHistoryView
    usage_view_class = CalendarFeedUsageView
    inspect_view_class = CalendarFeedInspectView
    edit_handler = ObjectList(
        [
            FieldPanel("property", widget=forms.Select),
            FieldPanel(
                "url",
                help_text="The iCal export address from the other site: on Airbnb, Calendar > Availability > "
                "Connect calendars > Export; on Booking.com, Calendar > Sync calendars > Export. "
                "Fetched every 15 minutes.",
            ),
        ],
        base_form_class=CalendarFeedForm,
    )

    def get_queryset(self, request):
        return calendar_feeds_for_user(request.user).select_related("property")

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path(
                "regenerate-export/<int:property_id>/",
                CalendarExportRegenerateView.as_view(),
                name="regenerate_export",
            ),
        ]


def calendar_sync_panel_context(*, request, page) -> dict:
    """What the listing's "Calendar sync" panel shows: the export address and the imported feeds."""
    viewset = CalendarFeed.snippet_viewset
    feeds = calendar_feeds_of(property_id=page.pk)
    return {
        "export_url": calendar_export_url(request, page.pk),
        "regenerate_url": reverse(viewset.get_url_name("regenerate_export"), args=(page.pk,)),
        "feeds": [
            {
                "feed": feed,
                "edit_url": reverse(viewset.get_url_name("edit"), args=(feed.pk,)),
                "delete_url": reverse(viewset.get_url_name("delete"), args=(feed.pk,)),
            }
            for feed in feeds
        ],
        "add_feed_url": reverse(viewset.get_url_name("add")) + f"?property={page.pk}",
    }
