"""listings.page_context: a property page's context, and the parts other apps add to it."""

import pytest
from django.test import RequestFactory

from listings import page_context
from reservations.property_page import property_page_booking_box
from tests.factories import future_date, make_property

pytestmark = pytest.mark.django_db


def _request(**query):
    request = RequestFactory().get("/", query)
    request.user = None
    return request


def test_the_booking_box_is_the_part_reservations_registered(site_tree):
    prop = make_property(max_guests=4)
    query = {"check_in": future_date(3).isoformat(), "check_out": future_date(5).isoformat(), "guests": "3"}
    assert property_page_booking_box in page_context._property_page_parts
    context = page_context.property_page_context(page=prop, request=_request(**query))
    form = context["booking_form"]
    assert (form.initial["check_in"], form.initial["check_out"], form.initial["guests"]) == (
        future_date(3), future_date(5), 3,
    )
    assert context["co_guest_formset"].total_form_count() == 2
    assert context["quote"].nights == 2 and context["quote"].total == 2 * prop.price_per_night


def test_without_a_registered_part_the_page_shows_the_listing_alone(site_tree, monkeypatch):
    monkeypatch.setattr(page_context, "_property_page_parts", [])
    context = page_context.property_page_context(page=make_property(), request=_request())
    assert "booking_form" not in context and "co_guest_formset" not in context
    assert {"fragments", "unavailable_ranges", "quote", "bookable"} <= set(context)
