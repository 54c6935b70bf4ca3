"""Medical code kinds: their shapes, normal forms, and how a set of them matches a code.

The rule language types every code list: a value set of ICD-10-CM diagnoses matches
by hierarchy (``J18`` and ``J18.*`` both cover ``J18.9``); a set of CPT/HCPCS codes
matches exact codes, inclusive ranges (``70551..70553``) and prefixes (``9920*``);
modifiers, places of service and revenue codes match exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: the code kinds a value set or table column may hold, and what each is called in messages
CODE_KINDS = {
    "icd10": "ICD-10-CM diagnosis code",
    "hcpcs": "CPT/HCPCS procedure code",
    "modifier": "procedure modifier",
    "pos": "place-of-service code",
    "revenue": "revenue code",
    "text": "text value",
}

_SHAPES = {
    # letter, digit, alphanumeric; then up to four more after the dot (ICD-10-CM tabular)
    "icd10": re.compile(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?"),
    # CPT category I (5 digits), II/III/PLA/MAAA (4 digits + F/T/U/M/A), HCPCS level II (letter + 4 digits)
    "hcpcs": re.compile(r"[0-9]{4}[0-9FTUMA]|[A-V][0-9]{4}"),
    "modifier": re.compile(r"[0-9A-Z]{2}"),
    "pos": re.compile(r"[0-9]{2}"),
    "revenue": re.compile(r"[0-9]{4}"),
}

_SHAPE_EXAMPLES = {
    "icd10": "E55.9 or J18",
    "hcpcs": "82306, 0001U or G0438",
    "modifier": "59 or XS",
    "pos": "11",
    "revenue": "0450",
}


def normalize(kind: str, code: str) -> str:
    """The normal form of a code: upper case, trimmed; ICD-10-CM with its dot (``E559`` ->
    ``E55.9``); places of service and revenue codes with their leading zeros (``450`` -> ``0450``)."""
    code = code.strip().upper()
    if kind == "icd10" and "." not in code and len(code) > 3:
        code = code[:3] + "." + code[3:]
    elif kind in _WIDTHS and code.isdigit():
        code = code.zfill(_WIDTHS[kind])
    return code


_WIDTHS = {"pos": 2, "revenue": 4}


def shape_error(kind: str, code: str) -> str | None:
    """Why ``code`` is not shaped like a ``kind`` code, or None when it is.

    A trailing ``*`` (prefix pattern) is allowed; the part before it must be a prefix
    of a well-shaped code, so only its characters are checked.
    """
    shape = _SHAPES.get(kind)
    if shape is None:
        return None
    if code.endswith("*"):
        stem = code.rstrip("*").rstrip(".")
        if kind == "icd10":
            # a pattern names at least a category (E55.*), so hierarchy and prefix agree
            if not _SHAPES["icd10"].fullmatch(stem):
                return (f"'{code}' is not an ICD-10-CM pattern: write a category or code "
                        f"before the '*', like E55.* or R06.0*")
            return None
        if not stem or not re.fullmatch(r"[0-9A-Z]+", stem) or len(stem) >= 5:
            return (f"'{code}' is not a {CODE_KINDS[kind]} pattern: write the first "
                    f"characters of the code before the '*', like 9920*")
        return None
    if shape.fullmatch(code):
        return None
    article = "an" if CODE_KINDS[kind][0] in "AEIOU" else "a"
    return f"'{code}' is not shaped like {article} {CODE_KINDS[kind]} (for example {_SHAPE_EXAMPLES[kind]})"


def icd10_ancestors(code: str) -> list[str]:
    """The code and every category above it, undotted: ``J18.9`` -> ``[J18, J189]``."""
    flat = code.replace(".", "")
    return [flat[:n] for n in range(3, len(flat) + 1)]


@dataclass(frozen=True)
class CodeRange:
    """An inclusive range of codes of one length, compared character by character."""

    low: str
    high: str

    def __contains__(self, code: str) -> bool:
        return len(code) == len(self.low) and self.low <= code <= self.high


@dataclass(frozen=True)
class Only:
    """An ICD-10-CM entry written ``J18 only``: the code itself, not the codes below it."""

    code: str


class CodeSet:
    """A typed set of codes, patterns and ranges, built once and asked many times.

    Membership answers are remembered per code, so a claim stream that repeats the
    same few thousand codes pays for the pattern search once per code.
    """

    __slots__ = ("kind", "exact", "only", "prefixes", "ranges", "_memo")

    def __init__(self, kind: str, items: list[str | CodeRange | Only]):
        self.kind = kind
        exact, only, prefixes, ranges = set(), set(), [], []
        for item in items:
            if isinstance(item, CodeRange):
                ranges.append(item)
            elif isinstance(item, Only):
                only.add(item.code.replace(".", ""))
            elif kind == "icd10":
                # hierarchy: an entry covers itself and all codes below it
                exact.add(item.rstrip("*").replace(".", ""))
            elif item.endswith("*"):
                prefixes.append(item.rstrip("*"))
            else:
                exact.add(item)
        self.exact = frozenset(exact)
        self.only = frozenset(only)
        self.prefixes = tuple(prefixes)
        self.ranges = tuple(ranges)
        self._memo: dict[str, bool] = {}

    def __contains__(self, code: object) -> bool:
        if code is None:
            return False
        found = self._memo.get(code)  # type: ignore[arg-type]
        if found is None:
            found = self._match(code)  # type: ignore[arg-type]
            if len(self._memo) < 100_000:
                self._memo[code] = found  # type: ignore[index]
        return found

    def _match(self, code: str) -> bool:
        if self.kind == "icd10":
            parts = icd10_ancestors(code)
            return parts[-1] in self.only or any(p in self.exact for p in parts) or any(
                p in r for r in self.ranges for p in parts
            )
        return (
            code in self.exact
            or any(code.startswith(p) for p in self.prefixes)
            or any(code in r for r in self.ranges)
        )

    def exact_codes(self) -> frozenset[str] | None:
        """The codes, when the set is a plain list of them (so a rule can be indexed by them)."""
        if self.kind != "icd10" and not self.prefixes and not self.ranges:
            return self.exact
        return None
