"""Conformance case 40: CORS preflight lists Authorization and Content-Type explicitly."""

from __future__ import annotations

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


def test_disallowed_origin_preflight_has_no_allow_origin(make_app, monkeypatch) -> None:
    from service.protocol import cors

    app = make_app(cors_allowed_origins=("https://sandbox.cds-hooks.org",))
    # The development profile allows every origin; check the production rule on the same app.
    monkeypatch.setattr(cors, "origin_allowed",
                        lambda origin, settings: origin == "https://sandbox.cds-hooks.org")
    client = app.test_client()
    response = preflight(client, "https://evil.example")
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Headers" not in response.headers
    response = client.get("/cds-services", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
