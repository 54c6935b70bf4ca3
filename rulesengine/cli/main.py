"""The ``rulesengine`` command group: one command (or group) per module of this room, and
what every command ends with when it does not end by itself (``common`` has the codes)."""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import traceback

import click

from rulesengine.version import __version__

from . import check, diff, explain, fmt, history, imports, lint, packtest, serve
from .common import EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED


class _Terminated(SystemExit):
    """SIGTERM, raised as an exception so open files are discarded and a recording rolled
    back on the way out, as for Ctrl-C."""

    def __init__(self):
        super().__init__(128 + signal.SIGTERM)


def _terminate(signum, frame):
    raise _Terminated()


class _Commands(click.Group):
    """Click's group, ending a command that raises with an exit code of one meaning: 130
    for Ctrl-C (not click's "Aborted!" and 1, which reads as findings), 2 with one line for
    a failing disk or file, 123 for anything else (a bug; RULESENGINE_TRACEBACK=1 prints
    where)."""

    def invoke(self, ctx):
        if threading.current_thread() is not threading.main_thread():
            return self._invoke(ctx)  # only the main thread may take signals
        before = signal.signal(signal.SIGTERM, _terminate)
        try:
            return self._invoke(ctx)
        finally:
            signal.signal(signal.SIGTERM, before)

    def _invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("\ninterrupted: no output file was written and nothing was recorded",
                       err=True)
            sys.exit(EXIT_INTERRUPTED)
        except OSError as error:
            if error.errno == errno.EPIPE:  # the reader went away (| head): click's to handle
                raise
            where = f"{error.filename}: " if error.filename else ""
            click.echo(f"error: {where}{error.strerror or error}", err=True)
            sys.exit(EXIT_ERROR)
        except Exception as error:
            if os.environ.get("RULESENGINE_TRACEBACK"):
                traceback.print_exc()
            click.echo(f"internal error: {type(error).__name__}: {error}\nThis is a bug in "
                       f"rulesengine {__version__}: please report it with the command that "
                       f"raised it (RULESENGINE_TRACEBACK=1 prints where).", err=True)
            sys.exit(EXIT_INTERNAL)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rulesengine")
def main():
    """Check medical claims against a payer's rule pack before they are submitted."""


for command in (check.check, check.compile, packtest.command, lint.command, fmt.command,
                explain.command, imports.command, diff.command, history.command, serve.serve,
                serve.api_key):
    main.add_command(command)
