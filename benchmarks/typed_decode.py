"""Sizing of a structural idea (docs/performance.md, round 12): would decoding a hook request
into typed structures that keep only the fields the record layer reads, and skip the rest
unparsed, cost less than orjson's parse of the whole body that the service does now?

    .venv/bin/python benchmarks/typed_decode.py [--scenario order-select-50] [--calls 3000]

`decode_projection` is msgspec's typed decoder over `Node` (a resource or a Bundle: every
top-level field `service.record.parse`, `gather` and `shape` read, typed `Any` so a wrong JSON
type still reaches the record layer's own checks). The test suite checks that the projection
gives the same `PatientRecord` as the whole body. Prints the best of five timings of each
parse, in microseconds a call, and their ratio. A sizing tool only: the service does not use it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bodies


class Node(msgspec.Struct, omit_defaults=True):
    """A resource or a Bundle, with only what the record layer reads."""

    resourceType: Any = None
    id: Any = None
    subject: Any = None
    patient: Any = None
    entry: list[Entry] | None = None
    link: Any = None
    code: Any = None
    status: Any = None
    intent: Any = None
    category: Any = None
    clinicalStatus: Any = None
    verificationStatus: Any = None
    onsetDateTime: Any = None
    onsetPeriod: Any = None
    onsetAge: Any = None
    onsetRange: Any = None
    abatementDateTime: Any = None
    abatementPeriod: Any = None
    abatementAge: Any = None
    abatementRange: Any = None
    recordedDate: Any = None
    effectiveDateTime: Any = None
    effectivePeriod: Any = None
    effectiveInstant: Any = None
    valueQuantity: Any = None
    valueCodeableConcept: Any = None
    valueString: Any = None
    interpretation: Any = None
    referenceRange: Any = None
    birthDate: Any = None
    gender: Any = None
    deceasedBoolean: Any = None
    deceasedDateTime: Any = None
    medicationCodeableConcept: Any = None
    medicationReference: Any = None
    contained: Any = None
    dosage: Any = None
    dosageInstruction: Any = None
    authoredOn: Any = None


class Entry(msgspec.Struct, omit_defaults=True):
    fullUrl: Any = None
    resource: Node | None = None


class Request(msgspec.Struct, omit_defaults=True):
    hook: Any = None
    hookInstance: Any = None
    fhirServer: Any = None
    fhirAuthorization: Any = None
    context: Any = None
    prefetch: dict[str, Node] | None = None


_DECODER = msgspec.json.Decoder(Request)


def decode_projection(raw: bytes) -> Request:
    """The request with only the fields the record layer reads (the rest skipped, unparsed)."""
    return _DECODER.decode(raw)


def as_plain_json(request: Request) -> dict[str, Any]:
    """The projection as the dicts and lists the record layer takes (absent fields left out)."""
    return msgspec.json.decode(msgspec.json.encode(request))


def best_microseconds(parse: Callable[[bytes], Any], raw: bytes, calls: int) -> float:
    """The best of five timings of `calls` parses, in microseconds a call."""
    for _ in range(min(calls, 200)):
        parse(raw)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            parse(raw)
        timings.append((time.perf_counter() - started) / calls * 1e6)
    return min(timings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="order-select-50")
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        scenario = {s.name: s for s in bodies.write_bodies(Path(workdir))}[args.scenario]
        raw = scenario.body_file.read_bytes()
    whole = best_microseconds(orjson.loads, raw, args.calls)
    projected = best_microseconds(decode_projection, raw, args.calls)
    kept = len(msgspec.json.encode(decode_projection(raw)))
    print(f"{args.scenario}: {len(raw):,} bytes, {kept:,} of them in the fields the record "
          "layer reads")
    print(f"orjson.loads, the whole body:        {whole:8.1f} us a call")
    print(f"msgspec, the record layer's fields:  {projected:8.1f} us a call")
    print(f"projection / whole: {projected / whole:.2f} x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
