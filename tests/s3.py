"""A real S3 API on loopback for the storage tests: moto in server mode, started from this venv.

`moto_s3` (session) starts `python -m moto.server` on a free 127.0.0.1 port. `s3_media` (per
test) creates a fresh public and private bucket there, gives the public one the policy the
README asks for (anonymous reads of original_images/ and images/ only), and switches
STORAGES to them exactly as MEDIA_STORAGE=s3 would (core.storage.s3_storages), so Django's
cached storages, default_storage and the ID-photo field's storage all point at moto.
"""

import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import pytest
import requests

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def public_read_policy(bucket: str) -> str:
    import json

    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicImages",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": [f"arn:aws:s3:::{bucket}/original_images/*", f"arn:aws:s3:::{bucket}/images/*"],
                }
            ],
        }
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_s3():
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {process.stderr.read().decode()[-2000:]}")
            try:
                requests.get(endpoint + "/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not answer within 30 s")
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class S3Media:
    endpoint: str
    public_bucket: str
    private_bucket: str
    client: object  # a boto3 S3 client with the same credentials as the app

    def keys(self, bucket: str) -> set[str]:
        return {obj["Key"] for obj in self.client.list_objects_v2(Bucket=bucket).get("Contents", [])}

    def object_url(self, bucket: str, key: str) -> str:
        return f"{self.endpoint}/{bucket}/{key}"


@pytest.fixture
def s3_media(moto_s3, settings, tmp_path):
    import boto3

    from core.storage import s3_storages

    suffix = uuid.uuid4().hex[:10]
    environ = {
        **CREDENTIALS,
        "MEDIA_STORAGE": "s3",
        "AWS_S3_ENDPOINT_URL": moto_s3,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_STORAGE_BUCKET_NAME": f"nexus-public-{suffix}",
        "PRIVATE_STORAGE_BUCKET_NAME": f"nexus-private-{suffix}",
    }
    client = boto3.client(
        "s3",
        endpoint_url=moto_s3,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=environ["AWS_STORAGE_BUCKET_NAME"])
    client.put_bucket_policy(
        Bucket=environ["AWS_STORAGE_BUCKET_NAME"], Policy=public_read_policy(environ["AWS_STORAGE_BUCKET_NAME"])
    )
    client.create_bucket(Bucket=environ["PRIVATE_STORAGE_BUCKET_NAME"])

    # Local folders that must stay empty: nothing may land on the disk in S3 mode.
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.MEDIA_STORAGE = "s3"
    # Assigning STORAGES fires setting_changed, which empties Django's storage cache and
    # default_storage; the ID-photo field looks STORAGES["private"] up on every call.
    settings.STORAGES = {**settings.STORAGES, **s3_storages(environ)}
    yield S3Media(
        endpoint=moto_s3,
        public_bucket=environ["AWS_STORAGE_BUCKET_NAME"],
        private_bucket=environ["PRIVATE_STORAGE_BUCKET_NAME"],
        client=client,
    )
