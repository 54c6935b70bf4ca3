"""``rulesengine explain``: why each rule of a pack fired or passed on a claim.

Exit status: 0 no rule fired, 1 a rule fired, 2 a usage error, a broken pack or an
unreadable claim, 3 the explanation disagrees with ``rulesengine check`` (a bug).
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
from rulesengine.engine.history import HistoryError, open_history
from rulesengine.language.diagnostics import did_you_mean

from .common import load_or_exit

EXIT_CLEAN, EXIT_FIRED, EXIT_ERROR, EXIT_DISAGREES = 0, 1, 2, 3


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
    unreadable claim, 3 the explanation disagrees with `rulesengine check` (a bug).
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
    if claim_file != "-" and not Path(claim_file).is_file():
        raise click.UsageError(f"no such claims file: {claim_file}")
    items = list(read_claims(claim_file))
    errors = [i for i in items if isinstance(i, ClaimError)]
    claims = [i for i in items if not isinstance(i, ClaimError)]
    if claim_id is not None:
        ids = [c.claim_id for c in claims] + [e.claim_id for e in errors if e.claim_id]
        claims = [c for c in claims if c.claim_id == claim_id]
        errors = [e for e in errors if e.claim_id == claim_id]
        if not claims and not errors:
            hint = did_you_mean(claim_id, ids) or "its claims: " + ", ".join(ids)
            raise click.UsageError(f"{claim_file} has no claim {claim_id}; {hint}")
    for error in errors:
        click.echo(f"unreadable: {error}", err=True)
    explained = [explain_claim(pack, c, rule_id, history) if disabled is None
                 else explain_disabled(pack, c, rule_id, disabled, history) for c in claims]
    if fmt == "json":
        click.echo(json.dumps([x.to_dict() for x in explained], indent=2))
    else:
        click.echo(render(explained, pack.info), nl=False)
    for x in explained:
        for problem in x.disagreements:
            click.echo(f"DISAGREEMENT on claim {x.claim.claim_id}: {problem}", err=True)
    if any(x.disagreements for x in explained):
        sys.exit(EXIT_DISAGREES)
    if errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FIRED if any(e.fired for x in explained for e in x.explanations) else EXIT_CLEAN)
