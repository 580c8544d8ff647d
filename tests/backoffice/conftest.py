import pytest

from tests.daraja import use_the_simulator
from tests.factories import (
    OwnerFactory,
    StaffFactory,
    UserFactory,
    make_booking,
    make_payment,
    make_property,
)


@pytest.fixture
def world(site_tree):
    """Two owners with one listing each; a booking and a settled payment on each listing."""
    owner_a, owner_b = OwnerFactory(name="Amina Owner"), OwnerFactory(name="Bakari Owner")
    stay_a = make_property(owner=owner_a, index=site_tree, title="Amina's cottage")
    stay_b = make_property(owner=owner_b, index=site_tree, title="Bakari's villa")
    guest_a, guest_b = UserFactory(name="Achieng Guest"), UserFactory(name="Baraka Guest")
    booking_a = make_booking(
        property=stay_a, guest=guest_a, status="CONFIRMED", amount_paid=10000, reference="NXAAAA2A"
    )
    booking_b = make_booking(
        property=stay_b, guest=guest_b, status="CONFIRMED", amount_paid=10000, reference="NXBBBB2B"
    )
    payment_a = make_payment(booking=booking_a, phone_number="254711111111")
    payment_b = make_payment(booking=booking_b, phone_number="254722222222")
    return {
        "owner_a": owner_a,
        "owner_b": owner_b,
        "stay_a": stay_a,
        "stay_b": stay_b,
        "guest_a": guest_a,
        "guest_b": guest_b,
        "booking_a": booking_a,
        "booking_b": booking_b,
        "payment_a": payment_a,
        "payment_b": payment_b,
        "staff": StaffFactory(name="Wanjiru Staff"),
    }


CALLBACK_TOKEN = "backoffice-callback-token-7d1e9a4c2b"


class SimulatorControl:
    """The Daraja simulator's JSON control API (mpesa/simulator), over real HTTP."""

    def __init__(self, base_url: str):
        import requests

        self.base = base_url.rstrip("/") + "/simulator/api"
        self.http = requests.Session()

    def directive(self, phone_number: str, **fields) -> dict:
        response = self.http.post(f"{self.base}/directives/", json={"phone_number": phone_number, **fields}, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()

    def respond(self, checkout_request_id: str, action: str) -> dict:
        response = self.http.post(
            f"{self.base}/prompts/{checkout_request_id}/respond/", json={"action": action}, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json()

    def prompt(self, checkout_request_id: str) -> dict:
        response = self.http.get(f"{self.base}/prompts/{checkout_request_id}/", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def simulator(live_server, settings):
    """Daraja client and callback URL pointed at the live server, which also serves the simulator."""
    from mpesa.simulator.services import deliveries_join

    settings.MPESA_ENV = "simulator"
    use_the_simulator(settings, live_server.url, callback_token=CALLBACK_TOKEN)
    control = SimulatorControl(live_server.url)
    yield control
    deliveries_join()
    control.http.close()
