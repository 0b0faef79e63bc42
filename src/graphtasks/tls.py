"""HTTPS for `graphtasks serve --tls`: a local certificate authority, made once, and a server
certificate it signs for localhost, 127.0.0.1, ::1 and the --host being served.

Clients trust the CA file (REQUESTS_CA_BUNDLE / SSL_CERT_FILE), as they would a company CA; the CA's
key stays in the TLS folder and signs nothing else. An operator's own --cert/--key bypass all this.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_CA_DAYS, _SERVER_DAYS = 3650, 825


@dataclass(frozen=True)
class TlsFiles:
    certificate: Path
    key: Path
    # The CA clients must trust; None for an operator's own certificate.
    authority: Path | None = None


def local_tls(directory: Path, host: str) -> TlsFiles:
    """The CA in `directory` (made on first use) and a fresh server certificate for `host`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert_path, ca_key_path = directory / "ca.pem", directory / "ca-key.pem"
    if not ca_cert_path.exists() or not ca_key_path.exists():
        new_key = ec.generate_private_key(ec.SECP256R1())
        _write_key(ca_key_path, new_key)
        _write_whole(ca_cert_path, _ca_certificate(new_key).public_bytes(serialization.Encoding.PEM))
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca_key_path} does not hold the EC key graphtasks makes")
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    server_key = ec.generate_private_key(ec.SECP256R1())
    certificate = _server_certificate(server_key, ca_key, ca_cert, host)
    files = TlsFiles(directory / "server.pem", directory / "server-key.pem", ca_cert_path)
    _write_key(files.key, server_key)
    _write_whole(files.certificate, certificate.public_bytes(serialization.Encoding.PEM))
    return files


def _ca_certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "graphtasks local CA")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _server_certificate(
    key: ec.EllipticCurvePrivateKey, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, host: str
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host not in {"localhost", ""}:
            names.append(x509.DNSName(host))
    else:
        if not address.is_unspecified and x509.IPAddress(address) not in names:
            names.append(x509.IPAddress(address))
    return names


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False,
        decipher_only=False,
    )  # fmt: skip


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_whole(path, pem, mode=0o600)


def _write_whole(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write `path` so that a reader sees the old file or the whole new one, never a part: clients
    read the CA file while the server starts. A key is never readable by others, not even briefly."""
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.chmod(partial, mode)  # O_CREAT's mode is reduced by the umask, and a leftover keeps its own
    os.replace(partial, path)
