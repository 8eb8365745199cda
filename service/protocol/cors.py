"""CORS for browser-based CDS clients (the CDS Hooks Sandbox calls from the browser).

Allowed origins come from `Settings.cors_allowed_origins` (`"*"` allows any); the development
profile allows any origin. Preflights list `Authorization` and `Content-Type` explicitly, because
`Access-Control-Allow-Headers: *` does not cover `Authorization`. No cookies are used, so
credentials are never allowed.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

from service.config import Settings

EXTENSION_KEY = "osteocds.cors"
ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type"
PREFLIGHT_MAX_AGE_SECONDS = 600


def install_cors(app: Flask, settings: Settings) -> None:
    """Answer preflights and add `Access-Control-Allow-Origin` for allowed origins."""
    app.extensions[EXTENSION_KEY] = settings
    app.before_request(_answer_preflight)
    app.after_request(_add_cors_headers)


def origin_allowed(origin: str | None, settings: Settings) -> bool:
    """Whether a browser page served from `origin` may call the service."""
    if not origin:
        return False
    if settings.is_development:
        return True
    allowed = settings.cors_allowed_origins
    return "*" in allowed or origin.rstrip("/") in {entry.rstrip("/") for entry in allowed}


def _answer_preflight() -> Response | None:
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return None
    response = current_app.response_class(status=204)
    origin = request.headers.get("Origin")
    if origin_allowed(origin, current_app.extensions[EXTENSION_KEY]):
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
    return response


def _add_cors_headers(response: Response) -> Response:
    origin = request.environ.get("HTTP_ORIGIN")  # the Origin header, without the header view
    _vary_on_origin(response)
    if origin_allowed(origin, current_app.extensions[EXTENSION_KEY]):
        response.headers["Access-Control-Allow-Origin"] = origin
    return response


def _vary_on_origin(response: Response) -> None:
    """Add `Origin` to `Vary` (what `response.vary.add` does, without parsing the header into a
    set and writing it back: ~20 us of every request). Most responses have no `Vary` yet: the
    header is appended without a search for one to replace (~3 us less than a lookup and a set)."""
    varies = response.headers.getlist("Vary")
    if not varies:
        response.headers.add("Vary", "Origin")
    elif "origin" not in {token.strip().lower() for vary in varies for token in vary.split(",")}:
        response.headers["Vary"] = ", ".join([*varies, "Origin"])
