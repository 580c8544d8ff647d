"""core.demo: seed_demo's steps, registered by the apps that own the data, run in order."""

import pytest

from core import demo
from core.demo import DemoOrder, DemoStep


def test_steps_run_in_order_each_given_what_earlier_steps_provided(monkeypatch):
    calls = []

    def users():
        calls.append("users")
        return {"a@x": 1, "b@x": 2}

    def listings(*, users):
        calls.append(("listings", users))
        return ["p1"]

    def payments(*, listings):
        calls.append(("payments", listings))
        return ["x"]

    monkeypatch.setattr(demo, "_steps", [])
    # Registered out of order on purpose: the order field decides.
    demo.demo_step_register(DemoStep(order=30, provides="nothing", seed=payments, needs=("listings",)))
    demo.demo_step_register(DemoStep(order=20, provides="listings", seed=listings, needs=("users",), counted_as="listings"))
    demo.demo_step_register(
        DemoStep(order=10, provides="users", seed=users, counted_as="users", afterword=lambda: "log in as a@x")
    )
    seeded = demo.demo_seed()
    assert calls == ["users", ("listings", {"a@x": 1, "b@x": 2}), ("payments", ["p1"])]
    assert seeded.summary == "2 users, 1 listings."
    assert seeded.afterwords == ["log in as a@x"]


def test_registering_the_same_step_twice_runs_it_once(monkeypatch):
    monkeypatch.setattr(demo, "_steps", [])
    step = DemoStep(order=10, provides="users", seed=lambda: [1], counted_as="users")
    demo.demo_step_register(step)
    demo.demo_step_register(step)
    assert demo.demo_seed().summary == "1 users."


def test_the_apps_register_site_tree_users_listings_bookings_payments():
    steps = sorted(demo._steps, key=lambda step: step.order)
    assert [step.provides for step in steps] == ["site_tree", "users", "properties", "bookings", "payments"]
    assert [step.order for step in steps] == list(DemoOrder)


@pytest.mark.django_db
def test_seed_demo_prints_the_summary_and_the_logins(settings, capsys):
    from django.core.management import call_command

    settings.DEBUG = True
    call_command("seed_demo")
    output = capsys.readouterr().out
    assert "Demo data ready. 5 users, 9 listings, 4 bookings." in output
    assert "Demo logins (password for all: " in output and "  staff  staff@nexus.demo" in output
