"""Instructions per hook call, counted by callgrind: a figure that does not move with the machine's
load, for changes too small for a wall-clock A/B to see (docs/performance.md, round 8).

    .venv/bin/python benchmarks/instructions.py [--scenario order-select-50] [--calls 200]
    .venv/bin/python benchmarks/instructions.py --baseline     # the bare Flask app, same client
    .venv/bin/python benchmarks/instructions.py --jwt RS384    # production profile, JWT verified

The service (development profile, this checkout's build, access lines at INFO as `osteocds
serve` writes them, to /dev/null here) or the baseline app answers the scenario's body through
the Flask test client: 100 warm-up calls, the serve command's garbage
collector settings, then `--calls` calls counted. Only those are counted: they are made through
`itertools.starmap`, and callgrind collects inside `starmap_next` alone. Needs valgrind (Debian
package); about a minute of start-up under callgrind plus ~0.3 s a call.

`--jwt ES384|RS384`: the production profile instead, with one trusted issuer (inline JWKS, as
`make bench`'s JWT part) and a fresh pre-minted token (unique `jti`) on every call, so the
difference from the development profile's count is what verifying and remembering a token costs.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WARM_UP_CALLS = 100
_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions_per_call(valgrind_output: str, calls: int) -> float:
    """Callgrind's collected instruction count divided by the calls counted."""
    match = _COLLECTED.search(valgrind_output)
    if match is None:
        raise ValueError("no 'Collected :' line in callgrind's output")
    return int(match.group(1)) / calls


BASE_URL = "http://127.0.0.1:8080"  # the audience the --jwt tokens are minted for


def _production_app(workdir: Path, alg: str, audience: str, count: int) -> tuple[Any, list[str]]:
    """The production profile trusting one issuer for `alg`, and `count` fresh tokens for it."""
    from benchmarks import jwt_load
    from service.app import create_app
    from service.config import Profile, Settings

    keys = {name: key for name, key in jwt_load.signing_keys().items() if name == alg}
    issuers = jwt_load.issuers_file(workdir, keys)
    key, jwk = keys[alg]
    tokens = jwt_load.mint_tokens(alg, key, jwk, audience, count, workdir / "tokens.txt")
    settings = Settings(profile=Profile.PRODUCTION, trusted_issuers_file=issuers,
                        public_base_url=BASE_URL, data_dir=workdir / "data")
    return create_app(settings), tokens.read_text().split()


def hook_caller(scenario_name: str, workdir: Path, *, baseline: bool = False,
                jwt_alg: str | None = None, calls: int = 0
                ) -> tuple[Callable[[], None], Callable[[], None]]:
    """One hook call of the scenario through the Flask test client, as a function of no
    arguments, and the function that closes the app's store (its issued-card rows written)
    before `workdir` goes: the service (development profile; with `jwt_alg`, the production
    profile and one fresh token for each of `calls` calls) or the baseline app."""
    from benchmarks import bodies
    from benchmarks.run import SERVICE_PATH
    from service.app import create_app
    from service.config import Profile, Settings
    from service.protocol.state import protocol_state

    scenario = next(s for s in bodies.write_bodies(workdir) if s.name == scenario_name)
    body = scenario.body_file.read_bytes()
    path = SERVICE_PATH[scenario.hook]
    headers: Iterator[dict[str, str]] = itertools.repeat({})
    base_url = "http://localhost"  # the test client's own default, as in rounds 8 and 9
    if baseline:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from baseline_app import app
    elif jwt_alg:
        app, tokens = _production_app(workdir, jwt_alg, BASE_URL + path, calls)
        headers = iter([{"Authorization": f"Bearer {token}"} for token in tokens])
        base_url = BASE_URL  # the tokens' audience
    else:
        app = create_app(Settings(profile=Profile.DEVELOPMENT, data_dir=workdir))
    client = app.test_client()

    def call() -> None:
        response = client.post(path, data=body, content_type="application/json",
                               base_url=base_url, headers=next(headers))
        if response.status_code != 200:
            raise SystemExit(f"HTTP {response.status_code}: {response.get_data()[:200]!r}")

    def close() -> None:
        if not baseline:
            protocol_state(app).store.close()

    return call, close


@contextlib.contextmanager
def access_lines_to_devnull() -> Iterator[None]:
    """Within the block, log as `osteocds serve` does (access lines at INFO) to /dev/null; after
    it, to stderr again (a warning at exit, such as issued-card rows not written, is seen)."""
    from service.protocol.logging import configure_logging

    saved = sys.stderr
    with open(os.devnull, "w") as devnull:
        sys.stderr = devnull
        configure_logging("INFO")
        try:
            yield
        finally:
            sys.stderr = saved
            configure_logging("INFO")


def run_calls(scenario_name: str, calls: int, baseline: bool, jwt_alg: str | None = None) -> None:
    """The measured program: warm up, then `calls` calls through itertools.starmap."""
    from service.commands.serve import tune_garbage_collector

    workdir = Path(tempfile.mkdtemp(prefix="osteocds-instructions-"))
    try:
        with access_lines_to_devnull():
            call, close = hook_caller(scenario_name, workdir, baseline=baseline,
                                      jwt_alg=jwt_alg, calls=WARM_UP_CALLS + calls)
            try:
                for _ in range(WARM_UP_CALLS):
                    call()
                tune_garbage_collector()
                collections.deque(itertools.starmap(call, itertools.repeat((), calls)),
                                  maxlen=0)
            finally:
                close()  # the issued-card rows written while the database still exists
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="order-select-50",
                        choices=["patient-view-50", "order-select-50", "patient-view-500"])
    parser.add_argument("--calls", type=int, default=200)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--baseline", action="store_true", help="the bare Flask app instead")
    mode.add_argument("--jwt", choices=["ES384", "RS384"],
                     help="the production profile, each call with a fresh token signed so")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        run_calls(args.scenario, args.calls, args.baseline, args.jwt)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    command = [
        "valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=starmap_next",
        "--callgrind-out-file=/dev/null", sys.executable, __file__, "--inner",
        "--scenario", args.scenario, "--calls", str(args.calls),
        *(["--baseline"] if args.baseline else []),
        *(["--jwt", args.jwt] if args.jwt else []),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(result.stdout[-2000:] + result.stderr[-2000:], file=sys.stderr)
        return result.returncode
    from service.compiled import build_description

    per_call = instructions_per_call(result.stderr, args.calls)
    who = "baseline" if args.baseline else f"service ({build_description()})"
    if args.jwt:
        who += f", production profile, {args.jwt} token"
    print(f"{args.scenario}, {who}: {per_call / 1e6:.3f} M instructions a call "
          f"({args.calls} calls counted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
