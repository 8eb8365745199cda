"""Conformance case 40: CORS preflight lists Authorization and Content-Type explicitly."""

from __future__ import annotations

import json

from tests.conftest import post_json
from tests.protocol.examples import hook_request, no_cards

PATH = "/cds-services/osteoporosis-order-select"
PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}


def preflight(client, origin):
    return client.options(PATH, headers={**PREFLIGHT, "Origin": origin})


def test_allowed_origin_gets_an_explicit_preflight(make_app) -> None:
    client = make_app(cors_allowed_origins=("https://sandbox.cds-hooks.org",)).test_client()
    response = preflight(client, "https://sandbox.cds-hooks.org")
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"
    header = response.headers["Access-Control-Allow-Headers"]
    allowed = [name.strip().lower() for name in header.split(",")]
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert "*" not in response.headers["Access-Control-Allow-Headers"]
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_development_profile_allows_any_origin_on_every_answer(make_app) -> None:
    client = make_app(card_producers=[no_cards]).test_client()
    origin = "http://localhost:3000"
    assert preflight(client, origin).headers["Access-Control-Allow-Origin"] == origin
    response = post_json(client, PATH, hook_request("order-select"), headers={"Origin": origin})
    assert response.headers["Access-Control-Allow-Origin"] == origin
    error = client.post(PATH, data="x", content_type="text/plain", headers={"Origin": origin})
    assert error.status_code == 415
    assert error.headers["Access-Control-Allow-Origin"] == origin
    assert "Origin" in response.headers["Vary"]


def test_disallowed_origin_gets_no_cors_headers() -> None:
    from service.config import Profile, Settings
    from service.protocol.cors import origin_allowed

    production = Settings(profile=Profile.PRODUCTION,
                          cors_allowed_origins=("https://sandbox.cds-hooks.org",))
    assert origin_allowed("https://sandbox.cds-hooks.org", production)
    assert not origin_allowed("https://evil.example", production)
    assert not origin_allowed(None, production)
    assert origin_allowed("https://any.example", Settings(profile=Profile.PRODUCTION,
                                                          cors_allowed_origins=("*",)))
    assert not origin_allowed("https://any.example", Settings(profile=Profile.PRODUCTION))


def test_production_cors_allows_only_configured_origins(make_app, tmp_path) -> None:
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps({"issuers": [
        {"iss": "https://ehr.example.org", "jwks_url": "https://ehr.example.org/jwks"}]}))
    client = make_app(profile="production", public_base_url="https://cds.example.org",
                      trusted_issuers_file=issuers,
                      cors_allowed_origins=("https://sandbox.cds-hooks.org",)).test_client()
    allowed = preflight(client, "https://sandbox.cds-hooks.org")
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    denied = preflight(client, "https://evil.example")
    assert "Access-Control-Allow-Origin" not in denied.headers
    assert "Access-Control-Allow-Headers" not in denied.headers
    # A real call from the disallowed origin (401 without a token) carries no ACAO either.
    response = client.get("/cds-services", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
    response = client.get("/cds-services", headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"


def test_origin_joins_a_vary_header_once() -> None:
    from flask import Response

    from service.protocol.cors import _vary_on_origin

    cases = {None: "Origin", "Accept-Encoding": "Accept-Encoding, Origin",
             "Accept-Encoding, origin": "Accept-Encoding, origin", "Origin": "Origin"}
    for before, after in cases.items():
        response = Response()
        if before is not None:
            response.headers["Vary"] = before
        _vary_on_origin(response)
        _vary_on_origin(response)
        assert response.headers.getlist("Vary") == [after]


def test_origin_joins_several_vary_headers_without_losing_one() -> None:
    from flask import Response

    from service.protocol.cors import _vary_on_origin

    response = Response()
    response.headers.add("Vary", "Accept-Encoding")
    response.headers.add("Vary", "Accept-Language")
    _vary_on_origin(response)
    assert response.headers.getlist("Vary") == ["Accept-Encoding, Accept-Language, Origin"]
    already = Response()
    already.headers.add("Vary", "Accept-Encoding")
    already.headers.add("Vary", "Origin")
    _vary_on_origin(already)
    assert already.headers.getlist("Vary") == ["Accept-Encoding", "Origin"]
