"""``rulesengine fmt``: one canonical layout for rule files, every comment kept.

The layout itself is described in layout; this module runs it and checks it.
Formatting is three steps: parse the file with its comments (comments), lay
the tree out as a document (layout), print the document within WIDTH columns
(document).

A result is written only if it parses to the same rules as the original (positions and
clause order aside) and holds the same comments in the same order; otherwise the file is
left alone and the command exits 123, as black does for an internal error.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from rulesengine.language import ast
from rulesengine.language.syntax import parse

from .comments import comments_of, parse_with_comments
from .document import join, render
from .layout import RuleFileLayout


class SyntaxProblem(Exception):
    """The text does not parse; ``diagnostic`` says where and why."""

    def __init__(self, diagnostic):
        super().__init__(str(diagnostic.message))
        self.diagnostic = diagnostic


class InternalError(Exception):
    """The formatter's output failed its own checks: a bug, so nothing is written."""


def _layout(text: str) -> str:
    """The text in the canonical layout, unchecked but for every comment being placed."""
    tree, comments = parse_with_comments(text)
    layout = RuleFileLayout(tree, comments)
    doc = layout.file()
    lines = render(doc)
    if layout.emitted != layout.count:
        raise InternalError(f"{layout.count - layout.emitted} comment(s) were not placed")
    return join(lines)


# ---- checking a result before it is written ----------------------------------------------

def _shape(value):
    """A node as nested tuples, without positions; a rule's clauses in canonical order."""
    if isinstance(value, ast.Pos):
        return None
    if isinstance(value, ast.Rule):
        value = dataclasses.replace(value, headers=tuple(sorted(
            value.headers, key=lambda h: ["category", "citation", "effective", "when",
                                          "scope"].index(h.keyword))))
    if dataclasses.is_dataclass(value):
        return (type(value).__name__,
                *((f.name, _shape(getattr(value, f.name))) for f in dataclasses.fields(value)))
    if isinstance(value, (tuple, list)):
        return tuple(_shape(v) for v in value)
    return value


def format_text(text: str, path: str = "<text>") -> str:
    """The canonical layout of a rule file's text.

    Raises ``SyntaxProblem`` when the text does not parse, and ``InternalError`` when the
    result would not mean the same rules or would lose a comment (a formatter bug).
    """
    text = text.replace("\r\n", "\n")
    original, problems = parse(text, path)
    if original is None:
        raise SyntaxProblem(problems[0])
    formatted = _layout(text)
    again, problems = parse(formatted, path)
    if again is None:
        raise InternalError(f"the formatted text does not parse: {problems[0].message} "
                            f"(line {problems[0].pos.line})")
    if _shape(again) != _shape(original):
        raise InternalError("the formatted text does not parse to the same rules")
    if comments_of(formatted) != comments_of(text):
        raise InternalError("the formatted text does not keep the same comments in order")
    return formatted


# ---- the command ----------------------------------------------------------------------------

def rule_files(paths) -> list[Path]:
    """The files named, and the *.rules files in the folders named (not under tests/ or .hidden)."""
    found = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*.rules")
                if p.is_file() and not any(part == "tests" or part.startswith(".")
                                           for part in p.relative_to(path).parts[:-1]))
        else:
            found.append(path)
    unique = {}
    for path in found:
        unique.setdefault(os.path.normpath(path), path)
    return list(unique.values())
