"""JSON shape checks for what the record layer reads: Bundles, their entries, resource headers.

Request bodies and FHIR server answers are untrusted JSON: any field may hold any JSON type.
The policy (issue 3, security fuzzing):

- Structure the service relies on to find the patient's data is checked here and a wrong type
  raises `MalformedData`: `Bundle.entry` that is not a list, an entry that is not an object, an
  entry `resource` that is not an object, a resource whose `resourceType` is not a FHIR type
  name, an `id` that is not a string, a `subject`/`patient` that is not a Reference (or whose
  `reference` is not a string). Silently skipping these could hide a contraindication (a
  Condition with a broken header is still a Condition), so the caller answers 400 (prefetch,
  draft orders) or 412 (FHIR server answer).
- Clinical fields inside a well-formed resource (code, status, dates, quantities, dosage...)
  are read by `parse` with type checks: a wrong type there is "not stated" (no date, no value),
  never a crash. An `entry.fullUrl` that is not a string is ignored, and so is a `Bundle.link`
  item that is not an object or not `next`; a `link` that is not a list or a next link without
  a string url is MalformedData (taking a partial Bundle for a complete one is not safe).

`MalformedData.detail` names no value from the input (it may be patient data), only shapes.

A Bundle (prefetch value or FHIR search page) may carry OperationOutcome entries (search.mode
`outcome`). Those whose issues are only `information` or `warning` (HAPI adds such to searchsets)
are dropped and the Bundle is data; one with an `error` or `fatal` issue means the search failed
(CDS Hooks 2.0: errors come as OperationOutcomes and services SHOULD check for them), so
`bundle_entries(..., refuse_errors=True)` raises `ErrorOutcome` and the caller fetches the key
again or answers 412. Their diagnostics are never read (they may hold patient data).
"""

from __future__ import annotations

import re
from typing import Any, TypeGuard

RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
FHIR_ID_CHARS = r"[A-Za-z0-9\-.]{1,64}"  # the R4 `id` datatype
FHIR_ID = re.compile(f"^{FHIR_ID_CHARS}$")
REFERENCE_ELEMENTS = ("subject", "patient")


class MalformedData(ValueError):
    """A Bundle or resource the service needs has a wrong JSON type; `detail` is safe to show."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ErrorOutcome(Exception):
    """A Bundle carries an OperationOutcome with an `error` or `fatal` issue: not data."""


ERROR_SEVERITIES = frozenset({"error", "fatal"})


def is_error_outcome(resource: dict[str, Any]) -> bool:
    """Whether an OperationOutcome has an issue of severity `error` or `fatal`."""
    issues = resource.get("issue")
    if not isinstance(issues, list):
        return False
    return any(isinstance(issue, dict) and issue.get("severity") in ERROR_SEVERITIES
               for issue in issues)


def is_mapping(value: Any) -> TypeGuard[dict[str, Any]]:
    """Whether `value` is a JSON object. Parsed JSON objects are dicts (orjson, `json`,
    requests), and narrowing to `dict` lets the compiled build read them with dict operations
    instead of a generic method call per `.get` (docs/performance.md, round 8)."""
    return isinstance(value, dict)


def type_name(value: Any) -> str:
    """A resourceType fit for an error message: the name when it is one, else "resource"."""
    return value if isinstance(value, str) and RESOURCE_TYPE.match(value) else "resource"


def resource_problem(resource: dict[str, Any]) -> str | None:
    """What is wrong with a resource's header (type, id, subject/patient), or None."""
    resource_type = resource.get("resourceType")
    if not ((isinstance(resource_type, str) and resource_type in _VALID_TYPES)
            or _valid_type(resource_type)):
        return "a resource without a valid resourceType"
    if "id" in resource and not isinstance(resource["id"], str):
        return f"a {resource_type} whose id is not a string"
    for element in REFERENCE_ELEMENTS:
        if element not in resource:
            continue
        reference = resource[element]
        if not is_mapping(reference) or (
            "reference" in reference and not isinstance(reference["reference"], str)
        ):
            return f"a {resource_type} whose {element} is not a Reference"
    return None


_VALID_TYPES: set[str] = set()  # resourceType names that matched RESOURCE_TYPE (bounded)
_VALID_TYPES_LIMIT = 1_000


def _valid_type(resource_type: Any) -> bool:
    if not isinstance(resource_type, str) or not RESOURCE_TYPE.match(resource_type):
        return False
    if len(_VALID_TYPES) < _VALID_TYPES_LIMIT:
        _VALID_TYPES.add(resource_type)
    return True


def check_resource(resource: Any) -> dict[str, Any]:
    """The resource itself when it is a JSON object with a sound header, else MalformedData."""
    if not isinstance(resource, dict):
        raise MalformedData("a resource that is not a JSON object")
    problem = resource_problem(resource)
    if problem:
        raise MalformedData(problem)
    return resource


def bundle_entries(bundle: dict[str, Any], *, refuse_errors: bool = False
                   ) -> list[dict[str, Any]]:
    """Entries with a resource, each checked; OperationOutcome entries (search.mode outcome)
    dropped; entries without `resource` skipped; a non-string fullUrl removed.

    Raises MalformedData when `entry` is not a list or an entry/resource is malformed, and, with
    `refuse_errors` (prefetch values, search pages), ErrorOutcome when an OperationOutcome entry
    has an error or fatal issue (the check costs nothing on Bundles without outcomes)."""
    entries = bundle.get("entry")
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise MalformedData("a Bundle whose entry is not a list")
    kept = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise MalformedData("a Bundle entry that is not a JSON object")
        if "resource" not in entry:
            continue
        resource = check_resource(entry["resource"])
        if resource["resourceType"] == "OperationOutcome":
            if refuse_errors and is_error_outcome(resource):
                raise ErrorOutcome
            continue
        if "fullUrl" in entry and not isinstance(entry["fullUrl"], str):
            entry = {key: value for key, value in entry.items() if key != "fullUrl"}
        kept.append(entry)
    return kept


def next_link_of(bundle: dict[str, Any]) -> str | None:
    """Bundle.link[relation=next].url, if any.

    A `link` that is not a list, or a next link without a string url, raises MalformedData:
    ignoring it would take a partial Bundle for a complete one. Other junk links are ignored."""
    links = bundle.get("link")
    if links is None:
        return None
    if not isinstance(links, list):
        raise MalformedData("a Bundle whose link is not a list")
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            if not isinstance(url, str) or not url:
                raise MalformedData("a Bundle next link without a URL")
            return url
    return None
