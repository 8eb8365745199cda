"""The pure JWT verifier against research cases 29-36 (CDS Hooks 2.0 "Trusting CDS Clients")."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from service.errors import ConfigurationError
from service.security import jwks
from service.security.issuers import IssuerConfig, TrustedIssuers
from service.security.jwks import JwksCache
from service.security.jwt_verifier import JwtVerifier, TokenRejected, check_algorithms
from service.security.urls import url_is_under
from tests.security import helpers as h

AUD = h.BASE_URL + h.SERVICE_PATH


def make_verifier(*issuers: IssuerConfig, store: Any = None, **kwargs: Any) -> JwtVerifier:
    kwargs.setdefault("jwks_cache", JwksCache(min_refresh_interval=0))
    return JwtVerifier(TrustedIssuers(issuers), store or h.MemoryReplayStore(), **kwargs)


def reason_of(verifier: JwtVerifier, token: str, audience: str = AUD) -> str:
    with pytest.raises(TokenRejected) as rejected:
        verifier.verify(token, audience)
    return rejected.value.reason


@pytest.fixture(scope="module")
def es_key() -> h.SigningKey:
    return h.SigningKey("ES384")


@pytest.fixture(scope="module")
def rs_key() -> h.SigningKey:
    return h.SigningKey("RS384")


@pytest.fixture
def verifier(es_key: h.SigningKey, rs_key: h.SigningKey) -> JwtVerifier:
    jwks = {"keys": [es_key.public_jwk, rs_key.public_jwk]}
    return make_verifier(IssuerConfig(iss=h.ISS, jwks=jwks))


@pytest.mark.parametrize("alg", ["ES384", "RS384"])
def test_a_fresh_token_for_this_endpoint_is_accepted(alg: str, es_key: h.SigningKey,
                                                     rs_key: h.SigningKey,
                                                     verifier: JwtVerifier) -> None:
    key = es_key if alg == "ES384" else rs_key
    client = verifier.verify(key.token(), AUD)
    assert client.issuer.iss == h.ISS
    assert client.expires_at > datetime.now(UTC)


def test_aud_as_array_and_extra_claims_like_epic_are_accepted(es_key: h.SigningKey,
                                                              verifier: JwtVerifier) -> None:
    now = time.time()
    token = es_key.token({"nbf": int(now) - 5, "sub": "epic-client", "extra": {"x": 1}},
                         aud=["https://elsewhere.example.org/x", AUD], now=now)
    assert verifier.verify(token, AUD).subject == "epic-client"


# --- case 30: alg none and HMAC (algorithm confusion) -------------------------------------------

def test_alg_none_is_refused(es_key: h.SigningKey, verifier: JwtVerifier) -> None:
    now = int(time.time())
    token = h.unsigned_token(
        {"iss": h.ISS, "aud": AUD, "iat": now, "exp": now + 60, "jti": "n1"},
        {"alg": "none", "typ": "JWT", "kid": es_key.kid},
    )
    assert reason_of(verifier, token) == "algorithm-not-allowed"


def test_hs256_signed_with_the_public_key_is_refused(rs_key: h.SigningKey,
                                                     verifier: JwtVerifier) -> None:
    from cryptography.hazmat.primitives import serialization

    public_pem = rs_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())
    token = h.hmac_token({"iss": h.ISS, "aud": AUD, "iat": now, "exp": now + 60, "jti": "h1"},
                         {"alg": "HS256", "typ": "JWT", "kid": rs_key.kid}, public_pem)
    assert reason_of(verifier, token) == "algorithm-not-allowed"


@pytest.mark.parametrize("algorithms", [("none",), ("HS256",), ("ES384", "HS384"), ()])
def test_configuring_none_or_hmac_stops_start_up(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError, match="OSTEOCDS_JWT_ALGORITHMS"):
        check_algorithms(algorithms)


def test_an_algorithm_outside_the_allowlist_is_refused(es_key: h.SigningKey) -> None:
    verifier = make_verifier(IssuerConfig(iss=h.ISS, jwks=es_key.jwks()), algorithms=("RS384",))
    assert reason_of(verifier, es_key.token()) == "algorithm-not-allowed"


def test_a_key_of_the_wrong_type_for_the_alg_is_refused(es_key: h.SigningKey,
                                                       rs_key: h.SigningKey) -> None:
    # The RSA public key published under the EC key's kid: ES384 must not verify with it.
    mixed = {**rs_key.public_jwk, "kid": es_key.kid}
    verifier = make_verifier(IssuerConfig(iss=h.ISS, jwks={"keys": [mixed]}))
    assert reason_of(verifier, es_key.token()) == "algorithm-key-mismatch"


class Offset(int):
    """A claim time given as seconds from the moment the test runs."""


# --- case 31: times, required claims and header fields --------------------------------------------

@pytest.mark.parametrize(
    ("claims", "drop", "header", "reason"),
    [
        ({"exp": Offset(-120), "iat": Offset(-400)}, (), {}, "expired"),
        ({"iat": Offset(600), "exp": Offset(900)}, (), {}, "issued-in-future"),
        ({"nbf": Offset(600)}, (), {}, "not-yet-valid"),
        ({}, ("jti",), {}, "missing-jti"),
        ({"jti": ""}, (), {}, "missing-jti"),
        ({}, ("iat",), {}, "missing-iat"),
        ({}, ("exp",), {}, "missing-exp"),
        ({"iat": Offset(0), "exp": Offset(3700)}, (), {}, "lifetime-too-long"),
        ({}, (), {"typ": "at+jwt"}, "bad-typ"),
        ({}, (), {"typ": None}, "bad-typ"),
        ({}, (), {"kid": None}, "missing-kid"),
        ({}, (), {"kid": "not-a-known-kid"}, "unknown-key"),
    ],
)
def test_bad_claims_and_headers_are_refused(claims: dict[str, Any], drop: tuple[str, ...],
                                            header: dict[str, Any], reason: str,
                                            es_key: h.SigningKey, verifier: JwtVerifier) -> None:
    now = int(time.time())  # times resolve when the test runs, not when it is collected
    claims = {k: now + v if isinstance(v, Offset) else v for k, v in claims.items()}
    assert reason_of(verifier, es_key.token(claims, drop=drop, header=header)) == reason


NAN, INFINITY = float("nan"), float("inf")
FAR_FUTURE = Offset(10**8)  # about three years: far past the maximum lifetime


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iat": NAN, "exp": FAR_FUTURE}, "missing-iat"),  # was accepted: no lifetime bound
        ({"iat": INFINITY}, "missing-iat"),
        ({"iat": -INFINITY}, "missing-iat"),
        ({"exp": NAN}, "missing-exp"),  # was a ValueError (a 500)
        ({"exp": INFINITY}, "missing-exp"),
        ({"exp": -INFINITY}, "missing-exp"),
        ({"nbf": NAN}, "not-yet-valid"),  # was accepted
        ({"nbf": -INFINITY}, "not-yet-valid"),  # was accepted
    ],
)
def test_non_finite_time_claims_are_refused(claims: dict[str, Any], reason: str,
                                            es_key: h.SigningKey, verifier: JwtVerifier) -> None:
    """PyJWT writes and reads NaN and Infinity in JSON; every comparison with NaN is false."""
    now = int(time.time())
    claims = {k: now + v if isinstance(v, Offset) else v for k, v in claims.items()}
    assert reason_of(verifier, es_key.token(claims)) == reason


@pytest.mark.parametrize(
    ("claims", "reason"),
    [({"nbf": INFINITY}, "not-yet-valid"), ({"iat": 10**400}, "issued-in-future")],
)
def test_other_out_of_range_time_claims_are_still_refused(claims: dict[str, Any], reason: str,
                                                          es_key: h.SigningKey,
                                                          verifier: JwtVerifier) -> None:
    """Guards for the finiteness check: a huge integer is finite (and too large for a float)."""
    assert reason_of(verifier, es_key.token(claims)) == reason


def test_small_clock_skew_is_tolerated(es_key: h.SigningKey, verifier: JwtVerifier) -> None:
    now = int(time.time())
    token = es_key.token({"iat": now - 330, "exp": now - 30})  # expired 30 s ago, leeway 60 s
    verifier.verify(token, AUD)


def test_garbage_tokens_are_refused_not_crashing(verifier: JwtVerifier) -> None:
    for token in ["", "abc", "a.b.c", "eyJ.eyJ.", "x" * 20000, "..", "e30.e30.e30"]:
        with pytest.raises(TokenRejected):
            verifier.verify(token, AUD)


# --- case 32: audience ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "aud",
    [
        h.BASE_URL + h.DISCOVERY_PATH,                       # discovery token replayed on a service
        h.BASE_URL + "/cds-services/osteoporosis-patient-view",  # another service id
        AUD + "/",                                           # trailing slash
        AUD.replace("https://", "http://"),                  # scheme
        AUD.replace("cds.example.org", "cds.example.org:8443"),  # port
        AUD.replace("cds.example.org", "evil.example.org"),  # host
        [h.BASE_URL + h.DISCOVERY_PATH],
        [],
        42,
    ],
)
def test_a_token_for_another_endpoint_is_refused(aud: Any, es_key: h.SigningKey,
                                                verifier: JwtVerifier) -> None:
    assert reason_of(verifier, es_key.token(aud=aud)) == "wrong-audience"


def test_a_token_missing_aud_is_refused(es_key: h.SigningKey, verifier: JwtVerifier) -> None:
    assert reason_of(verifier, es_key.token(drop=("aud",))) == "wrong-audience"


# --- case 33: issuer, jku allowlist (SSRF), unknown kid and rotation ----------------------------

def test_an_untrusted_issuer_is_refused(es_key: h.SigningKey, verifier: JwtVerifier) -> None:
    assert reason_of(verifier, es_key.token(iss="https://attacker.example")) == "untrusted-issuer"


def test_a_jku_outside_the_allowlist_is_never_fetched() -> None:
    attacker = h.SigningKey("ES384")
    trusted = h.SigningKey("ES384")
    with h.JwksServer() as server:
        server.documents["/evil/jwks"] = attacker.jwks()
        allowed_prefix = server.url("/keys/")
        verifier = make_verifier(IssuerConfig(iss=h.ISS, jwks=trusted.jwks(),
                                              jku_allowlist=(allowed_prefix,)))
        for jku in [server.url("/evil/jwks"), server.url("/keys-evil/jwks"),
                    server.url("/keys/../evil/jwks"), f"http://localhost:{server.port}/keys/j",
                    "https://attacker.example/keys/jwks"]:
            token = attacker.token(header={"jku": jku, "kid": attacker.kid})
            assert reason_of(verifier, token) == "unknown-key"
        assert server.total_hits == 0


def test_a_jku_inside_the_allowlist_is_fetched_once_and_cached() -> None:
    client_key = h.SigningKey("ES384")
    with h.JwksServer() as server:
        server.documents["/keys/jwks.json"] = client_key.jwks()
        verifier = make_verifier(IssuerConfig(iss=h.ISS, jku_allowlist=(server.url("/keys/"),)))
        header = {"jku": server.url("/keys/jwks.json")}
        for _ in range(3):
            verifier.verify(client_key.token(header=header), AUD)
        assert server.hits["/keys/jwks.json"] == 1


@pytest.mark.parametrize(
    ("candidate", "prefix", "inside"),
    [
        ("https://ehr.example.org/keys/jwks", "https://ehr.example.org/keys/", True),
        ("https://EHR.example.org/keys/a/b", "https://ehr.example.org/keys", True),
        ("https://ehr.example.org:443/keys/j", "https://ehr.example.org/keys/", True),
        ("https://ehr.example.org.evil.test/keys/j", "https://ehr.example.org/keys/", False),
        ("https://ehr.example.org:444/keys/j", "https://ehr.example.org/keys/", False),
        ("http://ehr.example.org/keys/j", "https://ehr.example.org/keys/", False),
        ("https://ehr.example.org/keys-evil/j", "https://ehr.example.org/keys", False),
        ("https://ehr.example.org/keys/../admin", "https://ehr.example.org/keys/", False),
        ("https://user@ehr.example.org/keys/j", "https://ehr.example.org/keys/", False),
        ("ftp://ehr.example.org/keys/j", "https://ehr.example.org/keys/", False),
    ],
)
def test_jku_allowlist_compares_parsed_urls(candidate: str, prefix: str, inside: bool) -> None:
    assert url_is_under(candidate, prefix) is inside


EPIC_KEYS = "https://ehr.example.org/api/epic/2019/Security/Open/PublicKeys/"


@pytest.mark.parametrize(
    "candidate",
    [
        EPIC_KEYS + "x?r=1",  # a query: a fresh URL (one more fetch) per request
        EPIC_KEYS + "x?",
        EPIC_KEYS + "x2#f",
        EPIC_KEYS + "%2e%2e/%2e%2e/FHIR/R4/Patient/123",  # the server may decode the dots
        EPIC_KEYS + "a%2Fb",
        EPIC_KEYS + "./x",
        EPIC_KEYS + "a\\..\\..\\x",  # some servers read a backslash as a slash
        EPIC_KEYS + "x y",
    ],
)
def test_jku_must_be_a_plain_url_under_the_allowlist(candidate: str) -> None:
    assert url_is_under(candidate, EPIC_KEYS) is False


def test_a_key_set_is_asked_for_uncompressed_and_a_compressed_one_is_refused() -> None:
    """Compressed bodies are decoded by urllib3 in reads that ignore the download's deadline; a
    JWK Set is a few KB, so osteocds asks for it as it is and refuses what it did not ask for."""
    key = h.SigningKey("ES384")
    with h.JwksServer() as server:
        server.documents["/plain"] = server.documents["/zipped"] = key.jwks()
        server.gzipped.add("/zipped")
        assert jwks.fetch_jwks(server.url("/plain"), 2.0) == key.jwks()
        with pytest.raises(jwks.JwksUnavailable, match="compressed"):
            jwks.fetch_jwks(server.url("/zipped"), 2.0)
        assert server.accept_encodings == ["identity", "identity"]


def test_unknown_kid_refreshes_once_then_refuses() -> None:
    published = h.SigningKey("ES384")
    stranger = h.SigningKey("ES384")
    with h.JwksServer() as server:
        server.documents["/jwks"] = published.jwks()
        verifier = make_verifier(IssuerConfig(iss=h.ISS, jwks_url=server.url("/jwks")))
        verifier.verify(published.token(), AUD)
        assert server.hits["/jwks"] == 1
        assert reason_of(verifier, stranger.token()) == "unknown-key"
        assert server.hits["/jwks"] == 2  # exactly one refresh for the unknown kid


def test_unknown_kids_do_not_cause_a_fetch_storm() -> None:
    published = h.SigningKey("ES384")
    with h.JwksServer() as server:
        server.documents["/jwks"] = published.jwks()
        verifier = make_verifier(IssuerConfig(iss=h.ISS, jwks_url=server.url("/jwks")),
                                 jwks_cache=JwksCache(min_refresh_interval=60))
        verifier.verify(published.token(), AUD)
        for i in range(5):
            reason_of(verifier, h.SigningKey("ES384", kid=f"random-{i}").token())
        assert server.hits["/jwks"] <= 2


def test_key_rotation_is_picked_up_from_the_jwks_url() -> None:
    old, new = h.SigningKey("ES384", kid="2024-key"), h.SigningKey("RS384", kid="2025-key")
    with h.JwksServer() as server:
        server.documents["/jwks"] = old.jwks()
        verifier = make_verifier(IssuerConfig(iss=h.ISS, jwks_url=server.url("/jwks")))
        verifier.verify(old.token(), AUD)
        server.documents["/jwks"] = new.jwks()  # the client rotates its key
        verifier.verify(new.token(), AUD)
        assert server.hits["/jwks"] == 2


def test_an_unreachable_jwks_url_refuses_within_the_timeout() -> None:
    key = h.SigningKey("ES384")
    verifier = make_verifier(IssuerConfig(iss=h.ISS, jwks_url="http://127.0.0.1:9/jwks"),
                             jwks_cache=JwksCache(timeout=1.0))
    started = time.monotonic()
    assert reason_of(verifier, key.token()) == "unknown-key"
    assert time.monotonic() - started < 3


def test_a_key_server_dripping_its_answer_is_cut_off_at_the_deadline() -> None:
    """Each byte comes well within the socket timeout; the download as a whole must not."""
    key = h.SigningKey("ES384")
    with h.JwksServer() as server:
        server.documents["/jwks"] = key.jwks()
        server.drips["/jwks"] = 0.01  # ~250 bytes: about 2.5 s in all
        verifier = make_verifier(IssuerConfig(iss=h.ISS, jwks_url=server.url("/jwks")),
                                 jwks_cache=JwksCache(timeout=0.5))
        started = time.monotonic()
        assert reason_of(verifier, key.token()) == "unknown-key"
        assert time.monotonic() - started < 1.2


def test_the_key_set_cache_stays_at_its_maximum_under_many_jku_urls() -> None:
    key = h.SigningKey("ES384")
    with h.JwksServer() as server:
        for i in range(12):
            server.documents[f"/keys/{i}"] = key.jwks()
        cache = JwksCache(max_entries=4)
        verifier = make_verifier(IssuerConfig(iss=h.ISS, jku_allowlist=(server.url("/keys/"),)),
                                 jwks_cache=cache)
        for i in range(12):
            verifier.verify(key.token(header={"jku": server.url(f"/keys/{i}")}), AUD)
            assert cache.size == min(i + 1, 4)


def test_the_key_set_cache_drops_the_least_recently_used_url() -> None:
    key = h.SigningKey("ES384")
    fetched: list[str] = []

    def fetcher(url: str, timeout: float) -> dict[str, Any]:
        fetched.append(url)
        return key.jwks()

    cache = JwksCache(max_entries=2, fetcher=fetcher)
    for url in ["https://a.test/j", "https://b.test/j", "https://a.test/j",
                "https://c.test/j",   # the cache is full: b, the least recently used, goes
                "https://a.test/j", "https://b.test/j"]:
        assert cache.get_key(url, key.kid) is not None
    assert fetched == ["https://a.test/j", "https://b.test/j", "https://c.test/j",
                       "https://b.test/j"]


def wait_for(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_a_slow_key_server_does_not_hold_up_another_issuers_token() -> None:
    """While one worker thread waits for a slow JWK Set, a token whose key set is at another URL
    verifies at once (the cache used to hold one lock for every URL during the fetch)."""
    slow_key, other_key = h.SigningKey("ES384"), h.SigningKey("ES384")
    slow_iss = "https://slow-ehr.example.org"
    with h.JwksServer() as server:
        server.documents["/slow/jwks"] = slow_key.jwks()
        server.delays["/slow/jwks"] = 2.0
        server.documents["/other/jwks"] = other_key.jwks()
        verifier = make_verifier(
            IssuerConfig(iss=slow_iss, jwks_url=server.url("/slow/jwks")),
            IssuerConfig(iss=h.ISS, jwks_url=server.url("/other/jwks")),
            jwks_cache=JwksCache(timeout=3.0))
        slow_results: list[str] = []
        slow_call = threading.Thread(target=lambda: slow_results.append(
            verifier.verify(slow_key.token(iss=slow_iss), AUD).issuer.iss))
        slow_call.start()
        wait_for(lambda: server.hits["/slow/jwks"] == 1)  # the slow fetch is under way
        started = time.monotonic()
        assert verifier.verify(other_key.token(), AUD).issuer.iss == h.ISS
        assert time.monotonic() - started < 1.0  # the slow fetch takes 2 s
        slow_call.join(timeout=5)
        assert slow_results == [slow_iss]  # the slow one still succeeds, later


# --- case 34: replay, tenant ------------------------------------------------------------------

def test_a_replayed_token_is_refused(es_key: h.SigningKey, verifier: JwtVerifier) -> None:
    token = es_key.token()
    verifier.verify(token, AUD)
    assert reason_of(verifier, token) == "replayed"


def test_a_refused_token_does_not_burn_its_jti(es_key: h.SigningKey,
                                              verifier: JwtVerifier) -> None:
    jti = "jti-reused-after-refusal"
    reason_of(verifier, es_key.token({"jti": jti}, aud=h.BASE_URL + h.DISCOVERY_PATH))
    verifier.verify(es_key.token({"jti": jti}), AUD)


def test_replay_window_covers_the_token_lifetime(es_key: h.SigningKey) -> None:
    store = h.MemoryReplayStore()
    verifier = make_verifier(IssuerConfig(iss=h.ISS, jwks=es_key.jwks()), store=store)
    now = int(time.time())
    verifier.verify(es_key.token({"jti": "w", "iat": now, "exp": now + 300}), AUD)
    (expires_at,) = store.seen.values()
    assert expires_at.timestamp() == now + 300 + 60  # exp + leeway


def test_tenant_must_match_when_configured(es_key: h.SigningKey) -> None:
    verifier = make_verifier(IssuerConfig(iss=h.ISS, jwks=es_key.jwks(), tenant="org-1"))
    assert reason_of(verifier, es_key.token({"tenant": "org-2"})) == "wrong-tenant"
    assert reason_of(verifier, es_key.token()) == "wrong-tenant"
    assert verifier.verify(es_key.token({"tenant": "org-1"}), AUD).tenant == "org-1"


# --- case 36: the specification's example token, a fixed vector ---------------------------------

def spec_verifier(clock: Any, **kwargs: Any) -> JwtVerifier:
    issuer = IssuerConfig(iss=h.SPEC_ISS, jwks={"keys": [h.SPEC_PUBLIC_JWK]}, tenant=h.SPEC_TENANT)
    return make_verifier(issuer, clock=clock, **kwargs)


FROZEN = float(h.SPEC_IAT + 3600)  # between the example's iat (2011-07-21) and exp (2015-01-29)


def test_spec_example_token_verifies_with_a_frozen_clock() -> None:
    # The example lives 3.5 years, so only a verifier allowing that lifetime accepts it.
    verifier = spec_verifier(lambda: FROZEN, max_lifetime=h.SPEC_EXP - h.SPEC_IAT)
    client = verifier.verify(h.SPEC_TOKEN, h.SPEC_AUD)
    assert client.jti == "ee22b021-e1b7-4611-ba5b-8eec6a33ac1e"
    assert client.tenant == h.SPEC_TENANT


def test_spec_example_token_is_refused_for_its_lifetime_by_default() -> None:
    assert reason_of(spec_verifier(lambda: FROZEN), h.SPEC_TOKEN, h.SPEC_AUD) == "lifetime-too-long"


def test_spec_example_token_is_expired_by_the_real_clock() -> None:
    verifier = spec_verifier(time.time, max_lifetime=h.SPEC_EXP - h.SPEC_IAT)
    assert reason_of(verifier, h.SPEC_TOKEN, h.SPEC_AUD) == "expired"


def test_spec_example_token_with_a_tampered_payload_fails_its_signature() -> None:
    header, payload, signature = h.SPEC_TOKEN.split(".")
    tampered_payload = payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB")
    verifier = spec_verifier(lambda: FROZEN, max_lifetime=h.SPEC_EXP - h.SPEC_IAT)
    token = f"{header}.{tampered_payload}.{signature}"
    assert reason_of(verifier, token, h.SPEC_AUD) in {"bad-signature", "malformed"}


def test_spec_example_token_for_the_wrong_endpoint_is_refused() -> None:
    verifier = spec_verifier(lambda: FROZEN, max_lifetime=h.SPEC_EXP - h.SPEC_IAT)
    assert reason_of(verifier, h.SPEC_TOKEN, "https://cds.example.org/cds-services") == (
        "wrong-audience")


# --- one parse of the token: the claims read before the signature are the signed ones ----------
@pytest.mark.parametrize("alg", ["ES384", "RS384"])
def test_claims_swapped_under_a_valid_signature_are_refused_and_never_remembered(
        alg: str, es_key: h.SigningKey, rs_key: h.SigningKey) -> None:
    """A well-formed payload with other claims (another jti, a longer lifetime) put in front of
    another token's genuine signature: the verifier reads the claims before it checks the
    signature, so the check must cover exactly those claims, and nothing may be remembered."""
    key = es_key if alg == "ES384" else rs_key
    store = h.MemoryReplayStore()
    verifier = make_verifier(IssuerConfig(iss=h.ISS, jwks=key.jwks()), store=store)
    header, _, signature = key.token().split(".")
    _, forged_payload, _ = key.token({"jti": "forged", "exp": int(time.time()) + 3000}).split(".")
    assert reason_of(verifier, f"{header}.{forged_payload}.{signature}") == "bad-signature"
    assert store.seen == {}
    verifier.verify(key.token(), AUD)  # the same verifier still accepts a genuine token
    assert len(store.seen) == 1


def test_a_critical_header_extension_it_does_not_understand_is_malformed(
        es_key: h.SigningKey, verifier: JwtVerifier) -> None:
    token = es_key.token(header={"crit": ["exp-ext"], "exp-ext": 1})
    assert reason_of(verifier, token) == "malformed"


def test_an_unencoded_payload_header_is_malformed(es_key: h.SigningKey,
                                                  verifier: JwtVerifier) -> None:
    """RFC 7797 `b64: false` needs a detached payload the service never takes."""
    header = {"alg": "ES384", "typ": "JWT", "kid": es_key.kid, "b64": False, "crit": ["b64"]}
    now = int(time.time())
    payload = {"iss": h.ISS, "aud": AUD, "iat": now, "exp": now + 300, "jti": "u"}
    token = h.unsigned_token(payload, header)[:-1] + h.b64url(b"x" * 96)
    assert reason_of(verifier, token) == "malformed"


def test_a_short_rsa_key_still_verifies_with_pyjwts_warning() -> None:
    """The signature check runs PyJWT's algorithm directly: its key-length warning stays (the
    key is the operator's configuration; refusing it would be a policy change)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    jwk = json.loads(jwt.algorithms.get_default_algorithms()["RS384"].to_jwk(
        private.public_key()))
    jwk.update(kid="short", alg="RS384", use="sig")
    verifier = make_verifier(IssuerConfig(iss=h.ISS, jwks={"keys": [jwk]}))
    now = int(time.time())
    claims = {"iss": h.ISS, "aud": AUD, "iat": now, "exp": now + 300, "jti": "short-key"}
    with pytest.warns(jwt.InsecureKeyLengthWarning):
        token = jwt.encode(claims, private, algorithm="RS384",
                           headers={"kid": "short", "typ": "JWT"})
    with pytest.warns(jwt.InsecureKeyLengthWarning):
        assert verifier.verify(token, AUD).jti == "short-key"
