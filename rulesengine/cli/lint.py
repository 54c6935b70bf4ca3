"""``rulesengine lint PACK``: what loads but is probably wrong.

Exit status: 0 no errors, 1 errors (or warnings with --strict), 2 the pack does not load.
"""

from __future__ import annotations

import json
import sys

import click

from rulesengine.authoring.lint import EXIT_BROKEN, lint_pack
from rulesengine.language.diagnostics import PackError


@click.command("lint")
@click.argument("pack_dir", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="How to write the problems.")
@click.option("--strict", is_flag=True, help="Exit with status 1 on warnings too, not only errors.")
def command(pack_dir, fmt, strict):
    """Report what in a pack loads but is probably wrong: invalid or non-billable ICD-10-CM
    codes, impossible CPT/HCPCS codes and ranges, rules without a citation, unused value
    sets and tables, duplicate or contradictory rules, and overlapping rule versions.

    Exit status: 0 no errors, 1 errors (or warnings with --strict), 2 the pack does not load.
    """
    try:
        report = lint_pack(pack_dir)
    except PackError as error:
        click.echo(error.render(), err=True)
        sys.exit(EXIT_BROKEN)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for problem in report.problems:
            click.echo(problem.render(report.sources))
        click.echo(report.summary())
        if report.coverage_note():
            click.echo(report.coverage_note())
    sys.exit(report.exit_code(strict))
