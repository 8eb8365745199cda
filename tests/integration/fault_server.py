"""A misbehaving FHIR server for fault tests: one mode per path prefix.

`http://127.0.0.1:<port>/<mode>` is a fhirServer base URL whose every request misbehaves:
stall (headers, then a body that never comes), drip (one byte every 0.2 s), silent (accepts and
never answers), status-500, status-401, status-403, status-503, garbage (200, not JSON),
patient (200, a Patient where a Bundle is expected), endless (a new next link on every page),
repeat (next link to itself), foreign-next (next link on another origin and path), redirect
(302 to another host).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
