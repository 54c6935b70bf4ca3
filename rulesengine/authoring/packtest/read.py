"""The test files of a pack (``tests/*.yaml``), read and checked: each test's claim built
and its expected findings, or the problems that stop it, at their file:line:col.

A test file is a list of tests; a test is a claim and the findings the pack must produce
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
* ``history:`` lists the claims recorded before this one (for a pack with frequency or
  duplicate rules), each laid over ``defaults`` as ``claim`` is, with the id ``history N``
  unless it sets one. A pack with such rules checks a test without ``history:`` against
  an empty history.
* Codes may be written without quotes (``procedure: 82306``, ``modifiers: [59]``,
  ``revenue_code: 0450``): in a claim, every value is read as written except the numbers
  ``line_number``, ``units``, ``charge`` and ``diagnosis_pointers``.
* ``expect`` is ``clean`` or a list of findings (one mapping is a list of one). Findings
  are compared as a multiset of (rule, line, CARC), each also checked for the optional
  ``group``, ``rarc``, ``message`` and ``severity`` it gives; order does not matter, and
  every finding the claim gets must be expected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rulesengine.claims import CLAIM_SCHEMA, ClaimError, claim_from_data
from rulesengine.claims.model import Claim
from rulesengine.language import ast
from rulesengine.language.checker import GROUP_CODES
from rulesengine.language.diagnostics import Diagnostic, did_you_mean
from rulesengine.packs.yaml_source import YamlSource

FILE_KEYS = ("description", "defaults", "tests")
TEST_KEYS = ("name", "note", "claim", "claim_file", "claim_id", "history", "expect")
EXPECT_KEYS = ("rule", "line", "carc", "group", "rarc", "message", "severity")
SEVERITIES = ("deny", "review", "info")
#: the claim fields that hold numbers; every other value in a claim is read as written
NUMERIC_KEYS = {"line_number", "units", "charge", "diagnosis_pointers", "line"}

_CARC = re.compile(r"(?:(?P<group>[A-Z]{2})-)?(?P<carc>[1-9][0-9]{0,2}|[A-Z][0-9]{1,2})")
_RARC = re.compile(r"(MA|M|N)[0-9]{1,3}")
_JSON_PATH_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


# ---- a test ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Expected:
    """One finding a test expects: matched on (rule, line, CARC), then checked for the rest."""

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
    locate: Callable | None = None  # path in the test file -> its position (YamlSource.where)
    #: the claims recorded before this one (``history:``), for frequency and duplicate rules
    history: list[Claim] = field(default_factory=list)


# ---- reading a test file ----------------------------------------------------------------------

def read_test_file(path: Path, shown: str, claim_files: dict) -> tuple[list[Case], list[Diagnostic], str]:
    """The tests of one file, each with its claim built; the problems of the file as a whole
    (then no tests); and the file's text."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        return [], [Diagnostic("bad-yaml", ast.Pos(shown, 1, 1), f"cannot read the file: {error}")], ""
    reader = YamlSource(shown, text, NUMERIC_KEYS, code="bad-test")
    doc = reader.read()
    if reader.empty:
        return [], [Diagnostic("bad-test", ast.Pos(shown, 1, 1), "the test file is empty",
                               "start it with tests:")], text
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

    def __init__(self, reader: YamlSource):
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
                                 did_you_mean(key, known) or "see rulesengine/claims/claim.schema.json",
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
    case.history = _build_history(raw, path, reader, problems, defaults, context)
    return case


def _build_history(raw, path, reader, problems, defaults, context) -> list[Claim]:
    """``history:``, the claims already recorded: each laid over the defaults like ``claim``,
    with the id ``history N`` unless it sets one."""
    items = raw.get("history")
    if items is None:
        return []
    if not isinstance(items, list):
        problems.add((*path, "history"), "history is a list of claims recorded before this one",
                     "write each as you would write claim:", context=context)
        return []
    built = []
    for i, changes in enumerate(items):
        at = (*path, "history", i)
        if not isinstance(changes, dict):
            problems.add(at, "each history entry is a mapping of claim fields", context=context)
            continue
        problems.claim_keys(changes, at, context)
        data = overlay(defaults, changes)
        data = {**data, "claim_id": data.get("claim_id") if "claim_id" in changes else f"history {i + 1}"}
        claim = claim_from_data(data, reader.file, path[-1] + 1)
        if isinstance(claim, ClaimError):
            problems.found.append((path, Diagnostic(
                "bad-claim", reader.where(at), f"{context}history {i + 1}: {claim.path or 'claim'}: {claim.message}")))
            continue
        built.append(claim)
    return built


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


def _claim_position(json_path: str, test_path: tuple, from_file: bool, reader: YamlSource) -> ast.Pos:
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
