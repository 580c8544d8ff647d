"""The role is the single source of truth for a user's groups; only superusers grant staff.

Before: the Wagtail user editor exposed "Administrator" (is_superuser) and the groups
to any staff member, never re-synced groups from the role, and let staff edit their own
role. A staff member could mint superusers, add a guest to the Staff group, or survive a
demotion with their admin rights intact.
"""

import pytest
from django.contrib.auth.models import Group

from accounts.models import User
from accounts.roles import OWNERS_GROUP, STAFF_GROUP
from core.exceptions import ApplicationError
from tests.factories import DEFAULT_PASSWORD, OwnerFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _edit_form(user, **overrides):
    form = {
        "email": user.email,
        "name": user.name,
        "phone_number": str(user.phone_number),
        "role": user.role,
        "is_active": "on",
        "password1": "",
        "password2": "",
    }
    form.update(overrides)
    return form


def _create_form(**overrides):
    form = {
        "email": "new.person@example.com",
        "name": "New Person",
        "phone_number": "+254733000111",
        "role": "guest",
        "password1": DEFAULT_PASSWORD,
        "password2": DEFAULT_PASSWORD,
    }
    form.update(overrides)
    return form


def _group_names(user) -> set[str]:
    return set(User.objects.get(pk=user.pk).groups.values_list("name", flat=True))


def _role_groups(user) -> set[str]:
    return _group_names(user) & {OWNERS_GROUP, STAFF_GROUP}


@pytest.fixture
def staff_member(site_tree):
    return StaffFactory(name="Wanjiru Staff")


@pytest.fixture
def superuser(site_tree):
    return StaffFactory(name="Root Admin", is_superuser=True)


# --- the editor no longer offers is_superuser or groups -----------------------------------------


@pytest.mark.parametrize("url_name", ["edit", "new"])
def test_user_editor_offers_neither_administrator_flag_nor_groups(client, staff_member, superuser, url_name):
    target = UserFactory()
    # Staff hold "change user" but not "add user": only superusers open the "new" form.
    for actor in (staff_member, superuser) if url_name == "edit" else (superuser,):
        client.force_login(actor)
        url = f"/admin/users/edit/{target.pk}/" if url_name == "edit" else "/admin/users/new/"
        response = client.get(url)
        assert response.status_code == 200
        form = response.context["form"]
        assert "is_superuser" not in form.fields
        assert "groups" not in form.fields
        html = response.content.decode()
        assert 'name="is_superuser"' not in html
        assert 'name="groups"' not in html


def test_staff_cannot_mint_a_superuser_or_add_groups_by_posting_the_old_fields(client, staff_member, superuser):
    target = UserFactory()
    staff_group = Group.objects.get(name=STAFF_GROUP)
    client.force_login(staff_member)
    response = client.post(
        f"/admin/users/edit/{target.pk}/",
        _edit_form(target, is_superuser="on", groups=[staff_group.pk]),
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert not target.is_superuser
    assert _group_names(target) == set()

    # Staff hold no "add user" right at all; a superuser's form ignores the old fields too.
    response = client.post("/admin/users/new/", _create_form(is_superuser="on", groups=[staff_group.pk]))
    assert response.status_code in (302, 403)
    assert not User.objects.filter(email="new.person@example.com").exists()

    client.force_login(superuser)
    response = client.post("/admin/users/new/", _create_form(is_superuser="on", groups=[staff_group.pk]))
    assert response.status_code == 302
    created = User.objects.get(email="new.person@example.com")
    assert not created.is_superuser
    assert _group_names(created) == set()


# --- only superusers grant (or take away) staff -------------------------------------------------


def test_staff_cannot_promote_a_user_to_staff(client, staff_member):
    target = UserFactory()
    client.force_login(staff_member)
    response = client.post(f"/admin/users/edit/{target.pk}/", _edit_form(target, role="staff"))
    assert response.status_code == 200  # the form again, with an error on "role"
    assert "role" in response.context["form"].errors
    target.refresh_from_db()
    assert target.role == "guest"
    assert _group_names(target) == set()

    response = client.post("/admin/users/new/", _create_form(role="staff"))
    assert response.status_code in (200, 302, 403)
    assert not User.objects.filter(email="new.person@example.com").exists()


def test_staff_cannot_edit_or_demote_another_staff_member_or_a_superuser(client, staff_member, superuser):
    colleague = StaffFactory()
    client.force_login(staff_member)
    for other in (colleague, superuser):
        assert client.get(f"/admin/users/edit/{other.pk}/").status_code == 404
        response = client.post(
            f"/admin/users/edit/{other.pk}/",
            _edit_form(other, role="guest", password1="Hijacked-pass-2026", password2="Hijacked-pass-2026"),
        )
        assert response.status_code == 404
        other.refresh_from_db()
        assert other.role == "staff"
        assert other.check_password(DEFAULT_PASSWORD)


def test_staff_sets_guest_and_owner_on_others_and_groups_follow(client, staff_member):
    target = UserFactory()
    client.force_login(staff_member)
    assert client.post(f"/admin/users/edit/{target.pk}/", _edit_form(target, role="owner")).status_code == 302
    target.refresh_from_db()
    assert target.role == "owner"
    assert _role_groups(target) == {OWNERS_GROUP}

    assert client.post(f"/admin/users/edit/{target.pk}/", _edit_form(target, role="guest")).status_code == 302
    target.refresh_from_db()
    assert target.role == "guest"
    assert _role_groups(target) == set()


def test_superuser_grants_staff_and_the_groups_follow(client, superuser):
    target = OwnerFactory()
    client.force_login(superuser)
    assert client.post(f"/admin/users/edit/{target.pk}/", _edit_form(target, role="staff")).status_code == 302
    target.refresh_from_db()
    assert target.role == "staff"
    assert _role_groups(target) == {STAFF_GROUP}

    response = client.post("/admin/users/new/", _create_form(role="owner"))
    assert response.status_code == 302
    assert _role_groups(User.objects.get(email="new.person@example.com")) == {OWNERS_GROUP}


# --- nobody changes their own role ---------------------------------------------------------------


@pytest.mark.parametrize("who", ["staff_member", "superuser"])
def test_nobody_changes_their_own_role_even_by_tampering_with_the_post(client, request, who):
    me = request.getfixturevalue(who)
    client.force_login(me)
    response = client.get(f"/admin/users/edit/{me.pk}/")
    assert response.status_code == 200
    assert response.context["form"].fields["role"].disabled

    client.post(f"/admin/users/edit/{me.pk}/", _edit_form(me, role="guest", name="Renamed"))
    me.refresh_from_db()
    assert me.role == "staff"
    assert me.name == "Renamed"  # the rest of the form still works


def test_demoted_owner_cannot_promote_themselves_back(client, staff_member):
    """An owner has no user admin at all."""
    owner = OwnerFactory()
    client.force_login(owner)
    assert client.post(f"/admin/users/edit/{owner.pk}/", _edit_form(owner, role="staff")).status_code in (302, 403)
    owner.refresh_from_db()
    assert owner.role == "owner"


# --- a demotion takes effect at once ------------------------------------------------------------


def test_demoted_staff_member_loses_admin_access_immediately(client, superuser):
    demoted = StaffFactory()
    client.post("/admin/login/", {"username": demoted.email, "password": DEFAULT_PASSWORD})
    assert client.get("/admin/").status_code == 200

    admin_client = client.__class__()
    admin_client.force_login(superuser)
    response = admin_client.post(f"/admin/users/edit/{demoted.pk}/", _edit_form(demoted, role="guest"))
    assert response.status_code == 302

    demoted.refresh_from_db()
    assert demoted.role == "guest"
    assert not demoted.is_staff
    assert _group_names(demoted) == set()
    # The demoted user's existing session is refused on the next request.
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.get("/admin/users/").status_code == 302


# --- the group and bulk screens are no back door -----------------------------------------------


def test_staff_cannot_open_or_edit_groups(client, staff_member):
    staff_group = Group.objects.get(name=STAFF_GROUP)
    perms_before = set(staff_group.permissions.values_list("pk", flat=True))
    client.force_login(staff_member)
    assert not staff_member.has_perm("auth.change_group")
    assert not staff_member.has_perm("auth.add_group")
    for url in ("/admin/groups/", f"/admin/groups/edit/{staff_group.pk}/", "/admin/groups/new/"):
        response = client.get(url)
        assert response.status_code in (302, 403), url
    client.post(f"/admin/groups/edit/{staff_group.pk}/", {"name": STAFF_GROUP, "permissions": []})
    assert set(staff_group.permissions.values_list("pk", flat=True)) == perms_before


def test_bulk_assign_role_cannot_put_anyone_in_a_group(client, staff_member, superuser):
    guest = UserFactory()
    staff_group = Group.objects.get(name=STAFF_GROUP)
    for actor in (staff_member, superuser):
        client.force_login(actor)
        client.post(f"/admin/bulk/accounts/user/assign_role/?id={guest.pk}", {"role": staff_group.pk})
        assert _group_names(guest) == set()


def test_staff_cannot_deactivate_a_superuser_or_colleague_in_bulk(client, staff_member, superuser):
    colleague = StaffFactory()
    guest = UserFactory()
    client.force_login(staff_member)
    client.post(
        f"/admin/bulk/accounts/user/set_active_state/?id={superuser.pk}&id={colleague.pk}&id={guest.pk}",
        {"mark_as_active": "False"},
    )
    superuser.refresh_from_db()
    colleague.refresh_from_db()
    guest.refresh_from_db()
    assert superuser.is_active and colleague.is_active
    assert not guest.is_active


# --- every path that creates users or changes roles follows the role ----------------------------


def test_createsuperuser_and_create_user_put_users_in_their_role_groups(site_tree):
    admin = User.objects.create_superuser(email="root@example.com", name="Root", password=DEFAULT_PASSWORD)
    assert admin.role == "staff"
    assert _role_groups(admin) == {STAFF_GROUP}
    owner = User.objects.create_user(email="o@example.com", name="O", password=DEFAULT_PASSWORD, role="owner")
    assert _role_groups(owner) == {OWNERS_GROUP}


def test_user_set_role_syncs_groups_refuses_escalation_and_audits(site_tree, staff_member, superuser):
    from accounts.services import user_set_role
    from core.models import AuditEntry

    target = UserFactory()
    # Drift (e.g. a group added in a shell) is repaired by the next role save.
    target.groups.add(Group.objects.get(name=STAFF_GROUP))
    user_set_role(user=target, role="owner", actor=staff_member)
    assert _role_groups(target) == {OWNERS_GROUP}
    assert AuditEntry.objects.filter(object_id=str(target.pk), action="user.role_changed").exists()

    with pytest.raises(ApplicationError) as refused:
        user_set_role(user=target, role="staff", actor=staff_member)
    assert refused.value.status == 403
    with pytest.raises(ApplicationError):
        user_set_role(user=staff_member, role="guest", actor=staff_member)
    with pytest.raises(ApplicationError):
        user_set_role(user=superuser, role="guest", actor=staff_member)
    with pytest.raises(ApplicationError):
        user_set_role(user=target, role="emperor", actor=superuser)
    target.refresh_from_db()
    assert target.role == "owner"

    user_set_role(user=target, role="staff", actor=superuser)
    assert _role_groups(target) == {STAFF_GROUP}


def test_staff_group_holds_no_right_over_groups_or_permissions(site_tree):
    staff_group = Group.objects.get(name=STAFF_GROUP)
    owners_group = Group.objects.get(name=OWNERS_GROUP)
    for group in (staff_group, owners_group):
        labels = set(group.permissions.values_list("content_type__app_label", flat=True))
        assert "auth" not in labels
        codenames = set(group.permissions.values_list("codename", flat=True))
        assert not codenames & {"add_user", "delete_user", "add_group", "change_group", "delete_group"}
