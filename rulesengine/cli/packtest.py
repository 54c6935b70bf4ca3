"""``rulesengine test PACK...``: run the tests each pack keeps beside its rules.

Exit status: 0 every test passed, 1 a test failed (or, with --require-coverage, a rule no
test fires), 2 a pack or a test file is broken.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import click

from rulesengine.authoring.packtest import junit_xml, report, run_pack
from rulesengine.reports.atomic import replacing


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
        tree = junit_xml(runs, require_coverage)
        ET.indent(tree)
        with replacing(Path(junit), binary=True) as handle:
            tree.write(handle, encoding="utf-8", xml_declaration=True)
    raise SystemExit(status)
