"""The socket under a streamed `requests` response, for the clients that re-arm its timeout before
every read (the FHIR client, the JWK Set download), so a server dripping bytes cannot stretch a
deadline."""

from __future__ import annotations

from typing import Any

import requests


def socket_of(response: requests.Response) -> Any:
    """The response's socket (urllib3 2 keeps it on its connection), or None once closed."""
    connection = getattr(response.raw, "connection", None) or getattr(
        response.raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        return sock
    fp = getattr(getattr(response.raw, "_fp", None), "fp", None)
    return getattr(getattr(fp, "raw", None), "_sock", None)
