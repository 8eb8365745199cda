"""Clinical knowledge as validated package data: terminology, policy thresholds, citations.

Public interface (other layers use only this):

- `load_knowledge() -> Knowledge`: loads and validates every data file under
  `service/knowledge/data/` with importlib.resources; a broken file raises
  `service.errors.ConfigurationError` naming the file and the field. Cached per process.
- `Knowledge.version: str`: the knowledge version shown on cards and in /readyz.
- `Knowledge.citations: Mapping[str, Citation]`: Citation(id, label, title, url, verification).
- `Knowledge.prefetch_observation_codes() -> tuple[str, ...]`: the LOINC codes the discovery
  prefetch template for Observation asks for (T-scores, calcium, albumin, vitamin D, eGFR, CTX,
  P1NP, FRAX, smoking status), generated from the terminology data.
- Terminology and policy lookups used by `service.evaluation` (see `knowledge.py`).
"""
