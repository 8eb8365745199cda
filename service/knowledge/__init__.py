"""Clinical knowledge as validated package data: terminology, policy thresholds, citations.

Public interface (other layers use only this):

- `load_knowledge() -> Knowledge`: loads and validates every data file under
  `service/knowledge/data/` with importlib.resources; a broken file raises
  `service.errors.ConfigurationError` naming the file and the field. Cached per process.
- `Knowledge.version: str`: the knowledge version shown on cards and in /readyz.
- `Knowledge.citations: Mapping[str, Citation]` / `Knowledge.citation(id)`:
  Citation(id, label, title, url, verification, statement).
- `Knowledge.prefetch_observation_codes() -> tuple[str, ...]`: the LOINC codes the discovery
  prefetch template for Observation asks for (T-scores, calcium, albumin, vitamin D, eGFR, CTX,
  P1NP, FRAX, smoking status), generated from the terminology data.
- `Knowledge.drug_display(drug_id)`, `Knowledge.product_displays`, `Knowledge.plan(id)`
  (plan text + citations), `Knowledge.rule(id)` (label + citations), `Knowledge.threshold(name)`.
- Terminology lookups used by `service.evaluation`: `match_value_set`, `value_sets_of`,
  `match_fracture`, `match_drug`, `match_observation`.
"""

from service.knowledge.knowledge import Citation, Knowledge
from service.knowledge.loader import build_knowledge, load_knowledge, read_package_files

__all__ = ["Citation", "Knowledge", "build_knowledge", "load_knowledge", "read_package_files"]
