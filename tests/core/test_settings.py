import os
import subprocess
import sys

import pytest
from django.core.management import call_command

from tests.processes import ROOT

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "nexus.settings.production",
    "SECRET_KEY": "test-Zq8w3XfK2mVb9LrT6yHn4JcP1sDg7EaU5oWiQx0kBzR-long-enough-2026",
    "MPESA_CALLBACK_TOKEN": "test-callback-token-0123456789abcdef",
    "ALLOWED_HOSTS": "nexus.example.com",
    # No Daraja credentials here; production refuses the simulator unless told
    # (tests/core/test_security_settings.py).
    "ALLOW_SIMULATOR_IN_PRODUCTION": "1",
}


def _manage(*args, env_overrides):
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment never has it.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MPESA_", "DJANGO_"))}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_check_deploy():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"MPESA_CALLBACK_TOKEN": "short"}, "MPESA_CALLBACK_TOKEN must be a long random string"),
        ({"MPESA_ENV": "production"}, "MPESA_CONSUMER_KEY must be set"),
        (
            {
                "MPESA_ENV": "production",
                "MPESA_CONSUMER_KEY": "k",
                "MPESA_CONSUMER_SECRET": "s",
                "MPESA_SHORTCODE": "600000",
                "MPESA_PASSKEY": "p",
                "MPESA_CALLBACK_BASE_URL": "http://nexus.example.com",
            },
            "MPESA_INITIATOR_NAME must be set",
        ),
        (
            {
                "MPESA_ENV": "production",
                "MPESA_CONSUMER_KEY": "k",
                "MPESA_CONSUMER_SECRET": "s",
                "MPESA_SHORTCODE": "600000",
                "MPESA_PASSKEY": "p",
                "MPESA_INITIATOR_NAME": "nexus-api",
                "MPESA_INITIATOR_PASSWORD": "initiator-password",
                "MPESA_CERTIFICATE_PATH": "/etc/secrets/mpesa-certificate.cer",
                "MPESA_CALLBACK_BASE_URL": "http://nexus.example.com",
            },
            "must be an https:// origin",
        ),
    ],
)
def test_production_refuses_to_start_without_secrets_or_https(overrides, message):
    result = _manage("check", env_overrides={**PRODUCTION_ENV, **overrides})
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.django_db
def test_seed_demo_twice_leaves_the_same_data(settings):
    from accounts.models import User
    from wagtail.models import Page

    settings.DEBUG = True
    call_command("seed_demo")
    first = (User.objects.count(), Page.objects.count(), sorted(User.objects.values_list("email", "role")))
    call_command("seed_demo")
    second = (User.objects.count(), Page.objects.count(), sorted(User.objects.values_list("email", "role")))
    assert first == second
    assert first[0] == 5


@pytest.mark.django_db
def test_seed_demo_refuses_without_debug(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo")
