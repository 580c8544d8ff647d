"""Admin URLs that name another owner's listing are a 404, as if it did not exist.

Wagtail's per-page admin views refuse an owner who lacks rights on a page (through
listings.permissions), but some answer 403 or a redirect, which confirms the page
exists, and a few check nothing at all: the explorer opened *at* a page lists it as the
parent and shows its title, and the page chooser browses into any page. This middleware
answers 404 before any of those views runs, for every admin URL that carries a page id
in its path (and the page chooser's "chosen" step, which takes ids in its query). The
same goes for the image and document screens and choosers: a file outside the user's
collections is a 404 rather than Wagtail's "permission denied" redirect.

Site-wide reports that Wagtail cannot scope to one owner (site history mixes the log
entries of every page, snippet and image; page types usage names the last page edited
of each type) are for staff only; an owner reads their own history from each page's and
each blocked period's own history screen.
"""

from django.http import Http404
from wagtail.documents import get_document_model
from wagtail.images import get_image_model
from wagtail.permissions import policy_registry

from listings.permissions import listings_hidden_from, sees_every_listing

ADMIN_PREFIX = "/admin/"
PAGE_ID_KWARGS = ("page_id", "parent_page_id", "page_to_move_id", "destination_id")
PAGE_NAMESPACES = {"wagtailadmin_pages"}
PAGE_VIEWS = {"wagtailadmin_explore", "wagtailadmin_choose_page_child"}
PAGE_IDS_IN_QUERY_VIEWS = {"wagtailadmin_choose_page_chosen_multiple"}
# namespace -> (model getter, URL kwargs naming one of its objects)
MEDIA_NAMESPACES = {
    "wagtailimages": ("image", ("image_id", "pk")),
    "wagtailimages_chooser": ("image", ("image_id", "pk")),
    "wagtaildocs": ("document", ("document_id", "doc_id", "pk")),
    "wagtaildocs_chooser": ("document", ("document_id", "doc_id", "pk")),
}
STAFF_ONLY_REPORTS = {
    "wagtailadmin_reports:site_history",
    "wagtailadmin_reports:site_history_results",
    "wagtailadmin_reports:page_types_usage",
    "wagtailadmin_reports:page_types_usage_results",
}


def staff_only_report(view_name: str) -> bool:
    return view_name in STAFF_ONLY_REPORTS


class OwnerAdminScopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not request.path.startswith(ADMIN_PREFIX):
            return None  # the public site has its own scoping (selectors); keep its requests free
        match = request.resolver_match
        user = getattr(request, "user", None)
        if match is None or user is None or not user.is_authenticated or sees_every_listing(user):
            return None
        if staff_only_report(match.view_name):
            raise Http404
        page_ids = _page_ids_named(match, view_kwargs, request)
        if page_ids and listings_hidden_from(user).filter(pk__in=page_ids).exists():
            raise Http404
        if _names_media_outside_users_collections(match, view_kwargs, user):
            raise Http404
        return None


def _page_ids_named(match, view_kwargs, request) -> list[int]:
    ids = []
    if match.view_name in PAGE_VIEWS or PAGE_NAMESPACES.intersection(match.namespaces):
        keys = PAGE_ID_KWARGS + (("pk",) if PAGE_NAMESPACES.intersection(match.namespaces) else ())
        ids = [view_kwargs[key] for key in keys if key in view_kwargs]
    if match.view_name in PAGE_IDS_IN_QUERY_VIEWS:
        ids += request.GET.getlist("id")
    return [int(value) for value in ids if str(value).isdigit()]


def _names_media_outside_users_collections(match, view_kwargs, user) -> bool:
    namespace = next((ns for ns in match.namespaces if ns in MEDIA_NAMESPACES), None)
    if namespace is None:
        return False
    kind, keys = MEDIA_NAMESPACES[namespace]
    ids = [str(view_kwargs[key]) for key in keys if key in view_kwargs]
    ids = [int(value) for value in ids if value.isdigit()]
    if not ids:
        return False
    model = get_image_model() if kind == "image" else get_document_model()
    visible = policy_registry.get_by_type(model).instances_user_has_any_permission_for(
        user, ["add", "change", "delete", "choose"]
    )
    return visible.filter(pk__in=ids).count() < len(set(ids))
