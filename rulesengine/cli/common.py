"""What the commands share: exit codes, loading a pack or saying why it does not load, the
claim files named, the output file, and saying which claims were not checked."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

import click

from rulesengine.claims import ClaimError, iter_claim_files
from rulesengine.claims.build import LABELS
from rulesengine.language.diagnostics import PackError
from rulesengine.packs import CompiledPack, load_pack
from rulesengine.packs.cache import load_cached
from rulesengine.reports.atomic import OutputError, replacing
from rulesengine.reports.text import printable

#: exit codes, one meaning each: every claim clean; findings; a usage or input error (a
#: claim not checked among them); an internal error (a bug, as black's 123); interrupted
#: (128 + SIGINT, as shells report it)
EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 123, 130


def load_or_exit(pack_dir: str, cache: str | None = None) -> CompiledPack:
    """The pack in ``pack_dir`` (through the cache in folder ``cache``, if given); when it
    does not load, every problem on standard error and exit 2."""
    try:
        return load_cached(pack_dir, cache) if cache else load_pack(pack_dir)
    except PackError as error:
        click.echo(error.render(), err=True)
        sys.exit(EXIT_ERROR)


def claim_paths(claims) -> list[str]:
    """The claim files named (folders and globs expanded, ``-`` for standard input), or a
    usage error naming what is missing or empty, before any claim is read."""
    try:
        return [str(p) for p in iter_claim_files(claims)]
    except FileNotFoundError as error:
        raise click.UsageError(f"claims: {error}") from None


class OutputRefused(click.ClickException):
    exit_code = EXIT_ERROR


@contextmanager
def output_file(output: str | None, inputs=()):
    """Standard output, or a file that appears only once it is complete; one that must not
    be written (a device, a pipe, one of ``inputs``) or cannot be (a missing or read-only
    folder, a full disk) is one clear error, with nothing written."""
    if not output:
        yield sys.stdout
        return
    try:
        with replacing(Path(output), inputs=inputs) as handle:
            yield handle
    except OutputError as error:
        raise OutputRefused(str(error)) from None


def say_not_checked(error: ClaimError) -> None:
    """One line on standard error for a claim that was not checked, its text escaped."""
    click.echo(f"{LABELS[error.kind]}: {printable(str(error))}", err=True)


def exit_code(not_checked: Mapping[str, int], findings: int) -> int:
    """An internal error first (someone must look), then a claim not checked, then findings."""
    if not_checked.get("internal"):
        return EXIT_INTERNAL
    if any(not_checked.values()):
        return EXIT_ERROR
    return EXIT_FINDINGS if findings else EXIT_CLEAN
