"""Shared helpers for the security tests: keys, token minting, a counting loopback JWKS server."""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

BASE_URL = "https://cds.example.org"
SERVICE_PATH = "/cds-services/osteoporosis-order-select"
DISCOVERY_PATH = "/cds-services"
ISS = "https://ehr.example.org"

# The CDS Hooks 2.0 specification's own example (HL7/cds-hooks, input/pagecontent/index.md,
# "Trusting CDS Clients" > Example; research file section 1.8 / case 36).
SPEC_TOKEN = (
    "eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCIsImtpZCI6ImV4YW1wbGUta2lkIiwiamt1IjoiaHR0cHM6Ly9maGlyLWVo"
    "ci5leGFtcGxlLmNvbS9qd2tfdXJpIn0.eyJpc3MiOiJodHRwczovL2ZoaXItZWhyLmV4YW1wbGUuY29tLyIsImF1ZCI6"
    "Imh0dHBzOi8vY2RzLmV4YW1wbGUub3JnL2Nkcy1zZXJ2aWNlcy9zb21lLXNlcnZpY2UiLCJleHAiOjE0MjI1Njg4NjAs"
    "ImlhdCI6MTMxMTI4MDk3MCwianRpIjoiZWUyMmIwMjEtZTFiNy00NjExLWJhNWItOGVlYzZhMzNhYzFlIiwidGVuYW50"
    "IjoiMmRkZDZjM2EtOGU5YS00NGM2LWEzMDUtNTIxMTFhZDMwMmEyIn0.d1WfLjGRKlcWB94l9do4cM8REXeYJLL6SGUBO"
    "8VHZhfM8mwKYP70EMxJ67War4TQblEpaQrp11wx5p7oPFm2ETYgCicS84vXWEIYTdjooZdooCSDf2L8-i4awdoUwiEb"
)
SPEC_PUBLIC_JWK = {
    "kty": "EC", "use": "sig", "crv": "P-384", "kid": "example-kid",
    "x": "46SDH7Znh821wblCBglA61sNE9ZrHYKKt3qRtRTmSXyOI_FIGBLWrWa0GPUkDCEk",
    "y": "XMcRuuoGW7CXjQdy-F5i3FeBE0x9hPLdeFdSoDd3ELmx404tLX0VRRcqzAsPhXcI",
    "alg": "ES384",
}
SPEC_ISS = "https://fhir-ehr.example.com/"
SPEC_AUD = "https://cds.example.org/cds-services/some-service"
SPEC_TENANT = "2ddd6c3a-8e9a-44c6-a305-52111ad302a2"
SPEC_IAT, SPEC_EXP = 1311280970, 1422568860


class SigningKey:
    """A private key with its kid and public JWK."""

    def __init__(self, alg: str = "ES384", kid: str | None = None) -> None:
        self.alg = alg
        self.kid = kid or f"kid-{uuid.uuid4().hex[:8]}"
        if alg.startswith("ES"):
            self.private = ec.generate_private_key(ec.SECP384R1())
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(
            self.private.public_key()))
        self.public_jwk: dict[str, Any] = {**public, "kid": self.kid, "use": "sig", "alg": alg}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def token(self, claims: dict[str, Any] | None = None, *, drop: tuple[str, ...] = (),
              header: dict[str, Any] | None = None, aud: Any = BASE_URL + SERVICE_PATH,
              iss: str = ISS, now: float | None = None) -> str:
        now = time.time() if now is None else now
        payload: dict[str, Any] = {"iss": iss, "aud": aud, "iat": int(now),
                                   "exp": int(now) + 300, "jti": uuid.uuid4().hex}
        payload.update(claims or {})
        for name in drop:
            payload.pop(name, None)
        headers = {"kid": self.kid, "typ": "JWT", **(header or {})}
        headers = {k: v for k, v in headers.items() if v is not None or k == "typ"}
        return jwt.encode(payload, self.private, algorithm=self.alg, headers=headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(payload: dict[str, Any], header: dict[str, Any]) -> str:
    """A token with `alg: none` (PyJWT will not make one for us)."""
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()), ""])


def hmac_token(payload: dict[str, Any], header: dict[str, Any], secret: bytes) -> str:
    """An HS256 token: the algorithm-confusion attack signs with the public key as HMAC secret."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


class MemoryReplayStore:
    """In-process stand-in for the store's replay table (unit tests of the pure verifier)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], datetime] = {}

    def remember_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
        if (iss, jti) in self.seen:
            return False
        self.seen[(iss, jti)] = expires_at
        return True


class JwksServer:
    """A real HTTP server on 127.0.0.1 serving JWK Sets by path and counting every request.

    `delays[path]`: seconds to wait before answering; `drips[path]`: seconds between the body's
    bytes (sent one at a time, so no single read waits long); paths in `gzipped` are answered
    gzip-encoded whatever the request accepts. `accept_encodings` records what each GET asked."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.hits: Counter[str] = Counter()
        self.delays: dict[str, float] = {}
        self.drips: dict[str, float] = {}
        self.gzipped: set[str] = set()
        self.accept_encodings: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] += 1
                server.accept_encodings.append(self.headers.get("Accept-Encoding"))
                time.sleep(server.delays.get(self.path, 0))
                document = server.documents.get(self.path)
                body = json.dumps(document or {}).encode()
                self.send_response(200 if document is not None else 404)
                self.send_header("Content-Type", "application/json")
                if self.path in server.gzipped:
                    body = gzip.compress(body)
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up (its deadline passed)
                    self._send_body(body, server.drips.get(self.path))

            def _send_body(self, body: bytes, drip: float | None) -> None:
                if drip is None:
                    self.wfile.write(body)
                    return
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(drip)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def total_hits(self) -> int:
        return sum(self.hits.values())

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


FHIR_SERVER = "https://fhir.example.org/r4"
PATIENT_ID = "pat-1"


def hook_request(hook: str = "order-select", **overrides: Any) -> dict[str, Any]:
    """A valid CDS Hooks 2.0 request with full prefetch for a made-up patient."""
    medication = {
        "resourceType": "MedicationRequest", "id": "draft-1", "status": "draft",
        "intent": "order", "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "medicationCodeableConcept": {"coding": [
            {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "2105835"}]},
    }
    context: dict[str, Any] = {"userId": "Practitioner/doc-1", "patientId": PATIENT_ID}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": medication}]}
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/draft-1"]
    request: dict[str, Any] = {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": context,
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": PATIENT_ID, "gender": "female",
                        "birthDate": "1948-03-02",
                        "name": [{"family": "Quillfeather", "given": ["Ottoline"]}]},
            "conditions": {"resourceType": "Bundle", "type": "searchset", "entry": []},
            "observations": {"resourceType": "Bundle", "type": "searchset", "entry": []},
            "medicationStatements": {"resourceType": "Bundle", "type": "searchset", "entry": []},
            "medicationRequests": {"resourceType": "Bundle", "type": "searchset", "entry": []},
            "medicationAdministrations": None,
        },
    }
    request.update(overrides)
    return request
