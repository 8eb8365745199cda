"""Formatting of the patient's evidence for card text: dates, values, Markdown sections."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from cards import wording
from service.evaluation.dates import partial_date
from service.evaluation.model import Evidence
from service.record.model import DateRange, DateSource


def iso(day: date) -> str:
    """Dates on cards are ISO: 2026-02-10."""
    text = _ISO_TEXTS.get(day)
    if text is None:
        text = day.isoformat()  # ~2,000 instructions (a format string parsed each time)
        if len(_ISO_TEXTS) < _ISO_TEXTS_LIMIT:
            _ISO_TEXTS[day] = text
    return text


_ISO_TEXTS: dict[date, str] = {}  # days are few (20,000 is 55 years of them): remembered
_ISO_TEXTS_LIMIT = 20_000


def when_text(when: DateRange | None) -> str:
    """Words for an uncertain date: exact, a range, "recorded on", or unknown."""
    if when is None or not when.is_known:
        return wording.DATE_UNKNOWN
    if when.source is DateSource.RECORDED and when.latest is not None:
        return wording.RECORDED_ON.format(date=iso(when.latest))
    if when.is_exact and when.earliest is not None:
        return iso(when.earliest)
    if when.earliest is not None and when.latest is not None:
        return partial_date(when.earliest, when.latest) or (
            f"between {iso(when.earliest)} and {iso(when.latest)}")
    if when.earliest is not None:
        return f"on or after {iso(when.earliest)}"
    return f"on or before {iso(when.latest)}" if when.latest else wording.DATE_UNKNOWN


def short_when(when: DateRange | None) -> str:
    """A compact date for a summary: the exact day, the latest bound, or "date unknown"."""
    if when is None or not when.is_known:
        return wording.DATE_UNKNOWN
    if when.source is DateSource.RECORDED and when.latest is not None:
        return wording.RECORDED_ON.format(date=iso(when.latest))
    if when.is_exact and when.earliest is not None:
        return iso(when.earliest)
    bound = when.latest or when.earliest
    return iso(bound) if bound else wording.DATE_UNKNOWN


def latest_day(when: DateRange | None) -> date:
    """For ordering events: the latest possible day (unknown dates sort first)."""
    if when is None:
        return date.min
    return when.latest or when.earliest or date.min


# Characters that make Markdown out of plain text: emphasis, code, links and images, raw HTML,
# table cells. Record text (a medication's name, a diagnosis typed in free text, a unit) is
# shown as typed, never as a link or markup.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def plain(text: str) -> str:
    """`text` with its Markdown specials backslash-escaped: it renders as the same characters."""
    if _MARKDOWN_SPECIAL.search(text) is None:  # most lines: a scan, not a substitution
        return text
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def evidence_line(evidence: Evidence, *, undated_note: str | None = None) -> str:
    """One Markdown bullet: what, value, date, note (all plain text: `plain`)."""
    text = evidence.description
    dated = evidence.when is not None and evidence.when.is_known
    if evidence.value and not (dated and evidence.value == when_text(evidence.when)):
        text += f": {evidence.value}"
    if dated:
        text += f" ({when_text(evidence.when)})"
    elif undated_note and "verify" not in (evidence.note or "").lower():
        text += f" ({undated_note})"
    elif evidence.when is not None:
        text += f" ({wording.DATE_UNKNOWN})"
    if evidence.note:
        text += f"; {evidence.note}"
    return f"- {plain(text)}"


def bullets(lines: Iterable[str]) -> list[str]:
    """Markdown bullets from plain lines (lines already bulleted are kept)."""
    return [line if line.lstrip().startswith("- ") else f"- {line}" for line in lines if line]


def section(heading: str, lines: Iterable[str]) -> str:
    """A bold heading followed by its bullets; empty when there are no lines."""
    body = bullets(lines)
    return "\n".join([heading, *body]) if body else ""


def join_sections(*sections: str) -> str:
    """The card detail: sections separated by blank lines, empty ones dropped."""
    return "\n\n".join(part for part in sections if part)


def drug_name(drug: str | None) -> str:
    """Clinician name of a knowledge drug id."""
    if not drug:
        return "this medication"
    return wording.DRUG_NAMES.get(drug, drug.replace("-", " "))


def names_list(names: Iterable[str], conjunction: str = "or") -> str:
    """'a', 'a or b', 'a, b or c'."""
    items = list(names)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"
