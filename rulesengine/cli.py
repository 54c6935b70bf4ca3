"""The command line: ``rulesengine check CLAIMS... --pack DIR``.

Exit codes, stable for scripts: 0 every claim clean; 1 findings; 2 a usage error, a
broken pack or an unreadable claim (the readable claims are still checked and reported).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import click

from . import __version__
from .atomic import replacing
from .claims_io import ClaimError, iter_claim_files, read_claims
from .diagnostics import PackError
from .history import HistoryError, open_history
from .pack import PackSet, load_pack
from .progress import Progress
from .report import WRITERS, Summary

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rulesengine")
def main():
    """Check medical claims against a payer's rule pack before they are submitted."""


def _load(pack_dir: str):
    try:
        return load_pack(pack_dir)
    except PackError as error:
        click.echo(error.render(), err=True)
        sys.exit(EXIT_ERROR)


@main.command()
@click.argument("claims", nargs=-1, required=True)
@click.option("--pack", "pack_dirs", required=True, multiple=True, type=click.Path(file_okay=False),
              help="A rule pack folder (holding pack.yaml). Give several to check each claim "
                   "with the pack of its payer (payer.id = the pack's id or one of its payer_ids).")
@click.option("--format", "fmt", type=click.Choice(sorted(WRITERS)), default="text",
              show_default=True,
              help="How to write the results: text, json, jsonl, csv (a row per finding) or "
                   "html (a one-page summary with charts; give --output).")
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="Write the results to this file (written whole or not at all).")
@click.option("--history", "history_path", type=click.Path(dir_okay=False),
              help="The claim history that frequency and duplicate rules read (default: "
                   "$RULESENGINE_HISTORY, else ./rulesengine-history.sqlite; record claims "
                   "with 'rulesengine history add').")
def check(claims, pack_dirs, fmt, output, history_path):
    """Check CLAIMS: JSON, JSON Lines, X12 837, FHIR or CSV files, folders of them, or - for
    standard input. On a terminal, a progress line shows the claims checked so far."""
    packs = PackSet([_load(d) for d in pack_dirs])
    history = _history(packs, history_path)
    try:
        paths = ["-"] if claims == ("-",) else [str(p) for p in iter_claim_files(claims)]
    except FileNotFoundError as error:
        raise click.UsageError(f"no such claims file or folder: {error.filename or error}")
    if fmt == "html" and not output and sys.stdout.isatty():
        raise click.UsageError("--format html writes a web page: give --output FILE.html")
    summary = Summary()
    progress = Progress()
    with _destination(output) as out:
        writer = WRITERS[fmt](out, [p.info for p in packs.packs])
        for path in paths:
            for item in read_claims(path):
                progress.step(path)
                if not isinstance(item, ClaimError) and (pack := packs.for_claim(item)) is None:
                    item = ClaimError(path, 0, item.claim_id, "$.payer.id",
                                      f"claim {item.claim_id}: no pack given for payer "
                                      f"'{item.payer_id}'")
                if isinstance(item, ClaimError):
                    summary.unreadable += 1
                    writer.error(item)
                    if fmt != "text" or output:
                        click.echo(f"unreadable: {item}", err=True)
                    continue
                result = pack.check(item, history=history)
                summary.add(result)
                writer.result(result, item)
        progress.done()
        writer.close(summary)
    if summary.unreadable:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if summary.findings else EXIT_CLEAN)


@main.command()
@click.argument("pack_dir", type=click.Path(file_okay=False))
def compile(pack_dir):
    """Parse, check and compile a pack; report every problem with file:line:col."""
    pack = _load(pack_dir)
    kinds = {}
    for rule in pack.rules:
        name = rule.category.name if rule.category else "?"
        kinds[name] = kinds.get(name, 0) + 1
    detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    click.echo(f"pack {pack.id} {pack.version}: {len(pack.rules)} rules ({detail}); {pack.info.hash}")


def _history(packs: PackSet, path: str | None):
    """The claim history, opened when a pack has rules that read it (or one is named);
    a pack that needs one without one is a usage error naming its rules, never a pass."""
    needing = [p for p in packs.packs if p.history_rules]
    if not needing and not path:
        return None
    try:
        return open_history(path)
    except HistoryError as error:
        rules = "; ".join(f"pack {p.id}: {', '.join(p.history_rules)}" for p in needing)
        raise click.UsageError(f"{error}" + (f"\nthese rules read the claim history: {rules}"
                                              if rules else "")) from None


@contextmanager
def _destination(output: str | None):
    """Standard output, or a file that appears only once it is complete."""
    if not output:
        yield sys.stdout
        return
    with replacing(Path(output)) as handle:
        yield handle


def _add_pack_commands():
    """The commands for pack authors (test, lint, fmt, explain, import, diff), one module each."""
    from . import explain, formatter, history, importers, lint, packdiff, packtest
    for module in (packtest, lint, formatter, explain, importers, packdiff, history):
        main.add_command(module.command)


_add_pack_commands()
