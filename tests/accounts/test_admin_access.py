import pytest

from tests.factories import DEFAULT_PASSWORD, OwnerFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _admin_login(client, user):
    return client.post("/admin/login/", {"username": user.email, "password": DEFAULT_PASSWORD})


def test_guest_cannot_log_into_wagtail(client, site_tree):
    guest = UserFactory()
    _admin_login(client, guest)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize("factory", [OwnerFactory, StaffFactory])
def test_owner_and_staff_can_log_into_wagtail(client, site_tree, factory):
    user = factory()
    _admin_login(client, user)
    response = client.get("/admin/")
    assert response.status_code == 200


def test_django_admin_is_not_mounted(client):
    assert client.get("/django-admin/").status_code == 404


def test_staff_can_open_the_wagtail_user_editor(client, site_tree):
    staff = StaffFactory(is_superuser=True)
    client.force_login(staff)
    assert client.get(f"/admin/users/edit/{staff.pk}/").status_code == 200
    assert client.get("/admin/users/new/").status_code == 200
