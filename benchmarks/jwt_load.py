"""The production profile's JWT cost: the same body sent with and without verification.

A pool of pre-minted tokens (unique `jti`, `aud` = the exact URL called) is rotated by wrk, one
fresh token a request, for an ES384 issuer and an RS384 issuer; the development profile (no
token) is the reference measured in the same run.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from benchmarks import bodies
from benchmarks.harness import LoadResult, Server, run_wrk

PATH = "/cds-services/osteoporosis-patient-view"
CONCURRENCY = 8


def signing_keys() -> dict[str, tuple[object, dict]]:
    """alg -> (private key, public JWK)."""
    es_key = ec.generate_private_key(ec.SECP384R1())
    rs_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = {}
    for alg, key in (("ES384", es_key), ("RS384", rs_key)):
        algorithm = jwt.get_algorithm_by_name(alg)
        jwk = json.loads(algorithm.to_jwk(key.public_key()))
        jwk.update({"kid": f"bench-{alg.lower()}", "alg": alg, "use": "sig"})
        keys[alg] = (key, jwk)
    return keys


def issuers_file(workdir: Path, keys: dict[str, tuple[object, dict]]) -> Path:
    issuers = [
        {"iss": f"https://bench-{alg.lower()}.example.org", "jwks": {"keys": [jwk]}}
        for alg, (_, jwk) in keys.items()
    ]
    path = workdir / "issuers.json"
    path.write_text(json.dumps({"issuers": issuers}))
    return path


def mint_tokens(alg: str, key: object, jwk: dict, audience: str, count: int, path: Path) -> Path:
    now = int(time.time())
    with path.open("w") as out:
        for _ in range(count):
            claims = {
                "iss": f"https://bench-{alg.lower()}.example.org",
                "aud": audience,
                "iat": now,
                "exp": now + 600,
                "jti": str(uuid.uuid4()),
            }
            out.write(jwt.encode(claims, key, algorithm=alg, headers={"kid": jwk["kid"]}) + "\n")
    return path


def measure(args, workdir: Path, make_server: Callable[..., Server]) -> list[dict]:
    body = bodies.write_bodies(workdir)[0]  # patient-view, ~50 resources
    keys = signing_keys()
    issuers = issuers_file(workdir, keys)
    token_count = int(max(args.seconds, 1) * 4000)
    results: list[LoadResult] = []
    dev = make_server(args.workers, args.threads)
    prod = make_server(args.workers, args.threads, dev=False, extra_env={})
    prod.env = {
        "OSTEOCDS_PROFILE": "production",
        "OSTEOCDS_TRUSTED_ISSUERS_FILE": str(issuers),
        "OSTEOCDS_PUBLIC_BASE_URL": prod.base_url,
        "OSTEOCDS_DATA_DIR": str(workdir / "prod-data"),
    }
    try:
        dev.start()
        prod.start()
        results.append(run_wrk(dev, scenario="no-jwt (dev profile)", path=PATH,
                               body_file=body.body_file, concurrency=CONCURRENCY,
                               seconds=args.seconds))
        for alg, (key, jwk) in keys.items():
            tokens = mint_tokens(alg, key, jwk, prod.base_url + PATH, token_count,
                                 workdir / f"tokens-{alg}.txt")
            result = run_wrk(prod, scenario=f"jwt {alg}", path=PATH, body_file=body.body_file,
                             concurrency=CONCURRENCY, seconds=args.seconds, tokens_file=tokens)
            results.append(result)
    finally:
        dev.stop()
        prod.stop()
    reference = results[0]
    for result in results:
        extra = result.cpu_ms_per_request - reference.cpu_ms_per_request
        print(f"{result.scenario:<24} {result.requests_per_second:>8.0f} req/s  "
              f"p99 {result.p99_ms:6.2f} ms  cpu {result.cpu_ms_per_request:5.2f} ms/req  "
              f"(+{extra:.2f} ms vs no JWT)  errors {result.errors}")
    return [asdict(r) for r in results]
