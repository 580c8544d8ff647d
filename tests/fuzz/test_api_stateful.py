"""schemathesis's stateful phase against a live server: sequences of calls that follow the
schema's links (core.schema.add_links), as a guest with a token, with M-Pesa answered by the
Daraja simulator over HTTP on the same server.

Asserted: no answer is a 5xx, and every operation of the booking flow (create a booking ->
read / cancel / add a guest / pay / read its payments and cancellation terms -> read a
payment) answers 2xx at least once. The reachability table is printed (pytest -s).

Generated dates are almost never free future dates, so the machine would rarely hold a
booking to follow links from: before each "create booking" call the case gets the listing's
id and a free range (what a real client does after a search), and each payment the stay's
price (between the deposit and the balance); everything else is generated.
"""

import itertools
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token

from core.models import RateCounter

from tests.daraja import use_the_simulator
from tests.factories import UserFactory, future_date, make_property

pytestmark = pytest.mark.django_db(transaction=True)

CALLBACK_TOKEN = "stateful-callback-token-5b1e9c7d3a2f8e46"
BOOKING_FLOW = [
    "booking_list_create_post",
    "booking_detail",
    "booking_cancel",
    "booking_cancellation",
    "booking_guest_create",
    "booking_payment_list_create_post",
    "booking_payment_list_create",
    "payment_detail",
]
# The booking flow and what leads to it; accounts (register, delete) and hosts' operations
# are left to the other fuzzers.
OPERATIONS = [*BOOKING_FLOW, "booking_list_create", "booking_refund_list", "property_list", "property_detail",
              "property_quote", "property_availability", "me"]
STATEFUL_SETTINGS = settings(
    max_examples=30,
    stateful_step_count=10,
    deadline=None,
    derandomize=True,  # the same scenarios on every run
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure prints its call log anyway
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def simulated_daraja(live_server, settings):
    """The live server's M-Pesa settings point at its own Daraja simulator (as the browser tests' live_site)."""
    use_the_simulator(settings, live_server.url, callback_token=CALLBACK_TOKEN)
    yield live_server
    from mpesa.simulator.services import deliveries_join

    deliveries_join()


def test_following_the_schema_links_reaches_the_whole_booking_flow_without_a_5xx(simulated_daraja):
    from django.core.cache import cache

    live_server = simulated_daraja
    scenarios = itertools.count()
    schema = schemathesis.openapi.from_url(live_server.url + "/api/schema/").include(operation_id=OPERATIONS)
    reached: Counter = Counter()
    called: Counter = Counter()
    statuses: dict[str, Counter] = {op: Counter() for op in OPERATIONS}
    server_errors: list[str] = []

    class BookingFlow(schema.as_state_machine()):
        def setup(self):
            # Hypothesis replays choice sequences and refuses ("Inconsistent data generation")
            # one that meets a different answer than before: each scenario starts from the same
            # server state, i.e. its own guest and listing (free dates, no payment pending on
            # the simulator's phones) and the same dates for the bookings it creates.
            from mpesa.simulator.models import SimulatedStkPush
            from mpesa.simulator.services import deliveries_join

            deliveries_join()
            SimulatedStkPush.objects.all().delete()
            cache.clear()
            number = next(scenarios)
            self.guest = UserFactory(phone_number=f"+25471{number:07d}")
            self.token = Token.objects.create(user=self.guest).key
            self.place = make_property(price_per_night=3000, max_guests=50, min_nights=1)
            self.starts = itertools.count(10, 3)

        def before_call(self, case):
            # Throttles (the cache's and core.models.RateCounter's): the machine is one client making many calls quickly.
            cache.clear()
            RateCounter.objects.all().delete()
            operation_id = case.operation.definition.raw.get("operationId")
            if operation_id == "booking_list_create_post" and isinstance(case.body, dict):
                start = future_date(next(self.starts))
                case.body.update(property=self.place.pk, check_in=start.isoformat(),
                                 check_out=future_date((start - future_date(0)).days + 2).isoformat())
            if operation_id == "booking_payment_list_create_post" and isinstance(case.body, dict):
                # The whole stay (2 nights): any smaller amount may be under the deposit, any larger over the balance.
                case.body["amount"] = 2 * self.place.price_per_night

        def get_call_kwargs(self, case):
            # schemathesis' default 10 s timeout can pass on a loaded machine (a payment also calls
            # the simulator): a timed-out step would end the scenario and make its replay inconsistent.
            return {"headers": {"Authorization": f"Token {self.token}"}, "timeout": 60}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            operation_id = case.operation.definition.raw.get("operationId")
            called[operation_id] += 1
            statuses[operation_id][response.status_code] += 1
            if 200 <= response.status_code < 300:
                reached[operation_id] += 1
            if response.status_code >= 500:
                server_errors.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

    BookingFlow.run(settings=STATEFUL_SETTINGS)

    table = "\n".join(
        f"  {'reached' if reached[op] else 'NOT reached':12} {op}: {reached[op]} x 2xx of {called[op]} calls "
        f"{dict(sorted(statuses[op].items()))}"
        for op in OPERATIONS
    )
    flow_reached = sum(1 for op in BOOKING_FLOW if reached[op])
    print(f"\nbooking flow operations reached with a 2xx: {flow_reached}/{len(BOOKING_FLOW)}; "
          f"calls made: {sum(called.values())}\n{table}")
    assert not server_errors, "\n".join(server_errors[:10])
    assert flow_reached == len(BOOKING_FLOW), table
