"""The ``rulesengine`` command group: one command (or group) per module of this room."""

from __future__ import annotations

import click

from rulesengine.version import __version__

from . import check, diff, explain, fmt, history, imports, lint, packtest


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rulesengine")
def main():
    """Check medical claims against a payer's rule pack before they are submitted."""


for command in (check.check, check.compile, packtest.command, lint.command, fmt.command,
                explain.command, imports.command, diff.command, history.command):
    main.add_command(command)
