"""Value sets kept in files: ``valueset female_only_dx = icd10 from "valuesets/x.txt"``.

A long code list (a quarter's Medicare Code Editor list, a payer's prior-authorization
list) is data that analysts edit and importers write, so it may live in a text file in
the pack: one code or range a line, the first word of the line; the rest of the line is
a note (an ICD-10-CM description, say: never a CPT description, which is AMA copyright);
``#`` starts a comment; blank lines are skipped. Each code keeps its file and line, so a
malformed code is reported where it is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from rulesengine.language import ast
from rulesengine.language.diagnostics import Diagnostic, read_source

from .confinement import named_file


def read_codes(vs: ast.ValueSet, pack_dir: Path, roots: Iterable[Path] = ()
               ) -> tuple[ast.ValueSet, list[Diagnostic], Path | None]:
    """The value set with its codes read from its file (inside ``pack_dir`` or ``roots``);
    problems; the file read."""
    if vs.source is None:
        return vs, [], None
    path, outside = named_file(pack_dir, vs.source.value, vs.source.pos, "value set file",
                               [pack_dir, *roots])
    if outside:
        return vs, [outside], None
    if not path.is_file():
        return vs, [Diagnostic("missing-file", vs.source.pos,
                               f"value set file '{vs.source.value}' not found in {pack_dir}")], None
    content, problem = read_source(path)
    if problem is not None:
        return vs, [problem], None
    items: list[ast.Code | ast.CodeSpan] = []
    for number, text in enumerate(content.splitlines(), 1):
        words = text.split("#", 1)[0].split()
        if not words:
            continue
        pos = ast.Pos(str(path), number, text.index(words[0]) + 1)
        low, _, high = words[0].partition("..")
        if high:
            high_pos = dataclasses.replace(pos, column=pos.column + len(low) + 2)
            items.append(ast.CodeSpan(ast.Code(low, pos), ast.Code(high, high_pos), pos))
        else:
            items.append(ast.Code(low, pos))
    problems = []
    if not items:
        problems.append(Diagnostic("empty-valueset", vs.source.pos,
                                   f"value set file '{vs.source.value}' holds no codes"))
    codes = ast.CodeList(tuple(items), ast.Pos(str(path), 1, 1))
    return dataclasses.replace(vs, codes=codes), problems, path
