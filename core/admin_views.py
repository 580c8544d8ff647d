"""Back-office building blocks the apps use for their owner-scoped rows (bookings, payments).

Wagtail snippet views whose every way to an object goes through the permission policy:
a snippet viewset has more doors than its listing: the inspect page, the chooser
modal (list, search, "chosen" JSON), bulk actions. Each one here asks the
model's OwnerScopedPermissionPolicy (core/permissions.py) for the objects the
user may see, so an owner typing another owner's id into any of these URLs gets
a 404, not the data.

Also the base of the home page panels and of the bulk action that closes Wagtail's bulk
delete; each app registers its own (reservations/wagtail_hooks.py, mpesa/wagtail_hooks.py).
"""

from django.contrib.admin.utils import unquote
from django.http import Http404
from django.utils.functional import cached_property
from wagtail.admin.ui.components import Component
from wagtail.admin.ui.tables import BulkActionsCheckboxColumn
from wagtail.admin.views.bulk_action import BulkAction
from wagtail.permissions import policy_registry
from wagtail.snippets.views import chooser as snippet_chooser
from wagtail.snippets.views import snippets as snippet_views


class ScopedIndexView(snippet_views.IndexView):
    """Lists only what the policy allows (the viewset's get_queryset); no bulk-action checkboxes."""

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
