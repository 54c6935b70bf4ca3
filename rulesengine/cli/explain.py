"""``rulesengine explain``: why each rule of a pack fired or passed on a claim.

Exit status: 0 no rule fired, 1 a rule fired, 2 a usage error, a broken pack or an
unreadable claim, 123 an internal error: explaining a claim failed, or the explanation
disagrees with ``rulesengine check`` (a bug either way).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from rulesengine.authoring.explain import (
    disabled_rule,
    explain_claim,
    explain_disabled,
    render,
)
from rulesengine.claims import ClaimError, read_claims
from rulesengine.engine.boundary import checked_or_error
from rulesengine.engine.history import HistoryError, open_history
from rulesengine.language.diagnostics import did_you_mean

from .common import EXIT_CLEAN, EXIT_ERROR, EXIT_INTERNAL, claim_paths, load_or_exit, say_not_checked

EXIT_FIRED = 1


@click.command("explain")
@click.argument("claim_file", metavar="CLAIM")
@click.option("--pack", "pack_dir", required=True, type=click.Path(file_okay=False),
              help="The rule pack folder (holding pack.yaml).")
@click.option("--rule", "rule_id", help="Explain only this rule, on every line, even where it does not apply.")
@click.option("--claim-id", help="Explain only this claim of the file.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--history", "history_path", type=click.Path(dir_okay=False),
              help="The claim history frequency and duplicate rules read (default: "
                   "$RULESENGINE_HISTORY, else ./rulesengine-history.sqlite).")
def command(claim_file, pack_dir, rule_id, claim_id, fmt, history_path):
    """Explain why each rule of a pack fired or passed on the claims in CLAIM.

    Exit status: 0 no rule fired, 1 a rule fired, 2 a usage error, a broken pack or an
    unreadable claim, 123 an internal error (explaining failed, or the explanation
    disagrees with `rulesengine check`: a bug).
    """
    pack = load_or_exit(pack_dir)
    history = None
    if pack.history_rules or history_path:
        try:
            history = open_history(history_path)
        except HistoryError as error:
            raise click.UsageError(f"{error}; pack {pack.id} has rules that read the claim history: "
                                   + ", ".join(pack.history_rules)) from None
    disabled = None
    ids = list(dict.fromkeys(r.id for r in pack.rules))  # a rule may have several versions
    if rule_id is not None and rule_id not in ids:
        disabled = disabled_rule(pack_dir, rule_id)
        if disabled is None:
            known = [*ids, *disabled_rule(pack_dir, None)]
            hint = did_you_mean(rule_id, known) or "its rules: " + ", ".join(ids)
            raise click.UsageError(f"pack {pack.id} has no rule {rule_id}; {hint}")
    if claim_file != "-" and Path(claim_file).is_dir():
        raise click.UsageError(f"{claim_file} is a folder: CLAIM is one file, or - for standard input")
    claim_paths([claim_file])  # a usage error when it does not exist
    items = list(enumerate(read_claims(claim_file), 1))
    errors = [i for _, i in items if isinstance(i, ClaimError)]
    claims = [(n, i) for n, i in items if not isinstance(i, ClaimError)]
    if claim_id is not None:
        ids = [c.claim_id for _, c in claims] + [e.claim_id for e in errors if e.claim_id]
        claims = [(n, c) for n, c in claims if c.claim_id == claim_id]
        errors = [e for e in errors if e.claim_id == claim_id]
        if not claims and not errors:
            hint = did_you_mean(claim_id, ids) or "its claims: " + ", ".join(ids)
            raise click.UsageError(f"{claim_file} has no claim {claim_id}; {hint}")
    for error in errors:
        say_not_checked(error)

    def explain(claim):
        if disabled is None:
            return explain_claim(pack, claim, rule_id, history)
        return explain_disabled(pack, claim, rule_id, disabled, history)

    outcomes = [checked_or_error(explain, c, claim_file, n) for n, c in claims]
    failed = [o for o in outcomes if isinstance(o, ClaimError)]
    for error in failed:
        say_not_checked(error)
    explained = [o for o in outcomes if not isinstance(o, ClaimError)]
    if fmt == "json":
        click.echo(json.dumps([x.to_dict() for x in explained], indent=2))
    else:
        click.echo(render(explained, pack.info), nl=False)
    for x in explained:
        for problem in x.disagreements:
            click.echo(f"DISAGREEMENT on claim {x.claim.claim_id}: {problem}", err=True)
    if failed or any(x.disagreements for x in explained):
        sys.exit(EXIT_INTERNAL)
    if errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FIRED if any(e.fired for x in explained for e in x.explanations) else EXIT_CLEAN)
