"""``rulesengine fmt``: rule files rewritten in the one canonical layout, comments kept.

Exit codes: 0 done (or, with --check, nothing to change); 1 with --check, some file would
change; 2 a file does not parse or cannot be read; 123 an internal error (the formatter
would have changed a file's meaning), as black's.
"""

from __future__ import annotations

import difflib
import sys

import click

from rulesengine.authoring.fmt import SyntaxProblem, format_text, rule_files
from rulesengine.reports.atomic import replacing

from .common import EXIT_ERROR, EXIT_INTERNAL

EXIT_OK, EXIT_CHANGES = 0, 1


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
