"""MEDIA_STORAGE chooses where uploads live (core/storage.py); settings load in a subprocess
with an explicit environment, so this test run's own variables play no part."""

import json
import os
import subprocess
import sys

import pytest

from tests.processes import ROOT

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "nexus.settings.production",
    "SECRET_KEY": "test-Zq8w3XfK2mVb9LrT6yHn4JcP1sDg7EaU5oWiQx0kBzR-long-enough-2026",
    "MPESA_CALLBACK_TOKEN": "test-callback-token-0123456789abcdef",
    "ALLOWED_HOSTS": "nexus.example.com",
    "ALLOW_SIMULATOR_IN_PRODUCTION": "1",
}
S3_ENV = {
    "MEDIA_STORAGE": "s3",
    "AWS_S3_ENDPOINT_URL": "https://0123456789abcdef.r2.cloudflarestorage.com",
    "AWS_ACCESS_KEY_ID": "key-id",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_S3_REGION_NAME": "auto",
    "AWS_STORAGE_BUCKET_NAME": "nexus-media",
    "PRIVATE_STORAGE_BUCKET_NAME": "nexus-private",
    "AWS_S3_CUSTOM_DOMAIN": "media.nexus.example.com",
}
PRINT_STORAGES = (
    "import json; from django.conf import settings; from django.core.files.storage import storages; "
    "print(json.dumps({'settings': settings.STORAGES, 'url': storages['default'].url('images/a.jpg')}))"
)


def _run(args: list[str], **values: str) -> subprocess.CompletedProcess:
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env.update(values)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _storages(**values: str) -> dict:
    result = _run(["manage.py", "shell", "-c", PRINT_STORAGES], **values)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_filesystem_is_the_default_everywhere():
    for module in ("nexus.settings.dev", "nexus.settings.production"):
        env = {**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": module}
        storages = _storages(**env)["settings"]
        assert storages["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
        assert storages["private"]["BACKEND"] == "accounts.storage.PrivateFileSystemStorage"


def test_s3_settings_use_two_buckets_without_acls_and_plain_links():
    result = _storages(**PRODUCTION_ENV, **S3_ENV)
    default, private = result["settings"]["default"], result["settings"]["private"]
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    assert private["BACKEND"] == "accounts.storage.PrivateS3Storage"
    assert default["OPTIONS"]["bucket_name"] == "nexus-media"
    assert private["OPTIONS"]["bucket_name"] == "nexus-private"
    for options in (default["OPTIONS"], private["OPTIONS"]):
        assert options["default_acl"] is None  # R2 refuses ACLs
        assert options["endpoint_url"] == S3_ENV["AWS_S3_ENDPOINT_URL"]
        assert options["addressing_style"] == "path"
    assert "custom_domain" not in private["OPTIONS"]
    assert result["url"] == "https://media.nexus.example.com/images/a.jpg"


def test_production_with_s3_passes_check_deploy():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION_ENV, **S3_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"PRIVATE_STORAGE_BUCKET_NAME": ""}, "needs AWS_STORAGE_BUCKET_NAME (public media) and PRIVATE_STORAGE"),
        ({"AWS_STORAGE_BUCKET_NAME": ""}, "needs AWS_STORAGE_BUCKET_NAME (public media) and PRIVATE_STORAGE"),
        ({"PRIVATE_STORAGE_BUCKET_NAME": "nexus-media"}, "must be a bucket of its own"),
        ({"MEDIA_STORAGE": "ftp"}, "MEDIA_STORAGE must be one of filesystem, s3"),
    ],
)
def test_s3_settings_refuse_to_start_half_configured(overrides, message):
    result = _run(["manage.py", "check"], **{**PRODUCTION_ENV, **S3_ENV, **overrides})
    assert result.returncode != 0
    assert message in result.stderr


def test_production_on_render_with_filesystem_media_is_warned_not_stopped():
    on_render = {**PRODUCTION_ENV, "RENDER": "true"}
    result = _run(["manage.py", "check", "--deploy"], **on_render)
    assert result.returncode == 0, result.stdout + result.stderr  # a warning, not an error
    assert "nexus.W001" in result.stderr + result.stdout
    assert "MEDIA_STORAGE=s3" in result.stderr + result.stdout

    result = _run(["manage.py", "check", "--deploy"], **on_render, **S3_ENV)
    assert "nexus.W001" not in result.stderr + result.stdout


def test_render_blueprint_puts_web_and_worker_media_in_buckets_with_secrets_unsynced():
    import yaml

    blueprint = yaml.safe_load((ROOT / "render.yaml").read_text())
    services = {service["name"]: service for service in blueprint["services"]}
    for name in ("nexus-web", "nexus-worker"):
        variables = {entry["key"]: entry for entry in services[name]["envVars"] if "key" in entry}
        assert variables["MEDIA_STORAGE"]["value"] == "s3", name
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_STORAGE_BUCKET_NAME", "PRIVATE_STORAGE_BUCKET_NAME"):
            assert variables[key].get("sync") is False and "value" not in variables[key], (name, key)
