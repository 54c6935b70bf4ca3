"""A pack's ICD-10-CM code set files: ``codesets/icd10cm-YYYY-MM-DD.txt``, one code a line.

Each file is an edition (``codes.icd10cm.Edition``) in force from the date in its name;
``rulesengine import icd10cm`` writes them (``edition_text``) and ``layers`` reads them
(``read_edition``), every bad line reported at its file:line:col.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from rulesengine.codes.icd10cm import Edition, fiscal_year
from rulesengine.language import ast
from rulesengine.language.diagnostics import Diagnostic, read_source

#: the name of a pack's code set file: the first date of service it is in force for
FILE_NAME = re.compile(r"icd10cm-(\d{4}-\d{2}-\d{2})\.txt")
FOLDER = "codesets"
HEADER = "header"
#: a line of a code set file: a code (its dot optional), "header" or not; or a comment or nothing
_LINE = re.compile(r"\s*(?:([A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?)(\s+header)?\s*)?(?:#.*)?")


def codeset_files(pack_dir: Path) -> list[Path]:
    folder = pack_dir / FOLDER
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def read_edition(path: Path, pack_dir: Path) -> tuple[Edition | None, list[Diagnostic]]:
    """The edition in a pack's code set file, or None and what is wrong with it."""
    found = FILE_NAME.fullmatch(path.name)
    start = None
    if found:
        try:
            start = date.fromisoformat(found.group(1))
        except ValueError:
            pass
    if start is None:
        return None, [Diagnostic(
            "bad-codeset", ast.Pos(str(path), 1, 1),
            f"'{path.name}' in {FOLDER}/ is not named for the date it is in force from",
            "name it icd10cm-YYYY-MM-DD.txt (rulesengine import icd10cm writes it so), "
            f"or move it out of {FOLDER}/")]
    text, problem = read_source(path)
    if problem is not None:
        return None, [problem]
    codes: dict[str, bool] = {}
    problems: list[Diagnostic] = []
    for number, line in enumerate(text.splitlines(), 1):
        found = _LINE.fullmatch(line)
        if found:
            if found.group(1):
                codes[found.group(1).replace(".", "")] = found.group(2) is None
            continue
        problems.append(Diagnostic(
            "bad-codeset", ast.Pos(str(path), number, len(line) - len(line.lstrip()) + 1),
            f"'{line.strip()}' is not an ICD-10-CM code, alone or followed by '{HEADER}'",
            "one code a line, like E559 or E55 header"))
        if len(problems) >= 20:
            break
    if not problems and not any(codes.values()):
        problems.append(Diagnostic("bad-codeset", ast.Pos(str(path), 1, 1),
                                   f"{path.name} holds no billable code"))
    if problems:
        return None, problems
    where = path.relative_to(pack_dir.parent) if path.is_relative_to(pack_dir.parent) else path
    label = f"ICD-10-CM FY{fiscal_year(start)} from {start} ({where.as_posix()})"
    return Edition(start, label, lambda: codes), []



def edition_text(codes: dict[str, bool], start: date, source: str) -> str:
    """A code set file: a heading saying what it is and where it came from, then the codes."""
    billable = sum(codes.values())
    out = [f"# ICD-10-CM code set in force for dates of service from {start} "
           f"(fiscal year {fiscal_year(start)})",
           f"# imported by 'rulesengine import icd10cm' from {source}: {billable:,} billable codes, "
           f"{len(codes) - billable:,} headers",
           f"# a code a line, without its dot; '{HEADER}': a category or subcategory, not billable"]
    out += [code if billable else f"{code} {HEADER}" for code, billable in codes.items()]
    return "\n".join(out) + "\n"
