"""core/permissions.py: the owner-scoped policy behind every back-office screen, as the
apps apply it to their models (reservations/permissions.py, mpesa/permissions.py)."""

import pytest
from django.http import Http404

from mpesa.permissions import payment_permission_policy
from reservations.permissions import booking_permission_policy, properties_visible_to
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_wagtail_registry_hands_out_the_owner_scoped_policies():
    from wagtail.permissions import policy_registry

    from mpesa.models import Payment
    from reservations.models import Booking

    assert policy_registry.get_by_type(Booking) is booking_permission_policy
    assert policy_registry.get_by_type(Payment) is payment_permission_policy


def test_owner_instances_are_only_their_own_properties(world):
    owner_a = world["owner_a"]
    assert list(booking_permission_policy.instances_user_has_permission_for(owner_a, "view")) == [world["booking_a"]]
    assert list(payment_permission_policy.instances_user_has_permission_for(owner_a, "view")) == [world["payment_a"]]
    assert list(properties_visible_to(owner_a)) == [world["stay_a"]]


def test_staff_see_every_instance(world):
    staff = world["staff"]
    assert set(booking_permission_policy.instances_user_has_permission_for(staff, "view")) == {
        world["booking_a"],
        world["booking_b"],
    }
    assert payment_permission_policy.instances_user_has_permission_for(staff, "view").count() == 2


def test_guest_has_no_back_office_permission_at_all(world):
    guest = world["guest_a"]
    assert not booking_permission_policy.user_has_permission(guest, "view")
    assert booking_permission_policy.instances_user_has_permission_for(guest, "view").count() == 0
    assert payment_permission_policy.instances_user_has_permission_for(guest, "view").count() == 0
    assert properties_visible_to(guest).count() == 0


def test_instance_permission_follows_property_ownership(world):
    policy = payment_permission_policy
    assert policy.user_has_permission_for_instance(world["owner_a"], "view", world["payment_a"])
    assert not policy.user_has_permission_for_instance(world["owner_a"], "view", world["payment_b"])
    assert policy.user_has_permission_for_instance(world["staff"], "view", world["payment_b"])


@pytest.mark.parametrize("action", ["add", "change", "delete"])
def test_model_forms_are_refused_to_everyone_even_superusers(world, action):
    superuser = UserFactory(is_superuser=True)
    for user in (world["staff"], world["owner_a"], superuser):
        assert not booking_permission_policy.user_has_permission(user, action)
        assert not payment_permission_policy.user_has_permission_for_instance(user, action, world["payment_a"])


@pytest.mark.parametrize("action", ["recheck", "refund", "resolve_flag"])
def test_review_actions_are_for_staff_only(world, action):
    assert payment_permission_policy.user_has_permission(world["staff"], action)
    assert not payment_permission_policy.user_has_permission(world["owner_a"], action)
    assert not payment_permission_policy.user_has_permission_for_instance(world["owner_a"], action, world["payment_a"])


def test_get_instance_for_user_or_404_hides_other_owners_objects(world):
    policy = booking_permission_policy
    assert policy.get_instance_for_user_or_404(world["owner_a"], "view", world["booking_a"].pk) == world["booking_a"]
    with pytest.raises(Http404):
        policy.get_instance_for_user_or_404(world["owner_a"], "view", world["booking_b"].pk)
    with pytest.raises(Http404):
        policy.get_instance_for_user_or_404(world["owner_a"], "cancel", world["booking_a"].pk)


def test_users_with_permission_for_instance_are_staff_and_the_owner(world):
    users = set(payment_permission_policy.users_with_any_permission_for_instance(["view"], world["payment_a"]))
    assert world["owner_a"] in users
    assert world["staff"] in users
    assert world["owner_b"] not in users
