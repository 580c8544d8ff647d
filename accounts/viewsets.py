"""Wagtail's user admin for our user model: the role is the only access setting
(accounts.forms), and staff who are not superusers manage guests and owners only."""

from django.http import Http404
from wagtail.users.views import users as wagtail_users

from accounts.forms import WagtailUserCreationForm, WagtailUserEditForm
from accounts.selectors import user_is_manageable_by
from core.filters import BoundedChoicesMixin


class UserFilterSet(BoundedChoicesMixin, wagtail_users.UserFilterSet):
    """Wagtail's user filters; a group id the database cannot hold is a form error, not a 500."""


class UserCreateView(wagtail_users.CreateView):
    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "for_user": self.request.user}


class UserEditView(wagtail_users.EditView):
    def get_object(self, queryset=None):
        user = super().get_object(queryset)
        if not user_is_manageable_by(actor=self.request.user, user=user):
            raise Http404
        return user

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "for_user": self.request.user}


class UserViewSet(wagtail_users.UserViewSet):
    filterset_class = UserFilterSet
    add_view_class = UserCreateView
    edit_view_class = UserEditView

    def get_form_class(self, for_update=False):
        return WagtailUserEditForm if for_update else WagtailUserCreationForm
