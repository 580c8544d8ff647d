import pytest
from rest_framework.test import APIClient

from tests.factories import OwnerFactory, StaffFactory, UserFactory


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """Django leaves a request's language active in the thread that served it (the test
    client runs views in the test's thread), so one /sw/ request would make every later
    reverse() and page.url in that worker Kiswahili. Each test starts and ends in English."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.activate("en")


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


# Figures a test records with record_property("summary", text) (the scale-out proof's counts)
# are printed at the end of the run: test output is captured, and xdist workers' output is
# not shown at all, but their reports reach this process.
_recorded_summaries: list[str] = []


def pytest_runtest_logreport(report):
    if report.when == "call":
        _recorded_summaries.extend(value for name, value in report.user_properties if name == "summary")


def pytest_terminal_summary(terminalreporter):
    if _recorded_summaries:
        terminalreporter.section("recorded summaries")
        for summary in _recorded_summaries:
            terminalreporter.write_line(summary)


from tests.chromium import chromium, chromium_profile, playwright_driver  # noqa: E402,F401 (the shared browser fixtures)
from tests.ical_server import ical_server  # noqa: E402,F401 (a local HTTP server for the calendar import tests)


@pytest.fixture(scope="session")
def _simulator_key_pair(tmp_path_factory):
    """The Daraja simulator's RSA key pair, made once per test process (RSA generation is
    slow); the `simulator` fixture (tests/mpesa/conftest.py) gives each test its own copy."""
    from mpesa.simulator.keys import ensure_key_pair

    return ensure_key_pair(tmp_path_factory.mktemp("simulator-keys"))
