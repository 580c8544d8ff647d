"""Home page panels: today's arrivals and departures (reservations.dashboard), payments to
watch, and the month's revenue beside occupancy (mpesa.dashboard)."""

import datetime as dt

import pytest
from django.utils import timezone

from mpesa.dashboard import business_for_user, payments_to_watch_for_user
from mpesa.models import Payment
from reservations.dashboard import arrivals_for_user
from tests.factories import make_booking, make_payment, make_property

pytestmark = pytest.mark.django_db


@pytest.fixture
def today_world(world):
    today = timezone.localdate()
    arriving_a = make_booking(
        property=world["stay_a"], status="CONFIRMED", check_in=today, nights=3, reference="NXARRA01"
    )
    leaving_b = make_booking(
        property=world["stay_b"],
        status="PROCESSING",
        check_in=today - dt.timedelta(days=2),
        nights=2,
        reference="NXLEVB01",
    )
    make_payment(booking=arriving_a, amount=15000)
    make_payment(booking=leaving_b, amount=4000)
    make_payment(booking=leaving_b, status="PENDING", amount=6000)
    Payment.objects.filter(pk=world["payment_b"].pk).update(flagged=True, flag_reason="Late payment")
    make_payment(
        booking=arriving_a, kind="REFUND", status="SUCCESS", amount=1000, refund_of=world["payment_a"], note="n"
    )
    return {"today": today, "arriving_a": arriving_a, "leaving_b": leaving_b}


def test_owner_dashboard_counts_only_their_property(world, today_world):
    owner = world["owner_a"]
    arrivals = arrivals_for_user(user=owner)
    assert [b.reference for b in arrivals.check_ins] == ["NXARRA01"]
    assert arrivals.check_outs == []
    watch = payments_to_watch_for_user(user=owner)
    assert watch.pending_payments == 0 and watch.attention_count == 0
    business = business_for_user(user=owner)
    # payment_a (10000) + arriving_a's payment (15000) - refund (1000), all this month.
    assert (business.revenue_payments, business.revenue_refunds, business.revenue) == (25000, 1000, 24000)
    # Within [today, today+30): arriving_a 3 nights; booking_a (30 days out, 2 nights) is outside.
    assert business.occupied_nights == 3 and business.available_nights == 30


def test_staff_dashboard_counts_everything(world, today_world):
    staff = world["staff"]
    arrivals = arrivals_for_user(user=staff)
    assert [b.reference for b in arrivals.check_ins] == ["NXARRA01"]
    assert [b.reference for b in arrivals.check_outs] == ["NXLEVB01"]
    watch = payments_to_watch_for_user(user=staff)
    assert watch.pending_payments == 1
    assert [p.pk for p in watch.attention_payments] == [world["payment_b"].pk]
    business = business_for_user(user=staff)
    assert business.revenue == 10000 + 10000 + 15000 + 4000 - 1000
    assert business.available_nights == 60


def test_guest_has_no_dashboard(world):
    guest = world["guest_a"]
    assert arrivals_for_user(user=guest) is None
    assert payments_to_watch_for_user(user=guest) is None
    assert business_for_user(user=guest) is None


def test_occupancy_clips_stays_to_the_next_30_days(world):
    today = timezone.localdate()
    stay = make_property(owner=world["owner_a"], title="Long stay flat")
    make_booking(property=stay, status="CONFIRMED", check_in=today - dt.timedelta(days=5), nights=10)
    make_booking(property=stay, status="CONFIRMED", check_in=today + dt.timedelta(days=28), nights=7)
    make_booking(property=stay, status="CANCELED", check_in=today + dt.timedelta(days=10), nights=5)
    business = business_for_user(user=world["owner_a"])
    assert business.occupied_nights == 5 + 2
    assert business.available_nights == 2 * 30
    assert business.occupancy_percent == round(100 * 7 / 60)


def test_last_months_money_is_not_this_months_revenue(world):
    Payment.objects.filter(pk=world["payment_a"].pk).update(
        transaction_date=timezone.now() - dt.timedelta(days=40), created_at=timezone.now() - dt.timedelta(days=40)
    )
    assert business_for_user(user=world["owner_a"]).revenue == 0


def test_admin_home_renders_the_scoped_panels(client, world, today_world):
    client.force_login(world["owner_b"])
    html = client.get("/admin/").content.decode()
    assert "NXLEVB01" in html and "NXARRA01" not in html
    assert "Payments to watch" in html and "This month" in html and "Occupancy, next 30 days" in html
    assert "KES 14,000" in html  # payment_b 10000 + leaving_b 4000
    client.force_login(world["staff"])
    html = client.get("/admin/").content.decode()
    assert "NXLEVB01" in html and "NXARRA01" in html and "Late payment" in html
