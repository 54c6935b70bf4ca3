"""What the commands share: exit codes, and loading a pack or saying why it does not load."""

from __future__ import annotations

import sys

import click

from rulesengine.language.diagnostics import PackError
from rulesengine.packs import CompiledPack, load_pack

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def load_or_exit(pack_dir: str) -> CompiledPack:
    """The pack in ``pack_dir``; when it does not load, every problem on standard error and exit 2."""
    try:
        return load_pack(pack_dir)
    except PackError as error:
        click.echo(error.render(), err=True)
        sys.exit(EXIT_ERROR)
