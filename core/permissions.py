"""Who may see and act on owner-scoped rows (bookings, payments) in the Wagtail admin.

One policy class decides it for every admin surface (snippet lists, inspect
pages, action views, reports, exports, dashboard panels), so owner scoping is
not a filter one screen can forget. Each app builds the policy for its own model
and registers it with Wagtail (reservations/permissions.py, mpesa/permissions.py);
core knows no app's model.

- staff (role staff, or a superuser) see every object;
- any other user with the model's Django "view" permission (owners, through the
  "Owners" group) sees only objects of properties they own;
- "add", "change" and "delete" are refused to everyone: money rows and booking
  states change only through services, never through a model form;
- the review actions (STAFF_ACTIONS) need staff and the model's "change" permission.

An object outside the user's scope is reported as not found (404), never as
forbidden, so its existence leaks nothing (docs/security.md).
"""

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import Http404
from wagtail.permission_policies import ModelPermissionPolicy

READ_ACTIONS = frozenset({"view"})
FORM_ACTIONS = frozenset({"add", "change", "delete"})
STAFF_ACTIONS = frozenset({"recheck", "refund", "resolve_flag", "cancel"})


def user_is_back_office_staff(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff)


class OwnerScopedPermissionPolicy(ModelPermissionPolicy):
    """ModelPermissionPolicy whose instances are limited to the owner of their property.

    owner_field_path: the lookup from the model to the owning User, e.g.
    "property__owner" for a Booking.
    """

    def __init__(self, model, *, owner_field_path: str):
        super().__init__(model)
        self.owner_field_path = owner_field_path

    # -- model level -------------------------------------------------------------

    def user_has_permission(self, user, action):
        if not (user.is_authenticated and user.is_active) or action in FORM_ACTIONS:
            return False
        if action in READ_ACTIONS:
            return user.has_perm(self._get_permission_name("view"))
        if action in STAFF_ACTIONS:
            return user_is_back_office_staff(user) and user.has_perm(self._get_permission_name("change"))
        return False

    def users_with_any_permission(self, actions):
        actions = set(actions) - FORM_ACTIONS
        users = get_user_model().objects.none()
        if actions & READ_ACTIONS:
            users = users | self._get_users_with_any_permission_codenames(self._get_permission_codenames({"view"}))
        if actions & STAFF_ACTIONS:
            staff = self._get_users_with_any_permission_codenames(self._get_permission_codenames({"change"}))
            users = users | staff.filter(Q(role="staff") | Q(is_superuser=True))
        return users.distinct()

    # -- instance level -------------------------------------------------------------

    def _owner_id_of(self, instance):
        *relations, owner_field = self.owner_field_path.split("__")
        value = instance
        for part in relations:
            value = getattr(value, part, None)
            if value is None:
                return None
        # The owner's id is on the last row: no need to load the User itself.
        return getattr(value, f"{owner_field}_id", None)

    def user_owns_instance(self, user, instance) -> bool:
        return user.is_authenticated and self._owner_id_of(instance) == user.pk

    def user_has_permission_for_instance(self, user, action, instance):
        if not self.user_has_permission(user, action):
            return False
        return user_is_back_office_staff(user) or self.user_owns_instance(user, instance)

    def user_has_any_permission_for_instance(self, user, actions, instance):
        return any(self.user_has_permission_for_instance(user, action, instance) for action in actions)

    def instances_user_has_any_permission_for(self, user, actions) -> QuerySet:
        manager = self.model._default_manager
        if not self.user_has_any_permission(user, actions):
            return manager.none()
        if user_is_back_office_staff(user):
            return manager.all()
        return manager.filter(**{self.owner_field_path: user})

    def users_with_any_permission_for_instance(self, actions, instance):
        users = self.users_with_any_permission(actions)
        owner_id = self._owner_id_of(instance)
        return users.filter(Q(role="staff") | Q(is_superuser=True) | Q(pk=owner_id))

    # -- helpers for views ------------------------------------------------------------

    def get_instance_for_user_or_404(self, user, action: str, pk, queryset: QuerySet | None = None):
        """The object `pk` if `user` may perform `action` on it; Http404 otherwise (never 403)."""
        scoped = self.instances_user_has_permission_for(user, action)
        if queryset is not None:
            scoped = queryset & scoped
        try:
            return scoped.get(pk=pk)
        except (self.model.DoesNotExist, ValueError, TypeError):
            raise Http404 from None
