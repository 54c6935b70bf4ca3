"""The text report of ``rulesengine explain``: each claim, its lines, and under each the
rules explained on it (what the rule checks, what it saw, why it fired or passed, the
finding, the fix and where the rule lives), wrapped for a terminal.
"""

from __future__ import annotations

import textwrap

from rulesengine.engine.runtime import display
from rulesengine.language.fields import FIELDS

from .say import noun, show

WIDTH = 100
_LABELS = {"fired": "FIRED", "passed": "passed", "unknown": "passed: could not tell",
           "not-applicable": "does not apply", "disabled": "disabled"}


def _field(label: str, text: str, indent: str) -> list[str]:
    lead = f"{indent}{label:<9}"
    return textwrap.wrap(text, WIDTH, initial_indent=lead, subsequent_indent=" " * len(lead),
                         break_on_hyphens=False, break_long_words=False)


def _saw(values: dict) -> str:
    parts = []
    for path, value in values.items():
        kind = FIELDS[path].type if path in FIELDS else ""
        parts.append(f"{noun(path)}: {show(value, kind)}")
    return "; ".join(parts)


def _line_head(line) -> str:
    units = f"{display(line.units)} unit{'' if line.units == 1 else 's'}"
    dates = line.service_date.isoformat() + (f" to {line.service_date_to.isoformat()}" if line.service_date_to else "")
    mods = f"modifiers {', '.join(line.modifiers)}" if line.modifiers else "no modifiers"
    dx = f"diagnoses {', '.join(line.diagnoses)}" if line.diagnoses else "no diagnoses"
    return f"line {line.line_number}: {line.procedure or '(no procedure)'} on {dates}, {units}, {mods}, {dx}"


def _claim_head(claim) -> str:
    parts = [f"{claim.claim_type} claim", f"payer {claim.payer_id or 'missing'}"
             + (f" ({claim.plan})" if claim.plan else ""),
             f"received {claim.received_date}" if claim.received_date else "no received date"]
    if claim.prior_authorization:
        parts.append(f"prior authorization {claim.prior_authorization}")
    patient = f"patient {claim.sex or 'sex missing'}, born {show(claim.birth_date)}"
    dx = f"diagnoses {', '.join(claim.diagnoses)}" if claim.diagnoses else "no diagnoses"
    return ", ".join(parts) + f"; {patient}; {dx}"


def render_claim(x, info) -> str:
    """One claim's explanation as text."""
    result = x.result
    count = len(result.findings)
    out = [(f"{x.claim.claim_id}  {result.status.upper()}  ({count} finding{'' if count == 1 else 's'}; "
            f"pack {info.id} {info.version})")]
    out += textwrap.wrap(_claim_head(x.claim), WIDTH, initial_indent="  ", subsequent_indent="  ",
                         break_on_hyphens=False)
    if x.payer_note:
        out += _field("note:", x.payer_note, "  ")
    for problem in x.disagreements:
        out += textwrap.wrap(f"!! DISAGREEMENT with rulesengine check: {problem}. The explanation or "
                             "the checker is wrong; please report it.", WIDTH, initial_indent="  ",
                             subsequent_indent="     ", break_on_hyphens=False)
    described: set[tuple] = set()
    heading = object()
    for e in x.explanations:
        here = e.line.line_number if e.line is not None else None
        if here != heading:
            heading = here
            out.append("")
            out.append(f"  {_line_head(e.line)}" if e.line is not None else "  the claim")
        status = _LABELS[e.outcome] + (f"  {e.action}" if e.fired else "")
        out.append(f"    {e.rule_id}  {status}")
        pad = "      "
        version = (e.rule_id, e.pack, e.source_file, e.source_line)  # layers may leave several
        first = version not in described
        described.add(version)
        if e.title:
            out += _field("rule", e.title + ("" if first else " (as above)"), pad)
        if first and e.checks:
            out += _field("checks", e.checks, pad)
        if e.values:
            out += _field("saw", _saw(e.values), pad)
        out += _field("why", e.reason, pad)
        if e.finding:
            out += _field("finding", e.finding, pad)
        if e.fix:
            out += _field("fix", e.fix, pad)
        if first:
            out += _field("source", f"{e.pack}, {e.source_file}:{e.source_line}", pad)
            if e.citation:
                out += _field("cites", e.citation, pad)
    if not x.explanations:
        out += ["", "  no rule of the pack could apply to this claim"]
    return "\n".join(out) + "\n"


def render(explained: list, info) -> str:
    """The text report of every claim explained, with a closing count."""
    blocks = [render_claim(x, info) for x in explained]
    fired = sum(e.fired for x in explained for e in x.explanations)
    off = sum(bool(x.disagreements) for x in explained)
    tail = (f"{len(explained)} claim{'' if len(explained) == 1 else 's'} explained with pack {info.id} "
            f"{info.version}: {fired} rule{'' if fired == 1 else 's'} fired")
    if off:
        tail += f"; {off} DISAGREE with rulesengine check (a bug: please report it)"
    return "\n".join(blocks) + ("\n" if blocks else "") + tail + "\n"
