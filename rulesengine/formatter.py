"""``rulesengine fmt``: one canonical layout for rule files, every comment kept.

The layout itself is described in formatter_layout; this module runs it and checks it.
Formatting is three steps: parse the file with its comments (formatter_comments), lay
the tree out as a document (formatter_layout), print the document within WIDTH columns
(formatter_document).

A result is written only if it parses to the same rules as the original (positions and
clause order aside) and holds the same comments in the same order; otherwise the file is
left alone and the command exits 123, as black does for an internal error.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys
from pathlib import Path

import click

from . import ast
from .atomic import replacing
from .formatter_comments import comments_of, parse_with_comments
from .formatter_document import join, render
from .formatter_layout import RuleFileLayout
from .syntax import parse

EXIT_OK, EXIT_CHANGES, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 2, 123


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


@click.command("fmt")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--check", is_flag=True,
              help="Change nothing: list the files that would change; exit 1 if any would.")
@click.option("--diff", is_flag=True,
              help="Change nothing: print a unified diff of what would change.")
def command(paths, check, diff):
    """Rewrite rule files (PATHS: *.rules files or folders of them) in the canonical layout.

    Files are replaced whole, and only when their text changes. A file that does not
    parse is reported and left alone. Exit codes: 0 done (or, with --check, nothing to
    change); 1 with --check, some file would change; 2 a file does not parse or cannot be
    read; 123 an internal error (the formatter would have changed a file's meaning).
    """
    changed = unchanged = errors = internal = 0
    for path in rule_files(paths):
        try:
            raw = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            click.echo(f"{path}: cannot read: {error}", err=True)
            errors += 1
            continue
        text = raw.replace("\r\n", "\n")
        try:
            formatted = format_text(text, str(path))
        except SyntaxProblem as problem:
            lines = text.splitlines()
            line = problem.diagnostic.pos.line
            click.echo(problem.diagnostic.render(lines[line - 1] if 0 < line <= len(lines) else None),
                       err=True)
            errors += 1
            continue
        except Exception as error:  # noqa: BLE001 -- a bug: report it, never write
            click.echo(f"{path}: internal error, file left unchanged: {error}", err=True)
            internal += 1
            continue
        if formatted == text:
            unchanged += 1
            continue
        changed += 1
        if diff:
            click.echo("".join(difflib.unified_diff(
                text.splitlines(keepends=True), formatted.splitlines(keepends=True),
                f"{path}", f"{path} (formatted)")), nl=False)
        elif check:
            click.echo(f"would reformat {path}")
        else:
            with replacing(path) as handle:  # whole or not at all, permissions kept
                handle.write(formatted.replace("\n", "\r\n") if "\r\n" in raw else formatted)
            click.echo(f"reformatted {path}")
    would = check or diff
    click.echo(_summary(changed, unchanged, errors + internal, would), err=True)
    if internal:
        sys.exit(EXIT_INTERNAL)
    if errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CHANGES if check and changed else EXIT_OK)


def _summary(changed, unchanged, failed, would) -> str:
    def files(n):
        return f"{n} file{'s' if n != 1 else ''}"
    parts = [f"{files(changed)} {'would be reformatted' if would else 'reformatted'}",
             f"{files(unchanged)} {'would be left' if would else 'left'} unchanged"]
    if failed:
        parts.append(f"{files(failed)} failed")
    return ", ".join(parts) + "."
