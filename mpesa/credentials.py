"""Daraja's SecurityCredential for B2C, B2B, Reversal and Transaction Status.

It is the initiator's password encrypted with Safaricom's public certificate (sandbox and
production certificates differ; MPESA_CERTIFICATE_PATH points at the right one) with RSA
PKCS#1 v1.5 padding, then base64 (docs/daraja.md). The padding is random, so it is computed
for every request and differs each time. Under the simulator the certificate is the
simulator's own, generated on first use (mpesa.simulator.keys).
"""

import base64
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings


class CredentialUnavailable(RuntimeError):
    """No SecurityCredential can be made: no password, or no usable certificate."""


def _public_key_of(data: bytes, path: str) -> rsa.RSAPublicKey:
    """The RSA public key in a PEM or DER X.509 certificate, or in a bare public key file."""
    loaders = (
        lambda: x509.load_pem_x509_certificate(data).public_key(),
        lambda: x509.load_der_x509_certificate(data).public_key(),
        lambda: serialization.load_pem_public_key(data),
        lambda: serialization.load_der_public_key(data),
    )
    for load in loaders:
        try:
            key = load()
        except (ValueError, TypeError):
            continue
        if isinstance(key, rsa.RSAPublicKey):
            return key
        raise CredentialUnavailable(f"The certificate at {path} does not hold an RSA public key.")
    raise CredentialUnavailable(f"The file at {path} is not an X.509 certificate or a public key.")


def certificate_public_key(path: str | None = None) -> rsa.RSAPublicKey:
    path = str(path if path is not None else settings.MPESA_CERTIFICATE_PATH or "")
    if not path:
        raise CredentialUnavailable("MPESA_CERTIFICATE_PATH is not set.")
    if not Path(path).exists() and settings.MPESA_ENV == "simulator":
        # The simulator writes its certificate on first use; `make run` points here.
        from mpesa.simulator.keys import ensure_key_pair

        ensure_key_pair()
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise CredentialUnavailable(
            f"Cannot read the M-Pesa certificate at {path} ({error.strerror or type(error).__name__})."
        ) from error
    return _public_key_of(data, path)


def security_credential(*, password: str | None = None, certificate_path: str | None = None) -> str:
    """base64(RSA-PKCS#1 v1.5(initiator password)) with the configured certificate.

    Raises CredentialUnavailable when the password or the certificate is missing or unusable.
    """
    secret = password if password is not None else settings.MPESA_INITIATOR_PASSWORD
    if not secret:
        raise CredentialUnavailable("MPESA_INITIATOR_PASSWORD is not set.")
    key = certificate_public_key(certificate_path)
    try:
        encrypted = key.encrypt(secret.encode(), padding.PKCS1v15())
    except ValueError as error:  # longer than the key can hold
        raise CredentialUnavailable(f"The initiator password cannot be encrypted: {error}") from error
    return base64.b64encode(encrypted).decode()
