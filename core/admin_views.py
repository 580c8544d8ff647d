"""Back-office building blocks the apps use for their owner-scoped rows (bookings, payments).

Wagtail snippet views whose every way to an object goes through the permission policy:
a snippet viewset has more doors than its listing: the inspect page, the chooser
modal (list, search, "chosen" JSON), bulk actions. Each one here asks the
model's OwnerScopedPermissionPolicy (core/permissions.py) for the objects the
user may see, so an owner typing another owner's id into any of these URLs gets
a 404, not the data.

Also the base of the home page panels and of the bulk action that closes Wagtail's bulk
delete; each app registers its own (reservations/wagtail_hooks.py, mpesa/wagtail_hooks.py).

And the list columns that make those lists read at a glance: real dates instead of
Wagtail's "4 weeks ago", shillings with thousands separators, status badges whose
colour says paid / failed / waiting. Times are Nairobi's (the site's TIME_ZONE), like
the exports (core/exports.py) and M-Pesa statements, whoever looks.
"""

import datetime as dt

from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404
from django.utils import dateformat, timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from wagtail.admin.ui.components import Component
from wagtail.admin.ui.tables import BulkActionsCheckboxColumn, Column
from wagtail.admin.views.bulk_action import BulkAction
from wagtail.permissions import policy_registry
from wagtail.snippets.views import chooser as snippet_chooser
from wagtail.snippets.views import snippets as snippet_views

from core.exports import EXPORT_VALUE_PREPROCESS
from core.phones import to_msisdn

# -- how values read in admin lists -------------------------------------------------------


def format_day(value: dt.date | None) -> str:
    """A calendar date as staff say it: "Thu 10 Dec 2026"."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value, timezone.get_default_timezone()).date()
    return dateformat.format(value, "D j M Y")


def format_moment(value: dt.datetime | None) -> str:
    """A moment in Nairobi time: "Thu 10 Dec 2026, 14:05"."""
    if value is None:
        return ""
    zone = timezone.get_default_timezone()
    if timezone.is_naive(value):
        value = timezone.make_aware(value, zone)
    return dateformat.format(timezone.localtime(value, zone), "D j M Y, H:i")


def format_kes(amount: int | None) -> str:
    """Whole shillings with thousands separators: "KES 10,800"."""
    if amount is None:
        return ""
    return f"KES {amount:,}"


class _FormattedColumn(Column):
    """A column whose cell shows format(value); never wraps, so a date stays on one line."""

    formatter = staticmethod(str)

    def __init__(self, name, **kwargs):
        kwargs.setdefault("classname", "w-whitespace-nowrap")
        super().__init__(name, **kwargs)

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        raw = context["raw_value"]
        context["value"] = self.formatter(raw) if raw is not None else self.empty_value_display
        return context


class DayColumn(_FormattedColumn):
    """A date as "Thu 10 Dec 2026" (Wagtail's DateColumn would say "4 weeks ago")."""

    formatter = staticmethod(format_day)


def _moment_html(value: dt.datetime) -> str:
    day, _, time = format_moment(value).rpartition(", ")
    # Two unbreakable halves: a narrow column breaks between the date and the time only.
    return format_html(
        '<span class="w-whitespace-nowrap">{},</span> <span class="w-whitespace-nowrap">{}</span>', day, time
    )


class MomentColumn(_FormattedColumn):
    """A date and time as "Thu 10 Dec 2026, 14:05", Nairobi time (the time may go on a second line)."""

    formatter = staticmethod(_moment_html)

    def __init__(self, name, **kwargs):
        kwargs.setdefault("classname", "")
        super().__init__(name, **kwargs)


class DayRangeColumn(Column):
    """A stay as one cell: "Thu 10 Dec 2026 to Sun 13 Dec 2026", each date unbroken, and an
    optional small line under it (`note(instance)`, e.g. "3 nights"). One column instead of
    two keeps the bookings list within a 1280 px screen."""

    def __init__(self, name, *, start: str, end: str, note=None, **kwargs):
        super().__init__(name, accessor=lambda obj: obj, **kwargs)
        self.start, self.end, self.note = start, end, note

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        start, end = getattr(instance, self.start), getattr(instance, self.end)
        note = self.note(instance) if self.note else ""
        context["value"] = format_html(
            '<span class="w-whitespace-nowrap">{}</span> <span class="w-whitespace-nowrap">to {}</span>{}',
            format_day(start),
            format_day(end),
            format_html('<small class="nexus-cell-note">{}</small>', note) if note else "",
        )
        return context


class NotedColumn(Column):
    """A short value (a booking reference) with a small line of context under it
    (`note(instance)`, e.g. the property's title, in at most two lines)."""

    def __init__(self, name, *, note, **kwargs):
        super().__init__(name, **kwargs)
        self.note = note

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        note = self.note(instance)
        if note:
            context["value"] = format_html(
                '{}<small class="nexus-cell-note nexus-clamp" title="{}">{}</small>', context["value"], note, note
            )
        return context


class ClampedTextColumn(Column):
    """Free text (a property title, a guest's name) in at most two lines, the whole text in
    the title attribute: long names no longer stretch a row to five lines or push the list wider."""

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        value = context["value"]
        if value not in ("", None):
            context["value"] = format_html('<span class="nexus-clamp" title="{}">{}</span>', value, value)
        return context


class AmountColumn(_FormattedColumn):
    """Shillings as "KES 10,800", with an optional small line under it (`note(instance)`)."""

    formatter = staticmethod(format_kes)

    def __init__(self, name, *, note=None, **kwargs):
        super().__init__(name, **kwargs)
        self.note = note

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        note = self.note(instance) if self.note else ""
        if note:
            context["value"] = format_html('{}<small class="nexus-cell-note">{}</small>', context["value"], note)
        return context


class BadgeColumn(Column):
    """A status as a coloured badge, with an optional short note beside it (a failure reason).

    `tone(instance)` names the colour: "positive" (paid, confirmed), "critical" (failed),
    "pending" (waiting for money or for M-Pesa) or "neutral"; static/backoffice/admin.css
    draws them on top of Wagtail's w-status tag. `note(instance)` is cut to `note_length`
    characters in the list; the whole text is in the title attribute.
    """

    cell_template_name = "backoffice/tables/badge_cell.html"
    TONES = ("positive", "critical", "pending", "neutral")

    def __init__(self, name, *, tone, note=None, note_length=40, **kwargs):
        super().__init__(name, **kwargs)
        self.tone = tone
        self.note = note
        self.note_length = note_length

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        tone = self.tone(instance)
        context["tone"] = tone if tone in self.TONES else "neutral"
        context["note"] = (self.note(instance) or "") if self.note else ""
        context["note_length"] = self.note_length
        return context


# -- search --------------------------------------------------------------------------------


class RelatedSearchMixin:
    """Admin list search: any of `search_fields` contains the text, across joins, or a phone
    field equals the number however it was typed.

    Phones are stored normalised (Daraja's 2547XXXXXXXX on payments, E.164 +2547XXXXXXXX
    on accounts and guests) while staff type what the customer reads out (0712 345 678,
    +254 712..., 254712...): `search_phone_lookups` maps a lookup to "msisdn" or "e164".
    A plain ORM filter, so it works the same on SQLite and PostgreSQL without a search
    index. The match is taken as a pk subquery (no duplicate rows from to-many joins)
    and applied to the view's queryset, which the permission policy has already scoped:
    an owner only ever searches their own properties' rows.
    """

    search_phone_lookups: dict[str, str] = {}

    def search_queryset(self, queryset):
        if not self.is_searching:
            return queryset
        text = self.search_query.strip()
        query = Q()
        for field in self.search_fields or []:
            query |= Q(**{f"{field}__icontains": text})
        try:
            msisdn = to_msisdn(text)
        except ValidationError:
            msisdn = None
        if msisdn:
            for lookup, style in self.search_phone_lookups.items():
                query |= Q(**{lookup: msisdn if style == "msisdn" else f"+{msisdn}"})
        matching = queryset.model._default_manager.filter(query).values("pk")
        return queryset.filter(pk__in=matching)


# -- scoped snippet views -----------------------------------------------------------------


class ScopedIndexView(snippet_views.IndexView):
    """Lists only what the policy allows (the viewset's get_queryset); no bulk-action checkboxes.

    Its CSV and XLSX exports write values like every report's (core/exports.py).
    """

    custom_value_preprocess = EXPORT_VALUE_PREPROCESS

    @cached_property
    def columns(self):
        return [c for c in super().columns if not isinstance(c, BulkActionsCheckboxColumn)]


class ScopedInspectView(snippet_views.InspectView):
    def get_object(self, queryset=None):
        return self.permission_policy.get_instance_for_user_or_404(self.request.user, "view", unquote(str(self.pk)))


class _ScopedChooserObjectsMixin:
    def get_object_list(self):
        return self.permission_policy.instances_user_has_permission_for(self.request.user, "view")


class ScopedChooseView(_ScopedChooserObjectsMixin, snippet_chooser.ChooseView):
    pass


class ScopedChooseResultsView(_ScopedChooserObjectsMixin, snippet_chooser.ChooseResultsView):
    pass


class ScopedChosenView(snippet_chooser.SnippetChosenView):
    def get_object(self, pk):
        policy = policy_registry.get_by_type(self.model_class)
        return policy.get_instance_for_user_or_404(self.request.user, "view", pk)


class ScopedChosenMultipleView(snippet_chooser.SnippetChosenMultipleView):
    def get_objects(self, pks):
        policy = policy_registry.get_by_type(self.model_class)
        return policy.instances_user_has_permission_for(self.request.user, "view").filter(pk__in=pks)


class ScopedSnippetChooserViewSet(snippet_chooser.SnippetChooserViewSet):
    choose_view_class = ScopedChooseView
    choose_results_view_class = ScopedChooseResultsView
    chosen_view_class = ScopedChosenView
    chosen_multiple_view_class = ScopedChosenMultipleView


class ScopedSnippetViewSet(snippet_views.SnippetViewSet):
    """Read-only snippet viewset over an OwnerScopedPermissionPolicy.

    Add/edit/delete/history/usage views stay routed by Wagtail but the policy
    refuses "add", "change" and "delete" to everyone, so they answer 403; the
    listing, inspect page and chooser are scoped to the user's objects.
    """

    index_view_class = ScopedIndexView
    inspect_view_class = ScopedInspectView
    chooser_viewset_class = ScopedSnippetChooserViewSet
    inspect_view_enabled = True
    copy_view_enabled = False
    # Bookings and payments are written on hot paths (booking POST, Daraja
    # callback); indexing their references would add queries to each write
    # for a "usage" screen nobody needs.
    add_to_reference_index = False
    add_to_admin_menu = True
    search_backend_name = None
    list_select_related: tuple[str, ...] = ()

    def get_queryset(self, request):
        queryset = self.permission_policy.instances_user_has_permission_for(request.user, "view")
        if self.list_select_related:
            queryset = queryset.select_related(*self.list_select_related)
        return queryset


class NoBulkActions(BulkAction):
    """Stands in for Wagtail's bulk delete on money rows: there is no bulk action on them.

    An app subclasses it with its `models` and registers the subclass with
    `hooks.register("register_bulk_action", cls, order=1)`: after wagtail.snippets' own
    bulk actions, so it replaces them for those models; without it the confirmation
    page would list any object by id.
    """

    display_name = "Delete"
    action_type = "delete"
    aria_label = "Delete selected"
    template_name = "wagtailadmin/bulk_actions/confirmation/base.html"
    models: list = []

    def dispatch(self, request, *args, **kwargs):
        raise Http404


class DashboardPanel(Component):
    """A home page panel showing one app's numbers (`board`), registered by that app through
    Wagtail's construct_homepage_panels hook. Subclasses set name, template_name and order."""

    def __init__(self, board):
        self.board = board

    def get_context_data(self, parent_context):
        return {"board": self.board, "request": parent_context.get("request")}
