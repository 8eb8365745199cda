"""The trusted issuers file (OSTEOCDS_TRUSTED_ISSUERS_FILE): a contract, validated at start-up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.errors import ConfigurationError
from service.security.issuers import (
    SANDBOX_ISSUER,
    load_trusted_issuers,
    parse_trusted_issuers,
    sandbox_issuer,
)
from tests.security import helpers as h

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SHARED_SANDBOX_JWKS = SHARED_DATA / "cds-hooks-sandbox-jwks.json"


def test_the_documented_format_loads(tmp_path: Path) -> None:
    key = h.SigningKey("ES384")
    document = {"issuers": [
        {"iss": "https://ehr.example.org", "jwks": key.jwks()},
        {"iss": "https://other.example.org", "jwks_url": "https://other.example.org/jwks",
         "jku_allowlist": ["https://ehr.example.org/keys/"],
         "fhir_servers": ["https://fhir.example.org/r4"], "tenant": "org-1"},
    ]}
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps(document))
    issuers = load_trusted_issuers(path)
    assert len(issuers) == 2
    other = issuers.get("https://other.example.org")
    assert other is not None
    assert other.tenant == "org-1"
    assert other.allows_fhir_server("https://fhir.example.org/r4/")
    assert not other.allows_fhir_server("https://fhir.example.org/r4-evil")


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({}, "`issuers`"),
        ({"issuers": [{"jwks_url": "https://x.example/jwks"}]}, "issuers[0].iss"),
        ({"issuers": [{"iss": "https://a.example"}]}, "issuers[0].jwks"),
        ({"issuers": [{"iss": "a", "jwks_url": "http://ehr.example.org/jwks"}]},
         "issuers[0].jwks_url"),
        ({"issuers": [{"iss": "a", "jku_allowlist": ["ftp://x/"]}]}, "issuers[0].jku_allowlist[0]"),
        ({"issuers": [{"iss": "a", "jwks_url": "https://x.example/j",
                       "fhir_servers": ["http://127.0.0.1/fhir"]}]}, "issuers[0].fhir_servers[0]"),
        ({"issuers": [{"iss": "a", "jwks": {"keys": [{"kty": "oct", "kid": "k", "k": "c2Vj"}]}}]},
         "issuers[0].jwks.keys[0].kty"),
        ({"issuers": [{"iss": "a", "jwks": {"keys": []}}]}, "issuers[0].jwks"),
        ({"issuers": [{"iss": "a", "jwks_url": "https://x.example/j", "tenant": 5}]},
         "issuers[0].tenant"),
        ({"issuers": [{"iss": "a", "jwks_url": "https://x.example/j", "jwks_uri": "typo"}]},
         "issuers[0].jwks_uri"),
        ({"issuers": [{"iss": "a", "jwks_url": "https://x.example/j"},
                      {"iss": "a", "jwks_url": "https://y.example/j"}]}, "issuers[1].iss"),
    ],
)
def test_errors_name_the_offending_field(document: Any, field: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        parse_trusted_issuers(document, source="issuers.json")
    assert field in str(error.value)


def test_a_file_listing_no_issuer_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "trusted-issuers.json"
    path.write_text(json.dumps({"issuers": []}))
    with pytest.raises(ConfigurationError, match="lists no issuer") as error:
        load_trusted_issuers(path)
    assert str(path) in str(error.value)


def test_an_issuer_without_fhir_servers_accepts_no_fhir_server() -> None:
    issuers = parse_trusted_issuers({"issuers": [
        {"iss": "https://ehr.example.org", "jwks_url": "https://ehr.example.org/jwks"}]})
    issuer = issuers.get("https://ehr.example.org")
    assert issuer is not None
    assert issuer.fhir_servers == ()
    assert not issuer.allows_fhir_server("https://ehr.example.org/fhir")
    assert not issuer.allows_fhir_server("https://attacker.example/fhir")


def test_private_keys_in_the_file_are_refused() -> None:
    key = h.SigningKey("ES384")
    private = {**key.public_jwk, "d": "c2VjcmV0"}
    with pytest.raises(ConfigurationError, match=r"issuers\[0\]\.jwks\.keys\[0\]"):
        parse_trusted_issuers({"issuers": [{"iss": "a", "jwks": {"keys": [private]}}]})


def test_unreadable_and_non_json_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_trusted_issuers(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    with pytest.raises(ConfigurationError, match="not JSON"):
        load_trusted_issuers(broken)


def test_the_shipped_sandbox_key_is_the_published_one() -> None:
    issuer = sandbox_issuer()
    assert issuer.iss == SANDBOX_ISSUER
    assert issuer.jwks is not None
    if not SHARED_SANDBOX_JWKS.exists():
        pytest.skip("../shared/data is absent in this clone: cannot compare with the research copy")
    assert issuer.jwks == json.loads(SHARED_SANDBOX_JWKS.read_text())
