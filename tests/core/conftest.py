# The moto S3 server and the per-test buckets for the object-storage tests (tests/s3.py).
from tests.s3 import moto_s3, s3_media  # noqa: F401
