"""The simulator's own RSA key pair and self-signed certificate.

Daraja's SecurityCredential is the initiator password encrypted with Safaricom's public
certificate; the simulator plays Safaricom, so it needs a key pair of its own: Nexus
encrypts with the certificate (MPESA_CERTIFICATE_PATH points at it under the simulator)
and the simulator decrypts with the private key to check the password.

Both files are made on first use under MPESA_SIMULATOR_KEY_DIR. Several processes (runserver,
qcluster, test workers) may all use them first at once, so generation is serialised with
an exclusive lock on a lock file, each file is written to a temporary name and renamed into
place (nobody ever reads half a file), and the certificate is written last: a certificate
that exists always has its private key next to it.
"""

import base64
import binascii
import datetime as dt
import fcntl
import os
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.conf import settings

PRIVATE_KEY_NAME = "private_key.pem"
CERTIFICATE_NAME = "certificate.pem"
KEY_SIZE = 2048
VALID_DAYS = 3650


def key_dir() -> Path:
    return Path(settings.MPESA_SIMULATOR_KEY_DIR)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _generate() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Nexus Daraja simulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Nexus Daraja simulator"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .sign(key, hashes.SHA256())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return private_pem, certificate.public_bytes(serialization.Encoding.PEM)


def ensure_key_pair(directory: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """(private key path, certificate path), generating both on first use. Safe when several
    processes or threads call it at once: they all end with the same pair."""
    folder = Path(directory) if directory is not None else key_dir()
    private_path, certificate_path = folder / PRIVATE_KEY_NAME, folder / CERTIFICATE_NAME
    if private_path.exists() and certificate_path.exists():
        return private_path, certificate_path
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".keys.lock", "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            # Someone else may have made them while we waited for the lock.
            if not (private_path.exists() and certificate_path.exists()):
                private_pem, certificate_pem = _generate()
                _write_atomically(private_path, private_pem, 0o600)
                _write_atomically(certificate_path, certificate_pem, 0o644)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return private_path, certificate_path


def private_key(directory: str | os.PathLike | None = None) -> rsa.RSAPrivateKey:
    private_path, _ = ensure_key_pair(directory)
    return serialization.load_pem_private_key(private_path.read_bytes(), password=None)


def decrypt_credential(credential: str, directory: str | os.PathLike | None = None) -> str | None:
    """The password inside a SecurityCredential, or None when it is not one made with our
    certificate (not base64, wrong key, wrong padding, not text)."""
    try:
        encrypted = base64.b64decode(str(credential or "").strip(), validate=True)
        return private_key(directory).decrypt(encrypted, padding.PKCS1v15()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
