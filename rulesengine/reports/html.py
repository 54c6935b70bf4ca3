"""A one-page HTML summary of a check run, for people: figures, charts and tables.

The page is self-contained: inline CSS and SVG charts drawn here, no script, font, image
or style sheet fetched from anywhere, so it opens offline, travels as an attachment and
prints. The writer keeps tallies, not results, so memory is flat in the number of claims:
counters bounded by the rules and codes in play, and at most ``examples`` denied claims
and ``ERRORS_KEPT`` unreadable ones as examples. Claims and packs are untrusted text:
every value goes through :func:`html.escape`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import TextIO

from rulesengine.claims import ClaimError
from rulesengine.claims.build import FILE_ERROR
from rulesengine.claims.model import Claim
from rulesengine.engine.results import PackInfo, Result
from rulesengine.language.checker import CATEGORIES, GROUP_CODES
from rulesengine.version import __version__

from .summary import Summary
from .tally import Tally, carc_meaning, category_name, claims_in, procedure_of

STATUS_COLOURS = {"clean": "#1a7f37", "review": "#9a6700", "denied": "#cf222e"}
BAR_COLOUR = "#0969da"
ERRORS_KEPT = 20
FINDINGS_PER_EXAMPLE = 10


@dataclass
class _Example:
    claim_id: str
    payer: str
    rows: list[tuple[str, ...]]  # line, procedure, code, severity, rule, message
    more: int


class HtmlWriter:
    """Tally results as they come; write the whole page on close."""

    def __init__(self, out: TextIO, packs: list[PackInfo], *, examples: int = 50,
                 generated: datetime | None = None):
        self.out, self.packs, self.examples = out, packs, examples
        self.generated = generated or datetime.now(UTC)
        self.tally = Tally()
        self.denied: list[_Example] = []
        self.errors: list[str] = []
        self.file_errors: list[str] = []  # about a file, not a claim: an X12 envelope
        self.warnings: list[str] = []  # what readers read past, by claim (the first ones)
        self.warning_count = 0

    def result(self, result: Result, claim: Claim | None = None) -> None:
        payer = self.tally.add(result, claim)
        self.warning_count += len(result.warnings)
        for warning in result.warnings[:max(0, ERRORS_KEPT - len(self.warnings))]:
            self.warnings.append(f"{result.claim_id}: {warning}")
        if result.status == "denied" and len(self.denied) < self.examples:
            self.denied.append(_example(result, payer, claim))

    def error(self, error: ClaimError) -> None:
        kept = self.file_errors if error.kind == FILE_ERROR else self.errors
        if len(kept) < ERRORS_KEPT:
            kept.append(str(error))

    def close(self, summary: Summary) -> None:
        self.out.write(_page(self, summary))


def _example(result: Result, payer: str, claim: Claim | None) -> _Example:
    rows = []
    for f in result.findings[:FINDINGS_PER_EXAMPLE]:
        rows.append(("claim" if f.line_number is None else str(f.line_number),
                     procedure_of(f, claim) or "", " ".join([f"{f.group_code}-{f.carc}", *f.rarc]),
                     f.severity, f.rule_id, f.message))
    return _Example(result.claim_id, payer, rows, len(result.findings) - len(rows))


# ---- the page ---------------------------------------------------------------------------

def _e(value) -> str:
    return escape(str(value), quote=True)


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _page(w: HtmlWriter, s: Summary) -> str:
    clean, review, denied = (s.statuses[k] for k in ("clean", "review", "denied"))
    title = f"Claims check: {_pct(clean, s.claims)} clean ({_plural(s.claims, 'claim')})"
    when = w.generated.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    packs = ", ".join(f"{p.id} {p.version}" for p in w.packs)
    parts = [
        (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
         f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
         f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
         f'<header>\n<h1>Claims check report</h1>\n<p class="meta">Generated {_e(when)} · '
         f"pack{'s' if len(w.packs) != 1 else ''} {_e(packs)}</p>\n</header>\n<main>\n"),
        _overview(s, clean, review, denied),
        _categories(w.tally), _carc_section(w.tally), _payer_section(w.tally),
        _codes_at_risk(w.tally), _rules_section(w.tally), _denied_section(w, denied),
        _errors_section(w, s.errors), _file_errors_section(w, s.file_errors),
        _listed("warnings", "Reader warnings", "<p>What the readers read past to build these "
                "claims (an element they could not use, an item left out); the claims were "
                "checked.</p>\n", w.warnings, w.warning_count),
        "</main>\n", _footer(w), "</body>\n</html>\n",
    ]
    return "".join(parts)


def _overview(s: Summary, clean: int, review: int, denied: int) -> str:
    flagged = review + denied
    cards = [
        ("claims", "Claims checked", f"{s.claims:,}",
         f"plus {s.errors:,} not checked" if s.errors else "every claim was checked", ""),
        ("clean-rate", "Clean-claim rate", _pct(clean, s.claims),
         f"{clean:,} of {s.claims:,} with no finding", "good"),
        ("denial-rate", "Denial rate", _pct(denied, s.claims),
         f"{denied:,} of {s.claims:,} likely denied", "bad"),
        ("review", "For review", f"{review:,}", f"{_pct(review, s.claims)} of claims checked",
         "warn"),
        ("unreadable", "Not checked", f"{s.errors:,}",
         f"{s.not_checked_text() if s.errors else 'none'}; not in the rates"
         + (f"; plus {_plural(s.file_errors, 'file error')}" if s.file_errors else ""),
         "bad" if s.errors or s.file_errors else ""),
        ("findings", "Findings", f"{s.findings:,}", f"on {_plural(flagged, 'claim')}", ""),
    ]
    items = "".join(
        f'<div class="figure {tone}" id="figure-{key}"><dt>{label}</dt>'
        f'<dd class="value">{_e(value)}</dd><dd class="note">{_e(note)}</dd></div>\n'
        for key, label, value, note, tone in cards)
    segments = [(n, STATUS_COLOURS[k], k) for k, n in (("clean", clean), ("review", review),
                                                       ("denied", denied))]
    return (f'<section aria-labelledby="h-overview">\n<h2 id="h-overview">At a glance</h2>\n'
            f'<dl class="figures">\n{items}</dl>\n'
            f'<h3>Outcome of the claims checked</h3>\n{_outcome_bar(segments, s.claims)}'
            f"</section>\n")


def _outcome_bar(segments, total: int) -> str:
    """One bar split into clean, review and denied, with a legend that carries the figures."""
    if not total:
        return '<p class="empty">No claims were checked.</p>\n'
    width, height, x = 1000, 36, 0.0
    shapes, legend = [], []
    for n, colour, name in segments:
        share = width * n / total
        tip = f"{name}: {_plural(n, 'claim')} ({_pct(n, total)})"
        if n:
            label = f"{name} {_pct(n, total)}" if share > 110 else ""
            shapes.append(f'<g><title>{_e(tip)}</title><rect x="{x:.1f}" y="0" width="{share:.1f}" '
                          f'height="{height}" fill="{colour}"/>' +
                          (f'<text x="{x + 10:.1f}" y="{height / 2 + 5}" class="on-bar">'
                           f"{_e(label)}</text>" if label else "") + "</g>")
        legend.append(f'<li><span class="swatch" style="background:{colour}"></span>'
                      f"{_e(name.capitalize())}: <strong>{n:,}</strong> ({_pct(n, total)})</li>")
        x += share
    alt = "Outcome of the claims checked: " + "; ".join(
        f"{name} {n:,} ({_pct(n, total)})" for n, _, name in segments)
    return (f'<svg class="outcome" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{_e(alt)}"><title>{_e(alt)}</title>{"".join(shapes)}</svg>\n'
            f'<ul class="legend">{"".join(legend)}</ul>\n')


def _bars(caption: str, rows: list[tuple[str, list[tuple[int, str]], str, str]]) -> str:
    """A horizontal bar chart: rows of (label, [(value, colour)...], value text, tooltip).

    Several values in a row stack. The chart's text alternative lists every row."""
    width, label_w, row_h, bar_h = 460, 136, 30, 20
    # room for the longest figure after its bar (about 7px a character at 13px)
    value_w = 12 + 7 * max((len(text) for _, _, text, _ in rows), default=0)
    bar_w = max(width - label_w - value_w, 120)
    top = max((sum(v for v, _ in segs) for _, segs, _, _ in rows), default=0) or 1
    out = []
    for i, (label, segs, value_text, tip) in enumerate(rows):
        y = 6 + i * row_h
        short = label if len(label) <= 18 else label[:17] + "…"
        x = float(label_w)
        rects = []
        for value, colour in segs:
            w = bar_w * value / top
            if value:
                rects.append(f'<rect x="{x:.1f}" y="{y}" width="{max(w, 2):.1f}" height="{bar_h}" '
                             f'fill="{colour}"/>')
            x += w
        out.append(f'<g><title>{_e(tip)}</title>'
                   f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end">{_e(short)}</text>'
                   f'{"".join(rects)}<text x="{x + 6:.1f}" y="{y + 14}" class="value">'
                   f"{_e(value_text)}</text></g>")
    width, height = label_w + bar_w + value_w, 12 + len(rows) * row_h
    alt = f"{caption}: " + "; ".join(f"{label} {value_text}" for label, _, value_text, _ in rows)
    return (f'<svg class="bars" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'role="img" aria-label="{_e(alt)}"><title>{_e(alt)}</title>{"".join(out)}</svg>\n')


def _section(key: str, heading: str, body: str) -> str:
    return (f'<section aria-labelledby="h-{key}">\n<h2 id="h-{key}">{_e(heading)}</h2>\n'
            f"{body}</section>\n")


def _empty(text: str) -> str:
    return f'<p class="empty">{_e(text)}</p>\n'


NUM = ' class="num"'


def _table(table_id: str, columns: list[tuple[str, str]], rows: list[list[str]]) -> str:
    """A table of (heading, class) columns; each row's cells are HTML, the first a row header."""
    attr = [f' class="{cls}"' if cls else "" for _, cls in columns]
    head = "".join(f'<th scope="col"{NUM if cls == "num" else ""}>{_e(name)}</th>'
                   for name, cls in columns)
    body = []
    for row in rows:
        cells = [f'<th scope="row"{attr[0]}>{row[0]}</th>']
        cells += [f"<td{a}>{cell}</td>" for a, cell in zip(attr[1:], row[1:])]
        body.append(f"<tr>{''.join(cells)}</tr>\n")
    return (f'<table id="{table_id}">\n<thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{''.join(body)}</tbody>\n</table>\n")


def _pair(chart: str, table: str, note: str = "") -> str:
    return (f'<div class="pair">\n<div class="chart">{chart}</div>\n'
            f"<div>{table}{note}</div>\n</div>\n")


def _categories(t: Tally) -> str:
    heading = "Findings by category"
    ordered = t.by_category()
    if not ordered:
        return _section("categories", heading, _empty("No findings."))
    rows = [(category_name(c), [(n, BAR_COLOUR)], _plural(n, "finding"),
             f"{category_name(c)}: {_plural(n, 'finding')}") for c, n, _ in ordered]
    table = _table("categories", [("Category", ""), ("What it covers", ""), ("Findings", "num"),
                                  ("Claims", "num")],
                   [[_e(category_name(c)), _e(CATEGORIES.get(c, "")), f"{n:,}", f"{claims:,}"]
                    for c, n, claims in ordered])
    return _section("categories", heading, _pair(_bars(heading, rows), table))


def _carc_section(t: Tally) -> str:
    heading = "Findings by denial code (CARC)"
    ordered = t.by_code()
    if not ordered:
        return _section("carc", heading, _empty("No findings."))
    rows = [(code, [(n, BAR_COLOUR)], _plural(n, "finding"), f"{code}: {_plural(n, 'finding')}")
            for code, n, _ in ordered]
    table = _table("carcs", [("Code", "code"), ("Meaning", ""), ("Findings", "num"),
                             ("Claims", "num")],
                   [[_e(code), _e(carc_meaning(code)), f"{n:,}", f"{claims:,}"]
                    for code, n, claims in ordered])
    groups = t.group_codes()
    note = ('<p class="muted">Group code' + ("s" if len(groups) > 1 else "") + ": " +
            "; ".join(f"{_e(g)}: {_e(GROUP_CODES.get(g, 'unknown group code'))}" for g in groups) +
            ". Texts from the X12 claim adjustment reason code list.</p>\n")
    return _section("carc", heading, _pair(_bars(heading, rows), table, note))


def _payer_section(t: Tally) -> str:
    heading = "Claims by payer"
    ordered = t.by_payer()
    if not ordered:
        return _section("payers", heading, _empty("No claims were checked."))
    rows = [(payer, [(p[k], STATUS_COLOURS[k]) for k in ("clean", "review", "denied")],
             f"{claims_in(p):,} · {_pct(p['clean'], claims_in(p))} clean",
             f"{payer}: {p['clean']} clean, {p['review']} review, {p['denied']} denied")
            for payer, p in ordered]
    table = _table("payers", [("Payer", ""), ("Claims", "num"), ("Clean", "num"),
                              ("Review", "num"), ("Denied", "num"), ("Clean rate", "num"),
                              ("Findings", "num")],
                   [[_e(payer), f"{claims_in(p):,}", f"{p['clean']:,}", f"{p['review']:,}",
                     f"{p['denied']:,}", _pct(p["clean"], claims_in(p)), f"{p['findings']:,}"]
                    for payer, p in ordered])
    return _section("payers", heading, _pair(_bars(f"{heading} (clean, review, denied)", rows),
                                             table))


def _codes_at_risk(t: Tally) -> str:
    heading = "Procedure codes most at risk"
    if not t.procedures:
        return _section("codes", heading, _empty("No finding names a procedure."))
    rows, cells = [], []
    for c in t.at_risk():
        rows.append((c.procedure, [(c.denials, STATUS_COLOURS["denied"]),
                                   (c.findings - c.denials, STATUS_COLOURS["review"])],
                     _plural(c.findings, "finding"),
                     f"{c.procedure}: {_plural(c.findings, 'finding')}, {c.denials:,} that deny"))
        cells.append([_e(c.procedure), f"{c.findings:,}", f"{c.denials:,}",
                      f'<span class="id">{_e(c.rule)}</span> ({c.rule_findings:,})'])
    table = _table("codes", [("Procedure", "code"), ("Findings", "num"), ("Denials", "num"),
                             ("Most frequent rule", "")], cells)
    lead = ('<p class="lead">The procedures with the most findings: red, findings that deny; '
            "amber, findings for review.</p>\n")
    return _section("codes", heading, lead + _pair(_bars(heading, rows), table))


def _rules_section(t: Tally) -> str:
    ordered = t.by_rule()
    if not ordered:
        return _section("rules", "Findings by rule", _empty("No rule fired."))
    table = _table("rules", [("Rule", "id"), ("Category", ""), ("Denial code", "code"),
                             ("Findings", "num"), ("Claims", "num"), ("Pack", "")],
                   [[_e(rule), _e(category_name(r.category)), _e(", ".join(r.codes)),
                     f"{r.findings:,}", f"{r.claims:,}", _e(pack)]
                    for (pack, rule), r in ordered])
    return _section("rules", "Findings by rule", table)


def _denied_section(w: HtmlWriter, denied: int) -> str:
    if not denied:
        return _section("denied", "Denied claims", _empty("No claim would be denied."))
    shown = len(w.denied)
    heading = ("Denied claims" if shown == denied else
               f"Denied claims (the first {shown:,} of {denied:,})")
    groups = []
    for ex in w.denied:
        rows = ex.rows + ([("", "", "", "", "", f"… and {_plural(ex.more, 'more finding')}")]
                          if ex.more else [])
        cells = []
        for i, (line, proc, code, severity, rule, message) in enumerate(rows):
            head = (f'<th scope="rowgroup" rowspan="{len(rows)}"><span class="id">'
                    f'{_e(ex.claim_id)}</span><br><span class="muted">{_e(ex.payer)}</span></th>'
                    if i == 0 else "")
            tag = f' <span class="tag">{_e(severity)}</span>' if severity in ("review", "info") else ""
            cells.append(f'<tr>{head}<td class="num">{_e(line)}</td>'
                         f'<td class="code">{_e(proc)}</td>'
                         f'<td class="code">{_e(code)}{tag}</td><td class="id">{_e(rule)}</td>'
                         f"<td>{_e(message)}</td></tr>\n")
        groups.append(f"<tbody>\n{''.join(cells)}</tbody>\n")
    body = ('<table id="denied">\n<thead><tr><th scope="col">Claim</th>'
            '<th scope="col" class="num">Line</th><th scope="col">Procedure</th>'
            '<th scope="col">Denial code</th><th scope="col">Rule</th>'
            '<th scope="col" class="why">Why</th>'
            f"</tr></thead>\n{''.join(groups)}</table>\n")
    return _section("denied", heading, body)


def _errors_section(w: HtmlWriter, unreadable: int) -> str:
    return _listed("unreadable", "Claims not checked", "", w.errors, unreadable)


def _file_errors_section(w: HtmlWriter, count: int) -> str:
    return _listed("file-errors", "File errors",
                   "<p>An envelope a clearinghouse would reject the interchange for (a segment "
                   "count or control number that does not match); the claims inside were read "
                   "whole and are checked above.</p>\n", w.file_errors, count)


def _listed(key: str, heading: str, intro: str, kept: list[str], count: int) -> str:
    """A section listing the errors kept, and how many more there were; none for none."""
    if not count:
        return ""
    more = count - len(kept)
    items = "".join(f"<li>{_e(text)}</li>\n" for text in kept)
    tail = f'<p class="muted">… and {more:,} more.</p>\n' if more > 0 else ""
    return _section(key, heading, f'{intro}<ul class="errors">\n{items}</ul>\n{tail}')


def _footer(w: HtmlWriter) -> str:
    rows = "".join(f'<tr><td>{_e(p.id)}</td><td>{_e(p.version)}</td><td class="hash">{_e(p.hash)}'
                   f"</td></tr>\n" for p in w.packs)
    return (f'<footer>\n<h2 id="h-packs">Rule packs</h2>\n<table id="packs">\n<thead><tr>'
            f'<th scope="col">Pack</th><th scope="col">Version</th>'
            f'<th scope="col">Content hash</th>'
            f"</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n"
            f"<p>Rates are of the claims checked; unreadable claims are not checked and not in "
            f"the rates. Denial codes are those the payer would most likely use; CARC texts "
            f"from the X12 code list. Made by rulesengine {_e(__version__)}.</p>\n</footer>\n")


CSS = """
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:#1f2328;
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header,main,footer{max-width:1160px;margin:0 auto;padding:0 24px}
header{padding-top:28px}
h1{font-size:28px;margin:0 0 2px}
h2{font-size:19px;margin:0 0 14px}
h3{font-size:15px;margin:22px 0 8px}
.meta,.muted,.lead{color:#57606a}
.lead{margin:-6px 0 12px}
section{background:#fff;border:1px solid #d0d7de;border-radius:10px;padding:20px 24px;margin:20px 0}
.pair{display:grid;grid-template-columns:minmax(0,5fr) minmax(0,6fr);gap:28px;align-items:start}
.figures{display:grid;grid-template-columns:repeat(6,minmax(0,1fr));gap:12px;margin:0}
.figure{border:1px solid #d0d7de;border-top:4px solid #8c959f;border-radius:8px;padding:10px 14px}
.figure.good{border-top-color:#1a7f37}.figure.bad{border-top-color:#cf222e}
.figure.warn{border-top-color:#9a6700}
.figure dt{font-size:13px;font-weight:600;color:#57606a}
.figure dd{margin:0}
.figure .value{font-size:30px;font-weight:700;line-height:1.25;font-variant-numeric:tabular-nums}
.figure.good .value{color:#1a7f37}.figure.bad .value{color:#cf222e}
.figure .note{font-size:12.5px;color:#57606a}
svg{display:block;max-width:100%;height:auto}
svg text{font:13px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#1f2328}
svg text.value{fill:#57606a}
svg.outcome{width:100%;border-radius:6px}
svg text.on-bar{fill:#fff;font-weight:600;font-size:14px}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:6px 24px;padding:0;margin:10px 0 0}
.swatch{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:6px;
vertical-align:-1px}
table{border-collapse:collapse;width:100%;font-size:14px;margin-top:8px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #d8dee4;vertical-align:top}
thead th{background:#f6f8fa;border-bottom:2px solid #d0d7de;font-weight:600}
tbody th{font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums}
.code{white-space:nowrap}
.id{overflow-wrap:anywhere}
th.why{width:36%}
.code,.id,.hash{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.hash{word-break:break-all}
#denied tbody{border-top:2px solid #d0d7de}
.tag{font:600 11px system-ui,sans-serif;text-transform:uppercase;color:#9a6700;
border:1px solid #9a6700;border-radius:4px;padding:0 4px}
.errors{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;
padding-left:20px;overflow-wrap:anywhere}
.empty{color:#57606a;font-style:italic}
footer{padding-bottom:32px;color:#57606a;font-size:13px}
footer h2{font-size:16px;color:#1f2328;margin-top:8px}
@media (max-width:900px){.figures{grid-template-columns:repeat(3,minmax(0,1fr))}
.pair{grid-template-columns:1fr}}
@media print{
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{background:#fff;font-size:10.5pt}
header,main,footer{max-width:none;padding:0}
section{border:none;padding:0;margin:14pt 0}
section,tr,.figure,svg{break-inside:avoid}
h2,h3{break-after:avoid}
thead{display:table-header-group}
}
"""
