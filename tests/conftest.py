import pytest
from rest_framework.test import APIClient

from tests.factories import OwnerFactory, StaffFactory, UserFactory


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def guest(db):
    return UserFactory()


@pytest.fixture
def owner(db):
    return OwnerFactory()


@pytest.fixture
def staff(db):
    return StaffFactory()


@pytest.fixture
def guest_client(guest):
    client = APIClient()
    client.force_authenticate(guest)
    return client


@pytest.fixture
def site_tree(db):
    """Home -> Stays index, the default Site and the role groups (idempotent)."""
    from listings.site_setup import ensure_site_tree

    home, index = ensure_site_tree()
    return index
