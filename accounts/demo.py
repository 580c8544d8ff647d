"""Demo accounts for `seed_demo`. The passwords are printed on purpose: demo data only.

Production settings never run this (seed_demo refuses unless DEBUG or --force).
"""

from accounts.models import User
from accounts.roles import user_sync_role_groups
from core.demo import DemoOrder, DemoStep

DEMO_PASSWORD = "nexus-demo-2026"

DEMO_USERS = [
    {"email": "staff@nexus.demo", "name": "Wanjiru Kamau", "phone_number": "+254700000001", "role": User.Role.STAFF},
    # Owners are paid out to their phones (B2C) and to a paybill (B2B): both show on the simulator.
    {"email": "owner.amina@nexus.demo", "name": "Amina Hassan", "phone_number": "+254711000002", "role": User.Role.OWNER,
     "payout_phone_number": "254711000002"},
    {"email": "owner.kip@nexus.demo", "name": "Kiprono Langat", "phone_number": "+254722000003", "role": User.Role.OWNER,
     "payout_method": User.PayoutMethod.PAYBILL, "payout_business_number": "600100", "payout_account_reference": "KIP-STAYS"},
    {"email": "guest.achieng@nexus.demo", "name": "Achieng Otieno", "phone_number": "+254712345678", "role": User.Role.GUEST},
    {"email": "guest.baraka@nexus.demo", "name": "Baraka Mwangi", "phone_number": "+254798765432", "role": User.Role.GUEST},
]


def seed_users() -> dict[str, User]:
    users = {}
    for spec in DEMO_USERS:
        user, created = User.objects.get_or_create(
            email=spec["email"], defaults={k: v for k, v in spec.items() if k != "email"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user_sync_role_groups(user)
        users[spec["email"]] = user
    return users


def demo_logins() -> str:
    """Printed by seed_demo after its summary."""
    lines = ["Demo logins (password for all: %s):" % DEMO_PASSWORD]
    lines += [f"  {spec['role']:<6} {spec['email']}" for spec in DEMO_USERS]
    return "\n".join(lines)


# Registered in AccountsConfig.ready(); later steps take the users as users=.
DEMO_STEP = DemoStep(
    order=DemoOrder.USERS, provides="users", seed=seed_users, counted_as="users", afterword=demo_logins
)
