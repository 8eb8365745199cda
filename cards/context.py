"""What every card builder needs: the assessment, the hook, the orders in play, citations, uuids."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cards import format as fmt
from cards import orders, wording
from cards.resolved import ResolvedCitation
from service.evaluation.model import Assessment, ClassifiedOrder, OrderClass, SafetyGate
from service.ids import uuid4_text
from service.record.model import PatientRecord

PATIENT_VIEW = "patient-view"
ORDER_SELECT = "order-select"
ORDER_SIGN = "order-sign"
HOOKS = (PATIENT_VIEW, ORDER_SELECT, ORDER_SIGN)


def random_uuid() -> str:
    """The default uuid factory: a random (version 4) UUID (tests inject a deterministic one)."""
    return uuid4_text()


@dataclass(frozen=True)
class CardContext:
    hook: str
    assessment: Assessment
    record: PatientRecord
    knowledge: Any
    patient_id: str
    new_uuid: Callable[[], str]
    requester: str | None = None
    """`Practitioner/<id>` or `PractitionerRole/<id>` (from `userId`), or None."""
    encounter: str | None = None
    """`Encounter/<id>` (from `encounterId`), or None."""

    def order(self, drug: str, note: str) -> dict[str, Any]:
        """A draft MedicationRequest of `drug` for this patient, dated `as_of`, with the
        requester and encounter of the call when it has them."""
        return orders.ORDER_BUILDERS[drug](self.patient_id, self.assessment.as_of, note,
                                           requester=self.requester, encounter=self.encounter)

    # --- orders ---------------------------------------------------------------------------
    def orders_in_play(self) -> tuple[ClassifiedOrder, ...]:
        """order-select: the selected orders; order-sign: all drafts; patient-view: none."""
        if self.hook == ORDER_SELECT:
            return tuple(order for order in self.assessment.orders if order.selected)
        if self.hook == ORDER_SIGN:
            return self.assessment.orders
        return ()

    def orders_of(self, order_class: OrderClass) -> tuple[ClassifiedOrder, ...]:
        return tuple(o for o in self.orders_in_play() if order_class in o.classes)

    # --- safety gates ---------------------------------------------------------------------
    def gate(self, drug: str) -> SafetyGate | None:
        return self.assessment.safety_gates.get(drug)

    def allowed(self, drug: str) -> bool:
        """A drug with no gate computed is not ruled out by the patient's data."""
        gate = self.gate(drug)
        return gate is None or gate.allowed

    def allowed_names(self, drugs: Iterable[str]) -> list[str]:
        return [fmt.drug_name(drug) for drug in drugs if self.allowed(drug)]

    def ruled_out_lines(self, drugs: Iterable[str]) -> list[str]:
        """Why each gated drug is not offered, with the patient's evidence; drugs ruled out by
        the same evidence share one line ("denosumab and zoledronate: not offered (...)")."""
        by_reasons: dict[str, list[str]] = {}
        for drug in drugs:
            gate = self.gate(drug)
            if gate is None or gate.allowed:
                continue
            reasons = "; ".join(fmt.evidence_line(r)[2:] for r in gate.reasons) or "safety check"
            by_reasons.setdefault(reasons, []).append(fmt.drug_name(drug))
        return [f"{fmt.names_list(names, 'and')}: not offered ({reasons})"
                for reasons, names in by_reasons.items()]

    def caution_lines(self, drugs: Iterable[str]) -> list[str]:
        """What to do before ordering each offered drug: its cautions with the patient's
        evidence (denosumab at eGFR < 30: the Prolia boxed warning) and its checks still to do
        (no eGFR within 12 months). Romosozumab is left out: its cards have their own
        exclusions section (calcium, cardiovascular)."""
        lines = []
        for drug in drugs:
            gate = self.gate(drug)
            if drug == "romosozumab" or gate is None or not gate.allowed:
                continue
            name = fmt.drug_name(drug)
            lines += [f"{name}: {gate.caution_text or 'caution'} ({fmt.evidence_line(c)[2:]})"
                      for c in gate.cautions]
            lines += [f"{name}: {check}" for check in gate.checks]
        return lines

    def gate_citations(self, drugs: Iterable[str]) -> tuple[str, ...]:
        """The sources of every gate that rules a drug out or adds a caution to it."""
        ids: list[str] = []
        for drug in drugs:
            gate = self.gate(drug)
            if gate is not None and (not gate.allowed or gate.cautions):
                ids.extend(gate.citations)
        return tuple(ids)

    # --- citations ------------------------------------------------------------------------
    def resolve(self, citation_ids: Iterable[str]) -> list[ResolvedCitation]:
        """Known citations in order, de-duplicated; unknown ids are dropped."""
        registry = getattr(self.knowledge, "citations", None) or {}
        seen: set[str] = set()
        resolved = []
        for cid in citation_ids:
            if cid in seen or cid not in registry:
                continue
            seen.add(cid)
            citation = registry[cid]
            label = getattr(citation, "label", None) or cid
            url = getattr(citation, "url", None)
            level = getattr(citation, "verification", None)
            resolved.append(ResolvedCitation(cid, str(label), str(url) if url else None,
                                             str(level) if level else None))
        return resolved

    def fallback_source_label(self) -> str:
        version = self.assessment.knowledge_version or "unversioned"
        return f"osteocds clinical knowledge {version}"


def topic_coding(topic: str) -> dict[str, str]:
    return {"system": wording.TOPIC_SYSTEM, "code": topic, "display": wording.TOPIC_DISPLAY[topic]}
