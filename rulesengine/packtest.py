"""``rulesengine test PACK...``: run the tests a pack keeps beside its rules.

A pack's ``tests/`` folder holds YAML files (``*.yaml``, ``*.yml``, in sub-folders too).
Each file is a list of tests; a test is a claim and the findings the pack must produce
for it. docs/pack-tests.md is the guide for the people who write them; in short::

    description: Timely filing (42 CFR 424.44)      # optional
    defaults:                                        # optional: the claim every test starts from
      claim_type: professional
      received_date: 2026-07-20
      patient: {birth_date: 1950-04-02, sex: F}
      diagnoses: [E55.9]
      lines:
        - {line_number: 1, procedure: 82306, service_date: 2026-07-14}

    tests:
      - name: one year and a day after the date of service is late
        note: 42 CFR 424.44(a)(1)                    # optional, for the reader
        claim:                                       # changes to the defaults
          received_date: 2027-07-15
        expect:
          - rule: TF-PROFESSIONAL
            line: 1                                  # a line number, or: claim
            carc: 29                                 # or CO-29 to check the group code too
            rarc: [N211]                             # optional; [] means none
            message: more than one year              # optional: text the message contains
            severity: deny                           # optional
      - name: the same day a year later is on time
        claim: {received_date: 2027-07-14}
        expect: clean

* ``claim`` is laid over ``defaults``: mappings are merged key by key, anything else
  (a list such as ``lines``, a value) replaces what the defaults have; ``null`` takes a
  value out. A test without ``claim`` checks the defaults as they are.
* ``claim_file: PATH`` (relative to the test file; JSON or JSON Lines) starts from a claim
  in a file instead of the defaults; ``claim_id`` picks one from a file holding several.
  ``claim`` is then laid over that claim.
* A claim without ``claim_id`` gets the test's name.
* Codes may be written without quotes (``procedure: 82306``, ``modifiers: [59]``,
  ``revenue_code: 0450``): in a claim, every value is read as written except the numbers
  ``line_number``, ``units``, ``charge`` and ``diagnosis_pointers``.
* ``expect`` is ``clean`` or a list of findings (one mapping is a list of one). Findings
  are compared as a multiset of (rule, line, CARC), each also checked for the optional
  ``group``, ``rarc``, ``message`` and ``severity`` it gives; order does not matter, and
  every finding the claim gets must be expected.

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
import os
import re
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
import yaml

from . import ast
from .checker import GROUP_CODES
from .claims_io import CLAIM_SCHEMA, ClaimError, claim_from_data
from .diagnostics import Diagnostic, PackError, did_you_mean
from .model import Claim
from .pack import CompiledPack, load_pack
from .results import Finding

EXIT_OK, EXIT_FAILED, EXIT_BROKEN = 0, 1, 2

FILE_KEYS = ("description", "defaults", "tests")
TEST_KEYS = ("name", "note", "claim", "claim_file", "claim_id", "expect")
EXPECT_KEYS = ("rule", "line", "carc", "group", "rarc", "message", "severity")
SEVERITIES = ("deny", "review", "info")
#: the claim fields that hold numbers; every other value in a claim is read as written
NUMERIC_KEYS = {"line_number", "units", "charge", "diagnosis_pointers", "line"}

_CARC = re.compile(r"(?:(?P<group>[A-Z]{2})-)?(?P<carc>[1-9][0-9]{0,2}|[A-Z][0-9]{1,2})")
_RARC = re.compile(r"(MA|M|N)[0-9]{1,3}")
_JSON_PATH_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_TAG = "tag:yaml.org,2002:"
_MAX_NODES = 100_000  # aliases can make a short file expand enormously


# ---- the parts of a run -------------------------------------------------------------------

@dataclass(frozen=True)
class Expected:
    rule: str
    line: int | None  # None: a claim finding
    carc: str
    group: str | None = None
    rarc: tuple[str, ...] | None = None
    message: str | None = None
    severity: str | None = None
    path: tuple = ()  # where it is written in the test file

    @property
    def key(self):
        return (self.rule, self.line, self.carc)


@dataclass
class Case:
    """One test: its claim (built), its expected findings, or the problems that stop it."""

    name: str
    file: str
    line: int
    path: tuple
    claim: Claim | None = None
    expect: list[Expected] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)
    outcome: str = "error"  # passed, failed or error
    report: list[str] = field(default_factory=list)  # why it failed, line by line
    seconds: float = 0.0
    locate: Callable | None = None  # path in the test file -> its position (the file's _Reader.where)


@dataclass
class PackRun:
    folder: str
    pack: CompiledPack | None = None
    cases: list[Case] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)  # the pack's and whole files'
    sources: dict[str, str] = field(default_factory=dict)  # file -> text, for error carets
    fired: set[str] = field(default_factory=set)

    def uncovered(self) -> list[tuple[str, str, int]]:
        """(rule id, file, line) of the pack's own rules that no test fired."""
        if self.pack is None:
            return []
        return [(r.id, self.pack._facts[r.id].source_file, r.pos.line) for r in self.own_rules()
                if r.id not in self.fired]

    def own_rules(self) -> list[ast.Rule]:
        return [r for r in self.pack.rules if self.pack._facts[r.id].pack == self.pack.id]


# ---- reading a test file ----------------------------------------------------------------------

class _TooBig(Exception):
    pass


class _Reader:
    """A YAML test file as plain data, with the position of every key and value by path.

    Built from the composed node tree rather than ``yaml.safe_load``, for the positions, to
    catch repeated keys, and so codes keep their written text (``0450`` is not octal 296 and
    ``2026-07-14`` stays a text for the claim schema to check)."""

    def __init__(self, file: str, text: str):
        self.file, self.text = file, text
        self.values: dict[tuple, ast.Pos] = {}
        self.keys: dict[tuple, ast.Pos] = {}
        self.problems: list[tuple[tuple, Diagnostic]] = []
        self._budget = _MAX_NODES
        self._yaml = yaml.constructor.SafeConstructor()  # only for numbers and merge keys
        self._flattened: set[int] = set()

    def read(self):
        try:
            node = yaml.compose(self.text)
            if node is None:
                self.problems.append(((), Diagnostic("bad-test", ast.Pos(self.file, 1, 1),
                                                     "the test file is empty", "start it with tests:")))
                return None
            return self._data(node, (), False)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
            pos = self._pos(mark) if mark else ast.Pos(self.file, 1, 1)
            problem = getattr(error, "problem", None) or str(error)
            self.problems.append(((), Diagnostic("bad-yaml", pos, f"not valid YAML: {problem}")))
        except _TooBig:
            self.problems.append(((), Diagnostic("bad-yaml", ast.Pos(self.file, 1, 1),
                                                 "the file's aliases expand too far")))
        return None

    def _pos(self, mark) -> ast.Pos:
        return ast.Pos(self.file, mark.line + 1, mark.column + 1)

    def _data(self, node, path: tuple, numeric: bool):
        self._budget -= 1
        if self._budget < 0 or len(path) > 40:
            raise _TooBig
        self.values[path] = self._pos(node.start_mark)
        if isinstance(node, yaml.MappingNode):
            if id(node) not in self._flattened:  # an alias visits its node again
                self._flattened.add(id(node))
                self._repeated_keys(node, path)
                self._yaml.flatten_mapping(node)  # YAML merge keys (<<: *defaults)
            out = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    raise yaml.MarkedYAMLError(problem="a key must be a plain word",
                                               problem_mark=key.start_mark)
                self.keys[(*path, key.value)] = self._pos(key.start_mark)
                out[key.value] = self._data(value, (*path, key.value), key.value in NUMERIC_KEYS)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._data(item, (*path, i), numeric) for i, item in enumerate(node.value)]
        if node.tag == _TAG + "null":
            return None
        if numeric and node.tag == _TAG + "int":
            return self._yaml.construct_yaml_int(node)
        if numeric and node.tag == _TAG + "float":
            return self._yaml.construct_yaml_float(node)
        return node.value

    def _repeated_keys(self, node, path):
        seen: set[str] = set()
        for key, _ in node.value:
            if key.tag != _TAG + "merge" and isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    self.problems.append(((*path, key.value), Diagnostic(
                        "bad-test", self._pos(key.start_mark),
                        f"{key.value} is given twice here", "keep one of them")))
                seen.add(key.value)

    def where(self, path: tuple, key: bool = False) -> ast.Pos:
        """The position of the value at ``path`` (of its key with ``key``), else of the
        nearest enclosing value that is written."""
        if key and path in self.keys:
            return self.keys[path]
        while path and path not in self.values:
            path = path[:-1]
        return self.values.get(path, ast.Pos(self.file, 1, 1))


def read_test_file(path: Path, shown: str, claim_files: dict) -> tuple[list[Case], list[Diagnostic], str]:
    """The tests of one file, each with its claim built; the problems of the file as a whole
    (then no tests); and the file's text."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        return [], [Diagnostic("bad-yaml", ast.Pos(shown, 1, 1), f"cannot read the file: {error}")], ""
    reader = _Reader(shown, text)
    doc = reader.read()
    if reader.problems and doc is None:
        return [], [d for _, d in reader.problems], text
    problems = _Problems(reader)
    if not isinstance(doc, dict):
        problems.add((), "a test file is a mapping with tests: (and optionally defaults:)")
        return [], problems.of(()), text
    problems.unknown_keys(doc, (), FILE_KEYS, "a test file")
    defaults = doc.get("defaults")
    if defaults is not None and not isinstance(defaults, dict):
        problems.add(("defaults",), "defaults is a claim: a mapping of claim fields")
    elif defaults:
        problems.claim_keys(defaults, ("defaults",))
    tests = doc.get("tests")
    if "tests" not in doc:
        problems.add((), "the file has no tests:", "list the tests under tests:")
    elif not isinstance(tests, list) or not tests:
        problems.add(("tests",), "tests is a list of tests, each starting with '- name:'")
    file_level = _in_order(problems.of_file())
    if file_level:
        return [], file_level, text
    cases, names = [], {}
    for index, raw in enumerate(tests):
        case = _read_case(raw, ("tests", index), reader, problems, defaults or {}, path.parent, claim_files)
        if case.name in names:
            problems.add((*case.path, "name"), f"another test in this file is named '{case.name}' "
                         f"(line {names[case.name]})", "give each test its own name")
        names.setdefault(case.name, case.line)
        cases.append(case)
    for case in cases:
        case.problems = _in_order(problems.of(case.path))
    return cases, [], text


def _in_order(problems: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(problems, key=lambda d: (d.pos.line, d.pos.column))


class _Problems:
    """The problems found in one file, each kept with the path it belongs to."""

    def __init__(self, reader: _Reader):
        self.reader = reader
        self.found: list[tuple[tuple, Diagnostic]] = list(reader.problems)

    def add(self, path, message, hint=None, code="bad-test", key=False, context=""):
        where = self.reader.where(path, key)
        field_name = path[-1] if path and isinstance(path[-1], str) else ""
        label = f"{context}{field_name}: " if field_name else context
        self.found.append((path, Diagnostic(code, where, label + message, hint)))

    def of(self, prefix: tuple) -> list[Diagnostic]:
        return [d for p, d in self.found if p[:len(prefix)] == prefix]

    def of_file(self) -> list[Diagnostic]:
        return [d for p, d in self.found if p[:1] != ("tests",) or len(p) == 1]

    def unknown_keys(self, mapping: dict, path: tuple, allowed, what: str, context=""):
        for key in mapping:
            if key not in allowed:
                self.add((*path, key), f"{what} has no field '{key}'",
                         did_you_mean(key, allowed) or "fields: " + ", ".join(allowed),
                         key=True, context=context)

    def claim_keys(self, claim: dict, path: tuple, context=""):
        """Report claim fields the claim schema does not know: in a test, a misspelt field
        would otherwise be ignored and the test would check something else."""
        def walk(value, schema, at):
            if isinstance(value, list) and "items" in schema:
                for i, item in enumerate(value):
                    walk(item, _resolve(schema["items"]), (*at, i))
            elif isinstance(value, dict) and "properties" in schema:
                known = schema["properties"]
                for key, item in value.items():
                    if key not in known:
                        self.add((*at, key), f"a claim has no field '{key}'",
                                 did_you_mean(key, known) or "see rulesengine/claim.schema.json",
                                 code="unknown-field", key=True, context=context)
                    else:
                        walk(item, _resolve(known[key]), (*at, key))
        walk(claim, CLAIM_SCHEMA, path)


def _resolve(schema: dict) -> dict:
    ref = schema.get("$ref", "")
    return CLAIM_SCHEMA["$defs"][ref.rsplit("/", 1)[1]] if ref.startswith("#/$defs/") and \
        "properties" not in schema else schema


def _read_case(raw, path, reader, problems, defaults, folder: Path, claim_files) -> Case:
    where = reader.where(path)
    case = Case(f"test {path[-1] + 1}", reader.file, where.line, path, locate=reader.where)
    if not isinstance(raw, dict):
        problems.add(path, "each test is a mapping with name, claim and expect", "start it with '- name:'")
        return case
    name = raw.get("name")
    if isinstance(name, str) and name.strip():
        case.name = name.strip()
    else:
        problems.add((*path, "name") if "name" in raw else path, "each test needs a name: a short sentence")
    context = f"test '{case.name}': "
    problems.unknown_keys(raw, path, TEST_KEYS, "a test", context)
    if "expect" not in raw:
        problems.add(path, "the test has no expect:", "write expect: clean, or the findings it must give",
                     context=context)
    else:
        case.expect = _read_expect(raw["expect"], (*path, "expect"), problems, context)
    case.claim = _build_claim(raw, path, reader, problems, defaults, folder, claim_files, context)
    return case


def _read_expect(raw, path, problems, context) -> list[Expected]:
    if raw == [] or (isinstance(raw, str) and raw.strip().lower() == "clean"):
        return []
    items = [(raw, path)] if isinstance(raw, dict) else \
        [(item, (*path, i)) for i, item in enumerate(raw)] if isinstance(raw, list) else None
    if items is None:
        problems.add(path, "expect is empty" if raw is None else f"'{raw}' is neither clean nor a list of findings",
                     "write expect: clean, or list findings with '- rule:', 'line:' and 'carc:'",
                     context=context)
        return []
    found = []
    for item, at in items:
        if not isinstance(item, dict):
            problems.add(at, "each expected finding is a mapping of rule, line and carc", context=context)
            continue
        problems.unknown_keys(item, at, EXPECT_KEYS, "an expected finding", context)
        missing = [k for k in ("rule", "line", "carc") if k not in item]
        if missing:
            problems.add(at, "an expected finding needs " + ", ".join(missing), context=context)
            continue
        expected = _read_finding(item, at, problems, context)
        if expected is not None:
            found.append(expected)
    return found


def _read_finding(item: dict, at: tuple, problems, context) -> Expected | None:
    before = len(problems.found)
    rule, line, carc_text = item["rule"], item["line"], str(item["carc"] or "").strip().upper()
    if not isinstance(rule, str) or not rule.strip():
        problems.add((*at, "rule"), "name the rule by its id, like NCCI-PTP", context=context)
    if isinstance(line, str) and line.strip().lower() == "claim":
        line = None
    elif isinstance(line, str) and line.strip().isdigit():
        line = int(line)
    elif isinstance(line, bool) or not isinstance(line, int) or line < 1:
        problems.add((*at, "line"), f"'{line}' is neither a line number nor claim",
                     "write line: 2 for a finding on line 2, line: claim for one on the claim",
                     context=context)
    match = _CARC.fullmatch(carc_text)
    group = item.get("group")
    group = str(group).strip().upper() if group is not None else None
    if not match:
        problems.add((*at, "carc"), f"'{item['carc']}' is not a CARC",
                     "write the claim adjustment reason code, like 29 or CO-29", context=context)
    elif match["group"]:
        if group and group != match["group"]:
            problems.add((*at, "group"), f"group {group} contradicts carc {carc_text}", context=context)
        group = match["group"]
    if group is not None and group not in GROUP_CODES:
        problems.add((*at, "group"), f"'{group}' is not a group code",
                     did_you_mean(group, GROUP_CODES) or "group codes: " + ", ".join(GROUP_CODES),
                     context=context)
    rarc = item.get("rarc", ...)
    if rarc is not ...:
        rarc = [] if rarc is None else [rarc] if isinstance(rarc, str) else rarc
        bad = [r for r in rarc if not (isinstance(r, str) and _RARC.fullmatch(r.upper()))] \
            if isinstance(rarc, list) else [rarc]
        if bad:
            problems.add((*at, "rarc"), f"'{bad[0]}' is not a RARC",
                         "like rarc: [N211], or rarc: [] for none", context=context)
            rarc = []
        rarc = tuple(sorted(r.upper() for r in rarc))
    severity = item.get("severity")
    severity = str(severity).strip().lower() if severity is not None else None
    if severity is not None and severity not in SEVERITIES:
        problems.add((*at, "severity"), f"'{severity}' is not a severity",
                     "severity is deny, review or info", context=context)
    message = item.get("message")
    if message is not None and not isinstance(message, str):
        problems.add((*at, "message"), "message is a text the finding's message contains", context=context)
    if len(problems.found) > before:
        return None
    return Expected(rule.strip(), line, match["carc"], group, None if rarc is ... else rarc,
                    message, severity, at)


# ---- the claim of a test ---------------------------------------------------------------------

def overlay(base, changes):
    """``changes`` laid over ``base``: mappings merged key by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(changes, dict):
        merged = dict(base)
        for key, value in changes.items():
            merged[key] = overlay(base[key], value) if key in base else value
        return merged
    return changes


def _build_claim(raw, path, reader, problems, defaults, folder: Path, claim_files, context) -> Claim | None:
    changes = raw.get("claim")
    if changes is not None and not isinstance(changes, dict):
        problems.add((*path, "claim"), "claim is a mapping of claim fields to change",
                     "to take a claim from a file write claim_file: PATH", context=context)
        return None
    if changes:
        problems.claim_keys(changes, (*path, "claim"), context)
    base = defaults
    if "claim_file" in raw:
        base = _claim_from_file(raw, path, problems, folder, claim_files, context)
        if base is None:
            return None
    elif "claim_id" in raw:
        problems.add((*path, "claim_id"), "claim_id picks a claim from a claim_file",
                     "add claim_file: PATH, or set the claim's own id under claim:", key=True,
                     context=context)
        return None
    data = overlay(base, changes or {})
    if not data:
        problems.add(path, "the test has no claim", "write claim:, claim_file:, or defaults: for the file",
                     context=context)
        return None
    if isinstance(data, dict) and not data.get("claim_id"):
        name = raw.get("name")
        data = {**data, "claim_id": name.strip() if isinstance(name, str) and name.strip()
                else f"test {path[-1] + 1}"}
    built = claim_from_data(data, reader.file, path[-1] + 1)
    if isinstance(built, ClaimError):
        at = _claim_position(built.path, path, "claim_file" in raw, reader)
        problems.found.append((path, Diagnostic(
            "bad-claim", at, f"{context}{built.path or 'claim'}: {built.message}")))
        return None
    return built


def _claim_from_file(raw, path, problems, folder: Path, claim_files, context) -> dict | None:
    name = raw["claim_file"]
    at = (*path, "claim_file")
    if not isinstance(name, str) or not name.strip():
        problems.add(at, "claim_file is the path of a JSON file, relative to this test file", context=context)
        return None
    file = (folder / name).resolve()
    if file not in claim_files:
        try:
            claim_files[file] = _raw_claims(file)
        except (OSError, ValueError) as error:
            claim_files[file] = error
    claims = claim_files[file]
    if isinstance(claims, Exception):
        reason = "no such file" if isinstance(claims, FileNotFoundError) else \
            getattr(claims, "strerror", None) or str(claims)
        problems.add(at, f"cannot read {name}: {reason}", code="missing-file"
                     if isinstance(claims, FileNotFoundError) else "bad-claim", context=context)
        return None
    wanted = raw.get("claim_id")
    ids = [str(c.get("claim_id")) for c in claims if isinstance(c, dict)]
    if wanted is None:
        if len(claims) != 1:
            problems.add(at, f"{name} holds {len(claims)} claims", "say which with claim_id: "
                         + (ids[0] if ids else "ID"), context=context)
            return None
        return claims[0] if isinstance(claims[0], dict) else {}
    picked = [c for c in claims if isinstance(c, dict) and str(c.get("claim_id")) == str(wanted)]
    if not picked:
        problems.add((*path, "claim_id"), f"{name} has no claim '{wanted}'",
                     did_you_mean(str(wanted), ids) or f"it holds {', '.join(ids[:10])}", context=context)
        return None
    return picked[0]


def _raw_claims(file: Path) -> list:
    """The claims of a JSON or JSON Lines file, as parsed JSON (checked later, once built)."""
    text = file.read_text(encoding="utf-8-sig")
    if file.suffix.lower() in (".jsonl", ".ndjson"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    data = json.loads(text)
    if isinstance(data, dict) and "claims" in data and "claim_id" not in data:
        data = data["claims"]
    return data if isinstance(data, list) else [data]


def _claim_position(json_path: str, test_path: tuple, from_file: bool, reader: _Reader) -> ast.Pos:
    """Where a bad claim field is written: in the test's claim, else in the defaults, else
    the test's claim_file; the longest part of the path that is written wins."""
    steps = tuple(int(i) if i else name for name, i in _JSON_PATH_STEP.findall(json_path))
    sources = [(*test_path, "claim")] + ([] if from_file else [("defaults",)])
    best, best_length = None, -1
    for prefix in sources:
        for n in range(len(steps), -1, -1):
            if (*prefix, *steps[:n]) in reader.values:
                if n > best_length:
                    best, best_length = reader.values[(*prefix, *steps[:n])], n
                break
    if from_file and best_length <= 0:
        return reader.where((*test_path, "claim_file"))
    return best or reader.where(test_path)


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
    ids = [r.id for r in pack.rules]
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
    for name in ("check", "check_reference"):
        try:
            results[name] = getattr(run.pack, name)(case.claim).findings
        except Exception as error:  # noqa: BLE001 - an engine bug: this test's failure
            results[name] = error
    case.seconds = time.perf_counter() - started
    compiled, reference = results["check"], results["check_reference"]
    for findings in (compiled, reference):
        if not isinstance(findings, Exception):
            run.fired.update(f.rule_id for f in findings)
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
    text = sources.get(d.pos.file)
    lines = text.splitlines() if text is not None else []
    return d.render(lines[d.pos.line - 1] if 0 < d.pos.line <= len(lines) else None)


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


def write_atomically(tree: ET.ElementTree, target: Path) -> None:
    """The file appears whole or not at all."""
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            ET.indent(tree)
            tree.write(handle, encoding="utf-8", xml_declaration=True)
        os.replace(temp, target)
    except BaseException:
        os.unlink(temp)
        raise


@click.command("test")
@click.argument("packs", nargs=-1, required=True, metavar="PACK...", type=click.Path(file_okay=False))
@click.option("-v", "--verbose", is_flag=True, help="List every test, not only the failing ones.")
@click.option("--junit", type=click.Path(dir_okay=False),
              help="Also write the results as JUnit XML to this file (for CI).")
@click.option("--require-coverage", is_flag=True,
              help="Fail when a rule of a pack is not fired by any of its tests.")
def command(packs, verbose, junit, require_coverage):
    """Run the tests in each PACK's tests/ folder (YAML: a claim and the findings it must
    get) with both evaluators, and report rule coverage. See docs/pack-tests.md."""
    if junit and not Path(junit).resolve().parent.is_dir():
        raise click.UsageError(f"--junit {junit}: no such folder {Path(junit).parent}")
    runs = [run_pack(folder) for folder in packs]
    lines, status = report(runs, verbose, require_coverage)
    for line in lines:
        click.echo(line)
    if junit:
        write_atomically(junit_xml(runs, require_coverage), Path(junit))
    raise SystemExit(status)
