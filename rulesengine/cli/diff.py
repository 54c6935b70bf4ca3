"""``rulesengine diff OLD_PACK NEW_PACK CLAIMS...``: what publishing a pack change would do.

Exit status: 0 nothing changes, 1 outcomes or findings change, 2 a broken pack, a missing
claims file or an unreadable claim (the readable claims are still compared), 123 an
internal error (a bug).
"""

from __future__ import annotations

import json
import sys

import click

from rulesengine.authoring.diff import render_text, run_diff, summary_line, to_dict
from rulesengine.engine.history import HistoryError, open_history
from rulesengine.language.diagnostics import PackError
from rulesengine.packs import load_pack

from .common import EXIT_ERROR, claim_paths, exit_code, say_not_checked


@click.command("diff")
@click.argument("old_pack", type=click.Path(file_okay=False))
@click.argument("new_pack", type=click.Path(file_okay=False))
@click.argument("claims", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="How to write the report.")
@click.option("--show", type=click.IntRange(min=0), default=5, show_default=True,
              help="Examples to show per rule (and claims per outcome change).")
@click.option("--history", "history_path", type=click.Path(dir_okay=False),
              help="The claim history frequency and duplicate rules read (default: "
                   "$RULESENGINE_HISTORY, else ./rulesengine-history.sqlite).")
def command(old_pack, new_pack, claims, fmt, show, history_path):
    """Check CLAIMS with OLD_PACK and NEW_PACK and report what the change does: claims whose
    outcome changes, findings that appear, disappear or change (by rule, with examples),
    and the rules, value sets and tables that differ.

    CLAIMS are JSON or JSON Lines files, folders of them, or - for standard input. Exit
    status: 0 nothing changes, 1 outcomes or findings change, 2 a broken pack, a missing
    claims file or an unreadable claim (the readable claims are still compared), 123 an
    internal error (a bug).
    """
    packs, broken = [], False
    for label, folder in (("old", old_pack), ("new", new_pack)):
        try:
            packs.append(load_pack(folder))
        except PackError as error:
            click.echo(f"the {label} pack {folder} does not load:\n{error.render()}", err=True)
            broken = True
    if broken:
        sys.exit(EXIT_ERROR)
    old, new = packs
    history = None
    if old.history_rules or new.history_rules or history_path:
        try:
            history = open_history(history_path)
        except HistoryError as error:
            needing = [f"pack {p.id}: {', '.join(p.history_rules)}" for p in packs if p.history_rules]
            raise click.UsageError(f"{error}; these rules read the claim history: "
                                   + "; ".join(needing)) from None
    paths = claim_paths(claims)

    # the text report lists the first few unreadable claims; a program reading JSON gets
    # every one on standard error, as with check
    quiet = fmt == "text"
    impact = run_diff(old, new, paths, show,
                      on_error=lambda e: quiet or say_not_checked(e),
                      history=history)
    report = to_dict(old, new, impact)
    line = summary_line(impact)
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render_text(report, line), nl=False)
    sys.exit(exit_code(impact.not_checked, impact.any_change()))  # a change exits as findings
