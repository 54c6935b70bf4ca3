"""``rulesengine history add|show``: record claims in the claim history, and read it back."""

from __future__ import annotations

import click

from rulesengine.claims import ClaimError, read_claims
from rulesengine.engine.history import DEFAULT_PATH, ENV_VAR, HistoryError, open_history

from .common import EXIT_ERROR, claim_paths, say_not_checked

_HISTORY_OPTION = click.option(
    "--history", "history_path", type=click.Path(dir_okay=False), default=None,
    help=f"the history file (default: ${ENV_VAR}, else ./{DEFAULT_PATH})")


@click.group("history")
def command():
    """Record claims in the claim history that frequency and duplicate rules read."""


@command.command("add")
@click.argument("claims", nargs=-1, required=True)
@_HISTORY_OPTION
def add_command(claims, history_path):
    """Record CLAIMS (files or folders, as for check). A claim id already recorded is
    replaced; a void (frequency code 8) removes it."""

    paths = claim_paths(claims)
    bad = 0

    def readable():  # streamed: a day's claims are never all in memory
        nonlocal bad
        for source in paths:
            for item in read_claims(source):
                if isinstance(item, ClaimError):
                    say_not_checked(item)
                    bad += 1
                else:
                    yield item
    try:
        with open_history(history_path, create=True) as history, history.recording() as recording:
            for claim in readable():
                recording.add(claim)
    except HistoryError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{recording.describe()}, {bad} unreadable")
    if bad:
        raise SystemExit(EXIT_ERROR)


@command.command("show")
@click.option("--member", required=True, help="the member id")
@_HISTORY_OPTION
def show_command(member, history_path):
    """List the recorded lines of one member, by date of service."""
    try:
        with open_history(history_path) as history:
            rows = history.listing(member)
    except HistoryError as error:
        raise click.ClickException(str(error)) from None
    if not rows:
        click.echo(f"no lines recorded for member {member}")
        return
    for day, procedure, modifiers, claim_id, number, npi, payer, freq, _ in rows:
        mods = f"-{modifiers.replace(',', '-')}" if modifiers else ""
        click.echo(f"{day}  {procedure}{mods:<8} claim {claim_id} line {number}  "
                   f"NPI {npi or '(none)'}  payer {payer or '(none)'}  frequency {freq or '(none)'}")
