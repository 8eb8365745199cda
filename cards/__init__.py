"""CDS cards built from an `Assessment`; the hooks choose which cards fit the moment.

Public interface:

- `build_cards(hook: str, assessment: Assessment, record: PatientRecord, knowledge: Knowledge,
  *, patient_id: str, new_uuid: Callable[[], str] = uuid4 string) -> list[dict]`: the CDS Hooks 2.0
  cards for this hook (`patient-view`, `order-select`, `order-sign`), every card with a `uuid` and
  `source.topic` coded in `urn:osteocds:card-topic`. Pure: no Flask, no I/O.
"""
