"""A misbehaving FHIR server for fault tests: one mode per path prefix.

`http://127.0.0.1:<port>/<mode>` is a fhirServer base URL whose every request misbehaves:
stall (headers, then a body that never comes), drip (one byte every 0.2 s), silent (accepts and
never answers), status-500, status-401, status-403, status-503, garbage (200, not JSON),
patient (200, a Patient where a Bundle is expected), endless (a new next link on every page),
repeat (next link to itself), foreign-next (next link on another origin and path), redirect
(302 to another host).

`running_stub_server()` is a well-behaved one for the TLS and connection-pool tests: HTTP/1.1
keep-alive (so the client pools its connections), optionally https with a certificate from a CA
the test makes (`make_test_ca`), optionally slow, counting the TCP connections it accepts.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import StreamRequestHandler, ThreadingTCPServer

from tests.threads import serving

EMPTY_BUNDLE = {"resourceType": "Bundle", "type": "searchset", "entry": []}


class _Handler(StreamRequestHandler):
    server: _FaultServer

    def handle(self) -> None:
        request_line = self.rfile.readline().decode("latin-1").strip()
        headers = {}
        while True:
            line = self.rfile.readline().decode("latin-1").strip()
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
        path = request_line.split(" ")[1] if " " in request_line else "/"
        self.server.seen.append((path, headers.get("authorization")))
        mode = path.strip("/").split("/")[0].split("?")[0]
        getattr(self, f"mode_{mode.replace('-', '_')}", self.mode_unknown)(path)

    def _send(self, status: int, body: bytes, extra: str = "") -> None:
        head = (f"HTTP/1.1 {status} X\r\nContent-Type: application/fhir+json\r\n"
                f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n")
        self.wfile.write(head.encode() + body)

    def _bundle(self, next_url: str | None) -> None:
        bundle = dict(EMPTY_BUNDLE)
        if next_url:
            bundle["link"] = [{"relation": "next", "url": next_url}]
        self._send(200, json.dumps(bundle).encode())

    def _hold(self) -> None:
        self.server.stop.wait(30)

    def mode_stall(self, path: str) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        self.wfile.flush()
        self._hold()

    def mode_drip(self, path: str) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{")
        while not self.server.stop.wait(0.2):
            try:
                self.wfile.write(b" ")
                self.wfile.flush()
            except OSError:
                return

    def mode_silent(self, path: str) -> None:
        self._hold()

    def mode_status_403(self, path: str) -> None:
        self._send(403, b'{"resourceType": "OperationOutcome"}')

    def mode_status_500(self, path: str) -> None:
        self._send(500, b'{"resourceType":"OperationOutcome"}')

    def mode_status_401(self, path: str) -> None:
        self._send(401, b'{"resourceType":"OperationOutcome"}')

    def mode_status_503(self, path: str) -> None:
        self._send(503, b"")

    def mode_garbage(self, path: str) -> None:
        self._send(200, b"<html>not json{")

    def mode_sign_in_page(self, path: str) -> None:
        body = b"<!DOCTYPE html><html><body><form>Sign in</form></body></html>"
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        self.wfile.write(head.encode() + body)

    def mode_patient(self, path: str) -> None:
        self._send(200, b'{"resourceType":"Patient","id":"x"}')

    def mode_endless(self, path: str) -> None:
        self.server.counter += 1
        self._bundle(f"{self.server.base}/endless/Condition?page={self.server.counter}")

    def mode_repeat(self, path: str) -> None:
        self._bundle(f"{self.server.base}/repeat/Condition?page=same")

    def mode_foreign_next(self, path: str) -> None:
        self._bundle("https://elsewhere.example/other/Condition?page=2")

    def mode_redirect(self, path: str) -> None:
        self._send(302, b"", "Location: http://elsewhere.example/fhir/Condition\r\n")

    def mode_unknown(self, path: str) -> None:
        self._send(404, b"")


class _FaultServer(ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stop = threading.Event()
        self.seen: list[tuple[str, str | None]] = []
        self.counter = 0
        self.base = f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def running_fault_server() -> Iterator[_FaultServer]:
    """Serve in a background thread; stop every held connection at the end."""
    with serving(_FaultServer()) as server:
        yield server


# ---- a well-behaved keep-alive FHIR stub, optionally over TLS ------------------------------


class _StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client's pool reuses connections
    server: _StubServer

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:
        if self.server.delay:
            time.sleep(self.server.delay)
        path = self.path.split("?", 1)[0].rstrip("/")
        last = path.rsplit("/", 1)[-1]
        if "?" not in self.path and path.rsplit("/", 2)[-2:-1] == ["Patient"]:
            body = {"resourceType": "Patient", "id": last, "gender": "female",
                    "birthDate": "1950-06-15"}
        elif last == "metadata":
            body = {"resourceType": "CapabilityStatement", "rest": [{"mode": "server"}]}
        else:
            body = EMPTY_BUNDLE
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return None


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext | None, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _StubHandler)
        self.lock = threading.Lock()
        self.connections = 0
        self.delay = delay
        self.context = context
        scheme = "https" if context is not None else "http"
        self.base = f"{scheme}://127.0.0.1:{self.server_address[1]}/fhir"

    def get_request(self):  # type: ignore[no-untyped-def]
        sock, address = super().get_request()
        if self.context is None:
            return sock, address
        # the handshake happens in the handler's thread (on first read), not in the accept loop
        return self.context.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False), address

    def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
        return None  # a client refusing the certificate breaks the handshake: expected


@contextmanager
def running_stub_server(*, certificate: CertificateFiles | None = None,
                        delay: float = 0.0) -> Iterator[_StubServer]:
    """A keep-alive FHIR stub on 127.0.0.1: a Patient for `Patient/<id>`, an empty searchset
    for every search; https with `certificate`'s server certificate when given."""
    context = None
    if certificate is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate.server_cert, certificate.server_key)
    with serving(_StubServer(context, delay)) as server:
        yield server


@dataclass(frozen=True)
class CertificateFiles:
    """PEM files: a test CA (`ca_cert`) and a server certificate for 127.0.0.1 it signed."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_test_ca(directory: Path) -> CertificateFiles:
    """A private CA and a server certificate (SAN IP 127.0.0.1) signed by it, as a hospital's
    internal PKI would issue; valid from an hour ago for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "osteocds test hospital CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = CertificateFiles(directory / "ca.pem", directory / "server.pem",
                             directory / "server-key.pem")
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return files
