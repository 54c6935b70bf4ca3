"""``rulesengine test PACK...``: run the tests a pack keeps beside its rules, and report.

A pack's ``tests/`` folder holds YAML files (``*.yaml``, ``*.yml``, in sub-folders too), each
a list of tests: a claim and the findings the pack must produce for it. ``read``
reads and checks them (its docstring sums up the format; docs/pack-tests.md is the guide).

Each test is checked with both evaluators (the compiled one and the reference
interpreter); when they disagree the test fails, since that is an engine bug. The run
prints the failing tests with what was missing and what was unexpected, ``-v`` lists
every test, and the summary line is ``N passed, N failed`` (``, N errors`` when a pack or
a test file is broken: one error per problem). After it, the rule coverage: the rules of
each pack (defined or overridden in it; inherited rules are covered by the tests of the
pack that defines them) that no test fired. Exit status: 0 every test passed, 1 a test
failed (or, with ``--require-coverage``, a rule is not covered), 2 a broken pack or test
file.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rulesengine.engine.history import MemoryHistory
from rulesengine.engine.results import Finding
from rulesengine.language import ast
from rulesengine.language.diagnostics import (
    Diagnostic,
    PackError,
    did_you_mean,
    source_line,
)
from rulesengine.packs.load import CompiledPack, load_pack

from .read import Case, Expected, overlay, read_test_file

__all__ = ["EXIT_BROKEN", "EXIT_FAILED", "EXIT_OK", "PackRun", "compare", "describe_expected",
           "describe_finding", "junit_xml", "overlay", "read_test_file", "report", "run_pack"]

EXIT_OK, EXIT_FAILED, EXIT_BROKEN = 0, 1, 2


@dataclass
class PackRun:
    folder: str
    pack: CompiledPack | None = None
    cases: list[Case] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)  # the pack's and whole files'
    sources: dict[str, str] = field(default_factory=dict)  # file -> text, for error carets
    fired: set[tuple[str, str]] = field(default_factory=set)  # (rule id, its layer) of findings

    def uncovered(self) -> list[tuple[str, str, int]]:
        """(rule id, file, line) of the pack's own rules that no test fired. The layer counts:
        a claim outside a windowed pack's window fires the inherited version of its override."""
        if self.pack is None:
            return []
        return [(r.id, self.pack.facts(r).source_file, r.pos.line) for r in self.own_rules()
                if (r.id, self.pack.id) not in self.fired]

    def own_rules(self) -> list[ast.Rule]:
        return [r for r in self.pack.rules if self.pack.facts(r).pack == self.pack.id]


# ---- running -----------------------------------------------------------------------------------

def run_pack(folder: str) -> PackRun:
    """Load a pack (with the packs it extends) and run every test in its tests/ folder."""
    run = PackRun(folder)
    try:
        run.pack = load_pack(folder)
    except PackError as error:
        run.problems.extend(error.diagnostics)
        run.sources.update(error.sources)
        return run
    tests_dir = Path(folder) / "tests"
    files = sorted(p for pattern in ("*.yaml", "*.yml") for p in tests_dir.rglob(pattern)
                   if not p.name.startswith("."))
    if not files:
        run.problems.append(Diagnostic("no-tests", ast.Pos(_shown(tests_dir), 1, 1),
                                       f"pack {run.pack.id} has no test files",
                                       f"write tests as YAML files in {_shown(tests_dir)}/"))
        return run
    claim_files: dict = {}
    for file in files:
        shown = _shown(file)
        cases, problems, text = read_test_file(file, shown, claim_files)
        run.sources[shown] = text
        run.problems.extend(problems)
        for case in cases:
            _check_against_pack(case, run.pack)
            if not case.problems:
                _run_case(case, run)
            run.cases.append(case)
    return run


def _check_against_pack(case: Case, pack: CompiledPack) -> None:
    """Problems only the pack can show: a rule it does not have, a line the claim does not have."""
    ids = list(dict.fromkeys(r.id for r in pack.rules))  # a rule may have several versions
    lines = [ln.line_number for ln in case.claim.lines] if case.claim else None
    for e in case.expect:
        if e.rule not in ids:
            case.problems.append(Diagnostic(
                "unknown-rule", case.locate((*e.path, "rule")),
                f"test '{case.name}': rule: pack {pack.id} has no rule {e.rule}",
                did_you_mean(e.rule, ids) or "its rules: " + ", ".join(ids)))
        if lines is not None and e.line is not None and e.line not in lines:
            case.problems.append(Diagnostic(
                "bad-test", case.locate((*e.path, "line")),
                f"test '{case.name}': line: the claim has no line {e.line}",
                "its lines: " + ", ".join(map(str, lines))))


def _run_case(case: Case, run: PackRun) -> None:
    started = time.perf_counter()
    results = {}
    # a pack with frequency or duplicate rules checks against the test's history: the
    # claims it lists, or none (a test that says nothing has no earlier claims)
    given = ({"history": MemoryHistory(case.history)}
             if run.pack.history_rules or case.history else {})
    for name in ("check", "check_reference"):
        try:
            results[name] = getattr(run.pack, name)(case.claim, **given).findings
        except Exception as error:  # noqa: BLE001 - an engine bug: this test's failure
            results[name] = error
    case.seconds = time.perf_counter() - started
    compiled, reference = results["check"], results["check_reference"]
    for findings in (compiled, reference):
        if not isinstance(findings, Exception):
            run.fired.update((f.rule_id, f.pack) for f in findings)
    case.report = _engine_problems(compiled, reference)
    if not case.report:
        case.report = compare(case.expect, list(compiled))
    case.outcome = "failed" if case.report else "passed"


def _engine_problems(compiled, reference) -> list[str]:
    out = []
    for label, value in (("compiled evaluator", compiled), ("reference interpreter", reference)):
        if isinstance(value, Exception):
            out.append(f"the {label} failed (an engine bug): {type(value).__name__}: {value}")
    if out:
        return out
    if [f.to_dict() for f in compiled] == [f.to_dict() for f in reference]:
        return []
    left = Counter(json.dumps(f.to_dict(), sort_keys=True) for f in compiled)
    right = Counter(json.dumps(f.to_dict(), sort_keys=True) for f in reference)
    out.append("the compiled evaluator and the reference interpreter disagree (an engine bug):")
    for label, mine, theirs, findings in (("compiled only", left, right, compiled),
                                          ("reference only", right, left, reference)):
        extra = mine - theirs
        for f in findings:
            text = json.dumps(f.to_dict(), sort_keys=True)
            if extra[text] > 0:
                extra[text] -= 1
                out.append(f"{label:<15} {describe_finding(f)}")
    if len(out) == 1:
        out.append("the same findings, in a different order")
    return out


# ---- comparing -----------------------------------------------------------------------------------

def _key(f: Finding):
    return (f.rule_id, f.line_number, f.carc)


def _differences(e: Expected, f: Finding) -> list[str]:
    """How a finding with the expected (rule, line, CARC) differs in the extras the test gives."""
    out = []
    if e.group is not None and e.group != f.group_code:
        out.append(f"group {f.group_code}, expected {e.group}")
    if e.rarc is not None and e.rarc != tuple(sorted(f.rarc)):
        out.append(f"RARC {' '.join(f.rarc) or '(none)'}, expected {' '.join(e.rarc) or '(none)'}")
    if e.severity is not None and e.severity != f.severity:
        out.append(f"severity {f.severity}, expected {e.severity}")
    if e.message is not None and e.message not in f.message:
        out.append(f'message does not contain "{e.message}"')
    return out


def compare(expected: list[Expected], actual: list[Finding]) -> list[str]:
    """What a user must read when the findings are not the expected ones; empty when they
    are. A multiset match: each expected finding takes a distinct actual one."""
    fits = [[j for j, f in enumerate(actual) if _key(f) == e.key and not _differences(e, f)]
            for e in expected]
    owner: dict[int, int] = {}  # actual index -> expected index

    def take(i: int, seen: set) -> bool:  # augmenting path (Kuhn): findings are few
        for j in fits[i]:
            if j not in seen:
                seen.add(j)
                if j not in owner or take(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(expected)):
        take(i, set())
    missing = [e for i, e in enumerate(expected) if i not in owner.values()]
    unexpected = [f for j, f in enumerate(actual) if j not in owner]
    lines = []
    for e in missing:
        near = next((f for f in unexpected if _key(f) == e.key), None)
        if near is not None:
            unexpected.remove(near)
            lines.append(f"~ differs     {describe_finding(near)}")
            lines.append(f"{'':14}{'; '.join(_differences(e, near))}")
        else:
            lines.append(f"- missing     {describe_expected(e)}")
    lines += [f"+ unexpected  {describe_finding(f)}" for f in unexpected]
    if lines and not actual:
        lines.append("  (the claim came out clean)")
    return lines


def _where(line: int | None) -> str:
    return f"line {line}" if line is not None else "claim"


def describe_finding(f: Finding) -> str:
    codes = " ".join([f"{f.group_code}-{f.carc}", *f.rarc])
    return f"{f.rule_id}  {_where(f.line_number)}  {f.severity} {codes}: {f.message}"


def describe_expected(e: Expected) -> str:
    codes = " ".join([f"{e.group}-{e.carc}" if e.group else f"CARC {e.carc}", *(e.rarc or ())])
    text = f"{e.rule}  {_where(e.line)}  {e.severity + ' ' if e.severity else ''}{codes}"
    if e.rarc == ():
        text += " (no RARC)"
    return text + (f', message containing "{e.message}"' if e.message is not None else "")


# ---- reporting ------------------------------------------------------------------------------------

def _shown(path: Path) -> str:
    """A path as the user sees it: from the working folder when it is under it."""
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _render(d: Diagnostic, sources: dict[str, str]) -> str:
    return d.render(source_line(sources, d.pos))


def report(runs: list[PackRun], verbose: bool, require_coverage: bool) -> tuple[list[str], int]:
    """The text of a run and its exit status."""
    out: list[str] = []
    passed = failed = errors = 0
    for run in runs:
        if verbose and run.pack is not None:
            out.append(f"pack {run.pack.id} {run.pack.version} ({_shown(Path(run.folder))}): "
                       f"{len(run.cases)} tests")
        for d in run.problems:
            out.append("ERROR " + _render(d, run.sources))
        errors += len(run.problems)
        for case in run.cases:
            title = f"{case.file}:{case.line}: {case.name}"
            if case.problems:
                errors += len(case.problems)
                out.extend("ERROR " + _render(d, run.sources) for d in case.problems)
            elif case.outcome == "failed":
                failed += 1
                out.append(f"FAILED {title}")
                out.extend("    " + line for line in case.report)
            else:
                passed += 1
                if verbose:
                    out.append(f"PASSED {title}")
    out.append(f"{passed} passed, {failed} failed" + (f", {errors} errors" if errors else ""))
    covered = [r for r in runs if r.pack is not None]
    uncovered = [(run.pack.id, *u) for run in covered for u in run.uncovered()]
    if covered:
        out.append("rule coverage: " + ", ".join(
            f"{r.pack.id} {len(r.own_rules()) - len(r.uncovered())} of {len(r.own_rules())} rules fired"
            for r in covered))
    if uncovered:
        out.append("rules no test fired:")
        width = max(len(f"{pack}  {rule}") for pack, rule, _, _ in uncovered)
        out.extend(f"  {pack + '  ' + rule:<{width}}  {file}:{line}" for pack, rule, file, line in uncovered)
        if require_coverage:
            out.append(f"FAILED --require-coverage: {len(uncovered)} rule"
                       f"{'s are' if len(uncovered) != 1 else ' is'} not fired by any test")
    status = EXIT_BROKEN if errors else EXIT_FAILED if failed or (require_coverage and uncovered) else EXIT_OK
    return out, status


def junit_xml(runs: list[PackRun], require_coverage: bool) -> ET.ElementTree:
    """JUnit XML: a testsuite per pack, a testcase per test (broken files and packs as
    errors; with --require-coverage, the coverage as a testcase of its own)."""
    root = ET.Element("testsuites", name="rulesengine test")
    totals = Counter()
    for run in runs:
        suite_name = run.pack.id if run.pack is not None else _shown(Path(run.folder))
        suite = ET.SubElement(root, "testsuite", name=suite_name)
        counts = Counter()
        for d in run.problems:
            case = ET.SubElement(suite, "testcase", classname=suite_name, name=d.pos.file,
                                 file=d.pos.file, line=str(d.pos.line))
            ET.SubElement(case, "error", message=d.message).text = _render(d, run.sources)
            counts["tests"] += 1
            counts["errors"] += 1
        for c in run.cases:
            element = ET.SubElement(suite, "testcase", classname=f"{suite_name}.{Path(c.file).stem}",
                                    name=c.name, file=c.file, line=str(c.line), time=f"{c.seconds:.6f}")
            counts["tests"] += 1
            if c.problems:
                counts["errors"] += 1
                ET.SubElement(element, "error", message=c.problems[0].message).text = \
                    "\n".join(_render(d, run.sources) for d in c.problems)
            elif c.outcome == "failed":
                counts["failures"] += 1
                ET.SubElement(element, "failure", message=c.report[0].strip()).text = "\n".join(c.report)
        if require_coverage and run.pack is not None:
            element = ET.SubElement(suite, "testcase", classname=suite_name, name="rule coverage")
            counts["tests"] += 1
            missing = run.uncovered()
            if missing:
                counts["failures"] += 1
                ET.SubElement(element, "failure", message=f"{len(missing)} rules not fired by any test").text = \
                    "\n".join(f"{rule}  {file}:{line}" for rule, file, line in missing)
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("errors", str(counts["errors"]))
        totals.update(counts)
    for key in ("tests", "failures", "errors"):
        root.set(key, str(totals[key]))
    return ET.ElementTree(root)
