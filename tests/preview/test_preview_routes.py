"""The preview page's server side through the Flask test client: profiles, the request builder,
key data, safe Markdown, and the production limits (no typed token, no arbitrary URL, no JWT)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import msgspec
import pytest
from flask import Flask

import fhir_fixtures
from service.app import create_app
from service.config import Settings
from service.errors import InvalidRequest
from service.evaluation.assess import assess
from service.knowledge import load_knowledge
from service.preview.access import PreviewPolicy
from service.preview.key_data import key_data_for
from service.preview.markdown import ALLOWED_TAGS, render_markdown
from service.protocol import validation
from service.protocol.state import protocol_state
from service.record.gather import gather_record
from service.record.model import DataGap, PatientRecord
from tests.security import helpers as h

PREVIEW_ORDERS = ("romosozumab", "denosumab", "alendronate", "zoledronic-acid", "teriparatide",
                  "abaloparatide", "raloxifene")
ALLOWED_FHIR = h.FHIR_SERVER


# ---- Markdown ------------------------------------------------------------------------------


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def elements_of(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.elements


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "<a href='javascript:alert(1)'>x</a>",
        "<iframe src='https://evil.example'></iframe>",
        '<div onclick="alert(1)">x</div>',
        "<svg onload=alert(1)>",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
    ],
)
def test_markdown_never_produces_active_html(source: str) -> None:
    html = render_markdown(f"Condition text: {source}")
    for tag, attrs in elements_of(html):
        assert tag in ALLOWED_TAGS, html
        for name, value in attrs:
            assert not name.startswith("on"), html
            if name == "href":
                assert (value or "").startswith(("http://", "https://", "mailto:")), html
    assert html.startswith("<p>Condition text: ")  # the rest of the text is kept


def test_markdown_keeps_card_formatting() -> None:
    html = render_markdown(
        "**Bold** and *em*\n\n- item\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[label](https://x.example/a)"
    )
    assert "<strong>Bold</strong>" in html
    assert "<li>item</li>" in html
    assert "<table>" in html
    assert 'href="https://x.example/a"' in html
    assert 'rel="noopener noreferrer"' in html


# ---- development profile -------------------------------------------------------------------


@pytest.fixture
def dev_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(dev_as_of=fhir_fixtures.load_expected()["reference_as_of"])


def test_root_redirects_to_the_page_and_the_page_loads_nothing_external(dev_app: Flask) -> None:
    client = dev_app.test_client()
    assert client.get("/").headers["Location"].endswith("/preview")
    page = client.get("/preview")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith("/"), f"external resource {url}"
    for asset in re.findall(r'(?:src|href)="(/preview/static/[^"]+)"', html):
        assert client.get(asset).status_code == 200


def test_orders_are_the_seven_drugs_coded_from_the_knowledge_data(dev_app: Flask) -> None:
    orders = dev_app.test_client().get("/preview/api/orders").get_json()["orders"]
    assert [order["id"] for order in orders] == list(PREVIEW_ORDERS)
    knowledge = load_knowledge()
    for order in orders:
        coding = order["coding"]
        assert coding["system"] == "http://www.nlm.nih.gov/research/umls/rxnorm"
        assert knowledge.product_displays[coding["code"]] == coding["display"]


def test_personas_list_every_fixture(dev_app: Flask) -> None:
    personas = dev_app.test_client().get("/preview/api/personas").get_json()["personas"]
    assert [p["id"] for p in personas] == fhir_fixtures.persona_ids()


HOOK_CASES = [("patient-view", None)] + [
    (hook, order) for hook in ("order-select", "order-sign") for order in PREVIEW_ORDERS
]


@pytest.mark.parametrize(("hook", "order"), HOOK_CASES)
def test_built_requests_are_valid_cds_hooks_requests(
    dev_app: Flask, hook: str, order: str | None
) -> None:
    choices = {"persona": "p01", "hook": hook} | ({"order": order} if order else {})
    answer = dev_app.test_client().post("/preview/api/request", json=choices)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    request = body["request"]
    assert validation.schema_errors(validation.HOOK_REQUEST_SCHEMAS[hook], request) == []
    assert body["endpoint"] == f"/cds-services/{body['serviceId']}"
    assert set(request["prefetch"]) == set(protocol_state(dev_app).templates)
    if hook != "patient-view":
        draft = request["context"]["draftOrders"]["entry"][0]["resource"]
        assert draft["status"] == "draft"
        assert draft["subject"] == {"reference": f"Patient/{fhir_fixtures.patient_id('p01')}"}


def test_key_data_matches_the_chart(dev_app: Flask) -> None:
    body = dev_app.test_client().post(
        "/preview/api/request", json={"persona": "p02", "hook": "patient-view"}
    ).get_json()
    key_data = body["keyData"]
    assert key_data["age"] == str(fhir_fixtures.load_expected()["personas"]["p02"]["facts"]["age"])
    sections = {section["id"]: section for section in key_data["sections"]}
    assert sections["cv-events"]["items"], "p02 has a recent myocardial infarction"
    assert sections["t-scores"]["items"]
    assert sections["fractures"]["items"]
    # The same record the service parses: every T-score shown is one the record layer read.
    state = protocol_state(dev_app)
    with dev_app.app_context():
        record = gather_record(body["request"], settings=state.settings,
                               templates=state.templates)
    assert len(record.observations) >= len(sections["t-scores"]["items"])


def test_script_persona_text_stays_text_in_json(dev_app: Flask) -> None:
    body = dev_app.test_client().post(
        "/preview/api/request", json={"persona": "x01", "hook": "patient-view"}
    ).get_json()
    labels = [item["label"] for s in body["keyData"]["sections"] for item in s["items"]]
    assert "<script>alert(1)</script> vertebral fracture" in labels
    assert "name" not in json.dumps(body["keyData"])  # no patient names in the panel


def _persona_record(dev_app: Flask, persona_id: str, as_of: date) -> PatientRecord:
    """The persona's record as the record layer parses a full prefetch of it."""
    from service import hook_requests

    bundle = fhir_fixtures.render_persona(persona_id, as_of)
    request = hook_requests.build_hook_request("patient-view", bundle, prefetch="full")
    state = protocol_state(dev_app)
    with dev_app.app_context():
        return gather_record(request, settings=state.settings, templates=state.templates)


def test_deceased_patient_age_is_counted_at_death(dev_app: Flask) -> None:
    """The panel's age is the evaluation's: a patient who died years ago ages no further."""
    as_of = date(2026, 6, 15)
    record = _persona_record(dev_app, "v01", as_of)  # v01: P01's record, 72, deceased
    assert record.patient is not None
    died_long_ago = msgspec.structs.replace(record.patient, deceased_date=date(2020, 6, 15))
    record = msgspec.structs.replace(record, patient=died_long_ago)
    key_data = key_data_for(record, as_of, protocol_state(dev_app).knowledge)
    assert key_data["age"] == "66"  # 72 on as_of, six years younger on the day of death
    assert key_data["ageLabel"] == "Age at death"
    assert key_data["sex"] == "female (deceased)"
    assessment = assess(record, as_of, protocol_state(dev_app).knowledge)
    criteria = (assessment.population, *assessment.risk_criteria)
    ages_on_cards = {e.value for c in criteria for e in c.evidence
                     if e.description.startswith("Age")}
    assert ages_on_cards == {"66 years"}  # the age the evaluation (and its cards) uses

    unknown_day = msgspec.structs.replace(record.patient, deceased_date=None)
    unknown = key_data_for(msgspec.structs.replace(record, patient=unknown_day), as_of,
                           protocol_state(dev_app).knowledge)
    assert "age" not in unknown  # deceased on an unknown day: the age is not known


def test_living_patient_has_no_age_at_death_label(dev_app: Flask) -> None:
    body = dev_app.test_client().post(
        "/preview/api/request", json={"persona": "p01", "hook": "patient-view"}
    ).get_json()
    assert "ageLabel" not in body["keyData"]
    deceased = dev_app.test_client().post(
        "/preview/api/request", json={"persona": "v01", "hook": "patient-view"}
    ).get_json()
    assert deceased["keyData"]["ageLabel"] == "Age at death"


def test_data_gap_notes_are_the_cards_sentences(dev_app: Flask) -> None:
    """Notes in clinician words (the cards' "Data not available"), no FHIR type names."""
    as_of = date(2026, 6, 15)
    record = msgspec.structs.replace(
        _persona_record(dev_app, "p01", as_of),
        data_gaps=(DataGap("MedicationAdministration", "not supported by the FHIR server",
                           partial=False),
                   DataGap("Observation", "the FHIR server did not answer in time")),
    )
    knowledge = protocol_state(dev_app).knowledge
    notes = key_data_for(record, as_of, knowledge)["notes"]
    assert notes == list(assess(record, as_of, knowledge).data_gaps)
    assert notes == [
        "Medication administrations could not be read: not supported by the FHIR server",
        "Results (laboratory, DXA, FRAX) could not be read: the FHIR server did not answer in "
        "time",
    ]
    assert not any(name in " ".join(notes) for name in ("MedicationAdministration",
                                                         "Observation:"))


def test_persona_without_prefetch_is_refused(dev_app: Flask) -> None:
    answer = dev_app.test_client().post(
        "/preview/api/request", json={"persona": "p01", "hook": "patient-view", "prefetch": False}
    )
    assert answer.status_code == 400


@pytest.mark.parametrize(
    "choices",
    [
        {"hook": "order-select", "persona": "p01"},  # no draft order
        {"hook": "order-select", "persona": "p01", "order": "aspirin"},
        {"hook": "no-such-hook", "persona": "p01"},
        {"hook": "patient-view", "persona": "nobody"},
        {"hook": "patient-view", "fhirServer": "ftp://x.example", "patientId": "1"},
        {"hook": "patient-view", "fhirServer": "http://127.0.0.1:9/fhir", "patientId": "a/../b"},
    ],
)
def test_bad_choices_are_400(dev_app: Flask, choices: dict[str, Any]) -> None:
    assert dev_app.test_client().post("/preview/api/request", json=choices).status_code == 400


def test_render_route_sanitizes(dev_app: Flask) -> None:
    answer = dev_app.test_client().post(
        "/preview/api/render", json={"markdown": ["**x** <script>alert(1)</script>", ""]}
    )
    html = answer.get_json()["html"]
    assert html[0].startswith("<p><strong>x</strong> &lt;script&gt;")
    assert html[1] == ""


def test_feedback_is_stored_tagged_preview(dev_app: Flask) -> None:
    feedback = {"feedback": [{"card": "c-1", "outcome": "overridden",
                              "outcomeTimestamp": "2026-06-15T10:00:00Z",
                              "overrideReason": {"reason": {"code": "x", "system": "urn:s",
                                                            "display": "X"}},
                              "extension": {"org.osteocds.preview": True}}]}
    client = dev_app.test_client()
    answer = client.post("/preview/api/feedback/osteoporosis-patient-view", json=feedback)
    assert answer.get_json() == {"recorded": 1, "duplicates": 0}
    rows = list(protocol_state(dev_app).store.iter_feedback())
    assert [(row.card_uuid, row.source) for row in rows] == [("c-1", "preview")]
    assert client.post("/preview/api/feedback/no-such-service", json=feedback).status_code == 404


# ---- production profile --------------------------------------------------------------------


@pytest.fixture
def production(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps({"issuers": [
        {"iss": h.ISS, "jwks": h.SigningKey("ES384", kid="k1").jwks(),
         "fhir_servers": [ALLOWED_FHIR]},
    ]}))
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        values: dict[str, Any] = {
            "profile": "production", "data_dir": tmp_path / "data", "database_url": None,
            "trusted_issuers_file": issuers, "public_base_url": "https://cds.example.org",
        }
        values.update(overrides)
        (tmp_path / "data").mkdir(exist_ok=True)
        app = create_app(Settings(**values))
        apps.append(app)
        return app

    yield build
    for app in apps:
        protocol_state(app).store.close()


def test_production_has_no_preview_unless_enabled(production: Callable[..., Flask]) -> None:
    client = production().test_client()
    assert client.get("/preview").status_code in (401, 404)
    assert client.get("/").status_code in (401, 404)
    assert client.post("/preview/api/request", json={}).status_code in (401, 404)


def test_production_preview_offers_only_personas_and_allowlisted_servers(
    production: Callable[..., Flask],
) -> None:
    app = production(preview_enabled=True)
    client = app.test_client()
    html = client.get("/preview").get_data(as_text=True)
    assert 'type="password"' not in html  # no bearer token field
    assert f'<option value="{ALLOWED_FHIR}">' in html  # a fixed list, not a free URL field
    assert 'type="url"' not in html
    assert client.get("/").status_code != 302  # `/` is not the preview in production

    token = {"hook": "patient-view", "fhirServer": ALLOWED_FHIR, "patientId": "1", "token": "t"}
    assert client.post("/preview/api/request", json=token).status_code == 400
    other = {"hook": "patient-view", "fhirServer": "https://evil.example/fhir", "patientId": "1"}
    assert client.post("/preview/api/request", json=other).status_code == 400

    # The service endpoints themselves still need a CDS client's JWT.
    built = client.post("/preview/api/request",
                        json={"persona": "p02", "hook": "patient-view"}).get_json()
    assert built["endpoint"] == "/preview/api/fire"
    assert client.post("/cds-services/osteoporosis-patient-view",
                       json=built["request"]).status_code == 401


def test_production_fire_runs_the_service_in_process(production: Callable[..., Flask]) -> None:
    app = production(preview_enabled=True)
    client = app.test_client()
    answer = client.post("/preview/api/fire", json={"persona": "p02", "hook": "order-select",
                                                    "order": "romosozumab"})
    assert answer.status_code == 200, answer.get_json()
    topics = sorted(card["source"]["topic"]["code"] for card in answer.get_json()["cards"])
    expected = fhir_fixtures.load_expected()["personas"]["p02"]["hooks"]["order-select"]
    assert topics == next(s["topics"] for s in expected if s["order"] == "romosozumab")


def test_policy_normalises_allowlisted_servers() -> None:
    policy = PreviewPolicy(enabled=True, development=False,
                           allowed_fhir_servers=("https://fhir.example.org/r4",))
    assert policy.check_fhir_server("https://fhir.example.org/r4/") == (
        "https://fhir.example.org/r4")
    with pytest.raises(InvalidRequest):
        policy.check_fhir_server("https://fhir.example.org/r4/../other")
    with pytest.raises(InvalidRequest):
        policy.check_fhir_server("https://fhir.example.org.evil.example/r4")
    assert not policy.allow_token
    assert not policy.free_fhir_server
