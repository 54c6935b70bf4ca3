"""The text report of ``rulesengine check``: a block per claim as it is checked, then the
summary of the run as tables, then the one-line summary that scripts look for.

A claim gets a line (its id, outcome and number of findings) and, when it has findings, a
table of them: line, action, group code and CARC, RARCs, rule, message. The columns have
fixed widths, so the report streams (each claim is written as soon as it is checked and
only the tallies are kept: memory is flat in the number of claims) and lines up from the
first claim to the last; a value too long for its column wraps within it. The summary
tables (outcomes, findings by category, denial code, payer and rule, the procedure codes
most at risk) are counted by the same :class:`~.tally.Tally` as the HTML report.

On a terminal, tables are drawn with box characters and colour (no colour when NO_COLOR
is set). Anywhere else (a pipe, ``--output``) the layout is plain ASCII, 100 columns, with
no escape codes, so a saved report is the same from one run to the next.

The summary tables are rich Tables. The findings tables are laid out once from a rich
Table (widths, box, header, styles) and their rows are then wrapped and joined here: rich
takes about 2.5 ms to lay a table out, and a day's file has tens of thousands of claims
with findings. ``findings_table`` gives the same table as rich draws it, for comparison.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from typing import TextIO

from rich import box
from rich.cells import cell_len, chop_cells
from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from rulesengine.claims import ClaimError
from rulesengine.claims.build import KINDS, LABELS
from rulesengine.claims.model import Claim
from rulesengine.engine.results import SEVERITY_RANK, Finding, PackInfo, Result
from rulesengine.language.checker import CATEGORIES, GROUP_CODES

from .summary import Summary
from .tally import STATUSES, Tally, carc_meaning, category_name, claims_in

#: the width of a report that is not on a terminal: fixed, so a saved report is stable
WIDTH = 100
INDENT = 2  # tables sit under their heading line
#: the findings columns but the message, which takes the rest of the width
FINDING_COLUMNS = (("Line", 5), ("Action", 6), ("CARC", 6), ("RARC", 5), ("Rule", 21))
MESSAGE_COLUMN = "Message"
MIN_MESSAGE = 30
#: rows shown in the payer and rule tables; the rest are added up in one row
ROWS_SHOWN = 20

# header underlined, columns apart by blanks: rich's SIMPLE_HEAD, in ASCII for files and pipes
ASCII_HEAD = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)
STYLES = {"head": "bold", "claim": "bold", "clean": "green", "review": "yellow",
          "denied": "bold red", "unreadable": "bold red", "deny": "red", "info": "cyan",
          "title": "bold"}
_WORD = re.compile(r"\s*\S+\s*")  # a word and the blanks after it (and before the first)


def printable(text: str) -> str:
    """Claim text with its control characters (an escape code, a line break) shown as
    escapes, so a claim cannot colour, move or split the report's lines."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _cells(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` cells, broken between words as rich wraps a table cell;
    a word longer than a line starts a line and is folded, never cut."""
    if _cells(text) <= width:
        return [text]
    lines: list[str] = []
    line, used = "", 0
    for word in _WORD.findall(text):
        size = _cells(word.rstrip())
        if used + size <= width:
            line, used = line + word, used + _cells(word)
            continue
        if line:
            lines.append(line.rstrip())
        if size > width:
            *full, line = chop_cells(word, width)
            lines.extend(part.rstrip() for part in full)
            used = _cells(line)
        else:
            line, used = word, _cells(word)
    lines.append(line.rstrip())
    return lines


def _console(out: TextIO, terminal: bool, width: int | None) -> Console:
    # markup, highlighting and emoji off: claim text is shown as it is, never interpreted
    return Console(file=out, force_terminal=terminal, width=width if width or terminal else WIDTH,
                   color_system="auto" if terminal else None, markup=False, highlight=False,
                   emoji=False, legacy_windows=False, soft_wrap=False)


def _box(console: Console) -> box.Box:
    chosen = box.SIMPLE_HEAD if console.is_terminal else ASCII_HEAD
    return chosen.substitute(console.options)  # ASCII where the encoding has no box characters


def drawn(console: Console, renderable) -> str:
    """What rich draws, without the blanks it pads each line with to the console's width."""
    with console.capture() as captured:
        console.print(renderable)
    return "".join(line.rstrip() + "\n" for line in captured.get().splitlines())


def _isatty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # no isatty, or already closed
        return False


class _Paint:
    """Escape codes around a value in a style, as the console draws it (none off a
    terminal or with NO_COLOR's colours dropped)."""

    def __init__(self, console: Console):
        self.codes: dict[str, tuple[str, str]] = {}
        for name, style in STYLES.items():
            with console.capture() as captured:
                console.print(Text("\0", style=style), end="")
            before, _, after = captured.get().partition("\0")
            self.codes[name] = (before, after)

    def __call__(self, name: str, text: str) -> str:
        before, after = self.codes.get(name, ("", ""))
        return before + text + after if before and text else text


def findings_table(widths: Sequence[int], box_: box.Box, rows=()) -> Table:
    """The table of a claim's findings, as rich draws it: fixed widths, two blanks apart."""
    table = Table(box=box_, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0),
                  header_style=STYLES["head"])
    for (name, _), width in zip((*FINDING_COLUMNS, (MESSAGE_COLUMN, 0)), widths):
        table.add_column(name, width=width, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


def finding_cells(f: Finding) -> tuple[str, ...]:
    return ("claim" if f.line_number is None else str(f.line_number), f.severity,
            f"{f.group_code}-{f.carc}", " ".join(f.rarc), printable(f.rule_id),
            printable(f.message))


class _FindingsLayout:
    """The findings table's layout, worked out once; rows are then wrapped and joined."""

    def __init__(self, console: Console, paint: _Paint):
        fixed = [width for _, width in FINDING_COLUMNS]
        gaps = 2 * len(fixed)
        self.widths = [*fixed, max(MIN_MESSAGE, console.width - INDENT - sum(fixed) - gaps)]
        self.box = _box(console)
        self.gap = " " + self.box.mid_vertical  # a cell's right padding, then the column rule
        self.paint = paint
        # the header and its rule, drawn by rich
        self.head = drawn(console, Padding(findings_table(self.widths, self.box),
                                            (0, 0, 0, INDENT)))
        # a row that fits on one line (most do) is one format; the action comes painted
        action = self.widths[1]
        self.actions = {s: paint(s, s) + " " * (action - len(s)) for s in SEVERITY_RANK
                        if len(s) <= action}
        left = [f"{{:<{width}}}" for width in fixed]  # a cell padded to its column
        self.one_line = " " * INDENT + self.gap.join([left[0], "{}", *left[2:], "{}"])

    def rows(self, findings: Sequence[Finding]) -> list[str]:
        lines = [self.head]
        widths, actions = self.widths, self.actions
        for f in findings:
            cells = finding_cells(f)
            line, _, carc, rarc, rule, message = cells
            # ASCII text is as wide as it is long (codes are ASCII: the grammar's tokens)
            if (f.severity in actions and len(line) <= widths[0] and len(carc) <= widths[2]
                    and len(rarc) <= widths[3] and len(rule) <= widths[4]
                    and len(message) <= widths[5] and rule.isascii() and message.isascii()):
                lines.append(self.one_line.format(line, actions[f.severity], carc, rarc, rule,
                                                  message).rstrip() + "\n")
            else:
                lines.extend(self._wrapped(cells, f.severity))
        return lines

    def _wrapped(self, cells: Sequence[str], severity: str) -> list[str]:
        """A row over several lines: each cell wrapped in its column, blanks below."""
        columns = [wrap(cell, width) for cell, width in zip(cells, self.widths)]
        lines = []
        for i in range(max(len(c) for c in columns)):
            parts = []
            for n, (column, width) in enumerate(zip(columns, self.widths)):
                text = column[i] if i < len(column) else ""
                padding = " " * (width - _cells(text))
                parts.append((self.paint(severity, text) if n == 1 else text) + padding)
            lines.append((" " * INDENT + self.gap.join(parts)).rstrip() + "\n")
        return lines


class TextWriter:
    """Write each claim as it comes (a line, and a table of its findings), and the summary
    tables on close. ``terminal`` overrides whether ``out`` is taken for a terminal."""

    def __init__(self, out: TextIO, packs: list[PackInfo], *, terminal: bool | None = None,
                 width: int | None = None):
        self.out, self.packs = out, packs
        self.console = _console(out, _isatty(out) if terminal is None else terminal, width)
        self.paint = _Paint(self.console)
        self.layout = _FindingsLayout(self.console, self.paint)
        self.tally = Tally()
        self.outcomes = {s: "  " + self.paint(s, s.upper()) for s in STATUSES}

    def result(self, result: Result, claim: Claim | None = None) -> None:
        self.tally.add(result, claim)
        head = self.paint("claim", printable(result.claim_id)) + self.outcomes[result.status]
        count = len(result.findings)
        warned = "".join(textwrap.fill(printable(w), WIDTH, initial_indent=" " * INDENT + "warning: ",
                                       subsequent_indent=" " * (INDENT + 9), break_on_hyphens=False) + "\n"
                         for w in result.warnings)
        if not count:
            self.out.write(head + "\n" + warned)
            return
        head += f"  ({count} finding{'s' if count != 1 else ''})\n"
        self.out.write(head + warned + "".join(self.layout.rows(result.findings)))

    def error(self, error: ClaimError) -> None:
        # one line, not wrapped: the file, position and JSON path stay whole for grep
        label = LABELS[error.kind].upper()
        self.out.write(self.paint("unreadable", label) + f"  {printable(str(error))}\n")

    def close(self, summary: Summary) -> None:
        for heading, body in _summary(self.tally, summary, self.layout.box):
            self.out.write("\n" + self.paint("title", heading) + "\n" + drawn(self.console, body))
        self.out.write("\n" + summary.line(self.packs) + "\n")


# ---- the summary tables ---------------------------------------------------------------------

def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _table(box_: box.Box, columns: Sequence[tuple[str, str]], rows) -> Padding:
    """A summary table: (heading, "num" for a right-aligned figure, else "") columns."""
    table = Table(box=box_, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0),
                  header_style=STYLES["head"])
    for name, kind in columns:
        table.add_column(name, justify="right" if kind == "num" else "left", overflow="fold")
    for row in rows:
        table.add_row(*(Text(printable(cell)) for cell in row))
    return Padding(table, (0, 0, 0, INDENT))


def _note(text: str) -> Padding:
    return Padding(Text(text), (0, 0, 0, INDENT))


def _summary(t: Tally, s: Summary, box_: box.Box):
    """(heading, what is under it) for each summary table, in the HTML report's order."""
    yield "Outcomes", _outcomes(s, box_)
    yield "Findings by category", _categories(t, box_)
    yield "Findings by denial code (CARC)", _codes(t, box_)
    yield "Claims by payer", _payers(t, box_)
    yield "Procedure codes most at risk", _at_risk(t, box_)
    yield "Findings by rule", _rules(t, box_)


def _outcomes(s: Summary, box_: box.Box):
    clean, review, denied = (s.statuses[k] for k in STATUSES)
    return _table(box_, [("Outcome", ""), ("Claims", "num"), ("Share", "num"), ("", "")], [
        ["Clean", f"{clean:,}", _pct(clean, s.claims), "clean-claim rate"],
        ["Review", f"{review:,}", _pct(review, s.claims), ""],
        ["Denied", f"{denied:,}", _pct(denied, s.claims), "denial rate"],
        ["Checked", f"{s.claims:,}", _pct(s.claims, s.claims), ""],
        ["Unreadable", f"{s.unreadable:,}", "", "not checked, not in the rates"],
        *([label.capitalize(), f"{s.not_checked[kind]:,}", "", "not checked, not in the rates"]
          for kind, label in KINDS.items() if kind != "unreadable" and s.not_checked[kind]),
        *([["File errors", f"{s.file_errors:,}", "", "an envelope a clearinghouse would reject; "
            "its claims checked"]] if s.file_errors else [])])


def _categories(t: Tally, box_: box.Box):
    rows = [[category_name(c), CATEGORIES.get(c, ""), f"{n:,}", f"{claims:,}"]
            for c, n, claims in t.by_category()]
    if not rows:
        return _note("No findings.")
    return _table(box_, [("Category", ""), ("What it covers", ""), ("Findings", "num"),
                         ("Claims", "num")], rows)


def _codes(t: Tally, box_: box.Box):
    rows = [[code, carc_meaning(code), f"{n:,}", f"{claims:,}"] for code, n, claims in t.by_code()]
    if not rows:
        return _note("No findings.")
    groups = t.group_codes()
    return Group(
        _table(box_, [("Code", ""), ("Meaning", ""), ("Findings", "num"), ("Claims", "num")], rows),
        _note(f"Group code{'s' if len(groups) > 1 else ''}: "
              + "; ".join(f"{g}: {GROUP_CODES.get(g, 'unknown group code')}" for g in groups)
              + ". Texts from the X12 claim adjustment reason code list."))


def _payers(t: Tally, box_: box.Box):
    counts = [(payer, claims_in(p), p["clean"], p["review"], p["denied"], p["findings"])
              for payer, p in t.by_payer()]
    if not counts:
        return _note("No claims were checked.")
    if len(counts) > ROWS_SHOWN:  # the payers left out, added up
        rest = counts[ROWS_SHOWN:]
        counts = counts[:ROWS_SHOWN] + [(f"({len(rest):,} more payers)",
                                         *(sum(r[i] for r in rest) for i in range(1, 6)))]
    return _table(box_, [("Payer", ""), ("Claims", "num"), ("Clean", "num"), ("Review", "num"),
                         ("Denied", "num"), ("Clean rate", "num"), ("Findings", "num")],
                  [[payer, f"{n:,}", f"{c:,}", f"{r:,}", f"{d:,}", _pct(c, n), f"{found:,}"]
                   for payer, n, c, r, d, found in counts])


def _at_risk(t: Tally, box_: box.Box):
    rows = [[c.procedure, f"{c.findings:,}", f"{c.denials:,}", f"{c.rule} ({c.rule_findings:,})"]
            for c in t.at_risk()]
    if not rows:
        return _note("No finding names a procedure.")
    return _table(box_, [("Procedure", ""), ("Findings", "num"), ("Denials", "num"),
                         ("Most frequent rule", "")], rows)


def _rules(t: Tally, box_: box.Box):
    tallies = t.by_rule()
    if not tallies:
        return _note("No rule fired.")
    rows = [[rule, category_name(r.category), ", ".join(r.codes), f"{r.findings:,}",
             f"{r.claims:,}", pack] for (pack, rule), r in tallies]
    if len(tallies) > ROWS_SHOWN:
        # a claim can meet several rules: the rules left out add up their findings, not claims
        rest = sum(r.findings for _, r in tallies[ROWS_SHOWN:])
        rows = rows[:ROWS_SHOWN] + [[f"({len(tallies) - ROWS_SHOWN:,} more rules)", "", "",
                                     f"{rest:,}", "", ""]]
    return _table(box_, [("Rule", ""), ("Category", ""), ("Denial code", ""),
                         ("Findings", "num"), ("Claims", "num"), ("Pack", "")], rows)
