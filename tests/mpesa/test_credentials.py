"""SecurityCredential: the initiator password encrypted with the certificate's public key
(RSA PKCS#1 v1.5, base64), and the simulator's own key pair that decrypts it."""

import base64
import os
import stat
import subprocess
import sys
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding

from mpesa.credentials import CredentialUnavailable, security_credential
from mpesa.simulator.keys import CERTIFICATE_NAME, PRIVATE_KEY_NAME, decrypt_credential, ensure_key_pair
from tests.processes import ROOT

PASSWORD = "Safaricom999!*!"


@pytest.fixture
def key_dir(tmp_path, settings):
    folder = tmp_path / "keys"
    settings.MPESA_SIMULATOR_KEY_DIR = str(folder)
    settings.MPESA_CERTIFICATE_PATH = str(folder / CERTIFICATE_NAME)
    settings.MPESA_INITIATOR_PASSWORD = PASSWORD
    return folder


def _decrypt(folder, credential: str) -> str:
    key = serialization.load_pem_private_key((folder / PRIVATE_KEY_NAME).read_bytes(), password=None)
    return key.decrypt(base64.b64decode(credential), padding.PKCS1v15()).decode()


def test_the_simulator_makes_its_key_pair_once_with_a_private_key_only_its_owner_reads(key_dir):
    private_path, certificate_path = ensure_key_pair()
    assert (private_path, certificate_path) == (key_dir / PRIVATE_KEY_NAME, key_dir / CERTIFICATE_NAME)
    assert stat.S_IMODE(os.stat(private_path).st_mode) == 0o600
    certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
    assert certificate.issuer == certificate.subject  # self-signed
    first = certificate_path.read_bytes()
    ensure_key_pair()
    assert certificate_path.read_bytes() == first  # not made again


def test_concurrent_first_use_ends_with_one_matching_pair(key_dir):
    errors = []

    def make():
        try:
            ensure_key_pair()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert _decrypt(key_dir, security_credential()) == PASSWORD  # key and certificate belong together
    assert not [p for p in key_dir.iterdir() if p.name.endswith(".tmp")]


def test_processes_racing_on_first_use_agree_on_one_pair(key_dir):
    code = "import sys; from mpesa.simulator.keys import ensure_key_pair; ensure_key_pair(sys.argv[1])"
    racers = [
        subprocess.Popen([sys.executable, "-c", code, str(key_dir)], cwd=ROOT, env={**os.environ})
        for _ in range(3)
    ]
    assert [racer.wait(timeout=60) for racer in racers] == [0, 0, 0]
    assert _decrypt(key_dir, security_credential()) == PASSWORD


def test_under_the_simulator_the_certificate_is_made_on_first_use_and_decrypts_round_trip(key_dir, settings):
    settings.MPESA_ENV = "simulator"
    assert not key_dir.exists()
    credential = security_credential()
    assert (key_dir / CERTIFICATE_NAME).exists()
    assert decrypt_credential(credential) == PASSWORD
    assert _decrypt(key_dir, credential) == PASSWORD


def test_the_credential_differs_every_call(key_dir):
    ensure_key_pair()
    first, second = security_credential(), security_credential()
    assert first != second  # random PKCS#1 v1.5 padding
    assert _decrypt(key_dir, first) == _decrypt(key_dir, second) == PASSWORD
    assert len(base64.b64decode(first)) == 256  # one 2048-bit RSA block


def test_a_der_certificate_works_too(key_dir, settings):
    _, certificate_path = ensure_key_pair()
    certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
    der = key_dir / "certificate.cer"
    der.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    settings.MPESA_CERTIFICATE_PATH = str(der)
    assert _decrypt(key_dir, security_credential()) == PASSWORD


def test_a_bare_public_key_works_too(key_dir, settings):
    _, certificate_path = ensure_key_pair()
    public = x509.load_pem_x509_certificate(certificate_path.read_bytes()).public_key()
    pem = key_dir / "public.pem"
    pem.write_bytes(
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    settings.MPESA_CERTIFICATE_PATH = str(pem)
    assert _decrypt(key_dir, security_credential()) == PASSWORD


def test_a_missing_or_unusable_certificate_is_credential_unavailable(key_dir, settings, tmp_path):
    settings.MPESA_ENV = "sandbox"  # nobody makes the file for us outside the simulator
    settings.MPESA_CERTIFICATE_PATH = str(tmp_path / "nowhere.cer")
    with pytest.raises(CredentialUnavailable, match="Cannot read the M-Pesa certificate"):
        security_credential()
    garbage = tmp_path / "garbage.cer"
    garbage.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    settings.MPESA_CERTIFICATE_PATH = str(garbage)
    with pytest.raises(CredentialUnavailable, match="not an X.509 certificate"):
        security_credential()
    settings.MPESA_CERTIFICATE_PATH = ""
    with pytest.raises(CredentialUnavailable, match="MPESA_CERTIFICATE_PATH is not set"):
        security_credential()
    assert issubclass(CredentialUnavailable, RuntimeError)


def test_no_password_is_credential_unavailable(key_dir, settings):
    ensure_key_pair()
    settings.MPESA_INITIATOR_PASSWORD = ""
    with pytest.raises(CredentialUnavailable, match="MPESA_INITIATOR_PASSWORD"):
        security_credential()


def test_a_credential_from_another_key_does_not_decrypt(key_dir, tmp_path):
    _, other_certificate = ensure_key_pair(tmp_path / "other")
    ensure_key_pair()
    foreign = security_credential(certificate_path=str(other_certificate))
    assert decrypt_credential(foreign) is None
    assert decrypt_credential("not base64 at all!") is None
