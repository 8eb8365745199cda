"""benchmarks/typed_decode.py: the projection it times keeps everything the record layer reads
(the same PatientRecord for every persona, with and without the knowledge's interest), and the
tool reports both timings."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import orjson
import pytest

fhir_fixtures = pytest.importorskip("fhir_fixtures")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import typed_decode  # noqa: E402
from service.config import Settings  # noqa: E402
from service.knowledge import load_knowledge  # noqa: E402
from service.record.gather import gather_record  # noqa: E402
from service.record.queries import prefetch_templates  # noqa: E402
from tests.evaluation.test_personas import PERSONAS, full_prefetch_request  # noqa: E402


@pytest.fixture(scope="module")
def knowledge():
    return load_knowledge()


@pytest.mark.parametrize("persona_id", PERSONAS)
@pytest.mark.parametrize("with_interest", [True, False])
def test_the_projection_gives_the_same_record_as_the_whole_body(knowledge, persona_id,
                                                                 with_interest):
    raw = orjson.dumps(full_prefetch_request(persona_id))
    projected = typed_decode.as_plain_json(typed_decode.decode_projection(raw))
    assert len(orjson.dumps(projected)) < len(raw)  # something was left out
    templates = prefetch_templates(knowledge.prefetch_observation_codes())
    interest = knowledge if with_interest else None

    def record(body):
        return gather_record(body, settings=Settings(), templates=templates, interest=interest)

    assert record(projected) == record(orjson.loads(raw))


def test_the_tool_reports_both_parses_and_their_ratio(capsys) -> None:
    assert typed_decode.main(["--scenario", "patient-view-50", "--calls", "20"]) == 0
    out = capsys.readouterr().out
    whole = re.search(r"orjson\.loads, the whole body: +([\d.]+) us a call", out)
    projected = re.search(r"msgspec, the record layer's fields: +([\d.]+) us a call", out)
    ratio = re.search(r"projection / whole: ([\d.]+) x", out)
    assert whole, out
    assert projected, out
    assert ratio, out
    assert float(ratio.group(1)) == pytest.approx(
        float(projected.group(1)) / float(whole.group(1)), abs=0.01)
    kept = re.search(r"([\d,]+) bytes, ([\d,]+) of them", out)
    assert kept, out
    assert int(kept.group(2).replace(",", "")) < int(kept.group(1).replace(",", ""))
