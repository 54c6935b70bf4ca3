"""``rulesengine serve`` (the engine over HTTP, docs/service.md) and ``rulesengine api-key
new`` (a key for a calling system, and the hashed line the server keeps)."""

from __future__ import annotations

import dataclasses
import os
import sys

import click

from rulesengine.packs.cache import default_folder

from .common import EXIT_ERROR


@click.command("serve")
@click.option("--pack", "pack_dirs", required=True, multiple=True, type=click.Path(file_okay=False),
              help="A rule pack folder; give several to route claims by payer, as check does.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on. Anything but loopback needs API keys.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Worker processes (one a core answers the most).")
@click.option("--history", help="The claim history frequency rules read: a SQLite file (one "
                                "process) or a postgresql:// URL (several workers or hosts).")
@click.option("--api-keys", "keys_file", type=click.Path(dir_okay=False, exists=True),
              help="The file of hashed API keys (also read: $RULESENGINE_API_KEYS).")
@click.option("--max-body-bytes", default=50 << 20, show_default=True, type=click.IntRange(min=1))
@click.option("--max-claims", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="Claims in one request.")
@click.option("--max-lines", default=999, show_default=True, type=click.IntRange(min=1),
              help="Service lines in one claim.")
@click.option("--max-seconds", default=30.0, show_default=True, type=click.FloatRange(min=0.001),
              help="Time to answer one request.")
@click.option("--decision-log", type=click.Path(dir_okay=False),
              help="Write a JSON line per claim answered here (claim ids hashed), rotated by size.")
@click.option("--decision-log-max-bytes", default=100 << 20, show_default=True, type=click.IntRange(min=1024))
@click.option("--ssl-certfile", type=click.Path(dir_okay=False, exists=True), help="TLS certificate (PEM).")
@click.option("--ssl-keyfile", type=click.Path(dir_okay=False, exists=True), help="TLS private key (PEM).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="The pack cache (as check's).")
@click.option("--no-cache", is_flag=True)
def serve(pack_dirs, host, port, workers, history, keys_file, max_body_bytes, max_claims,
          max_lines, max_seconds, decision_log, decision_log_max_bytes, ssl_certfile,
          ssl_keyfile, cache_dir, no_cache):
    """Serve POST /v1/check, /v1/explain and the rest over HTTP (docs/service.md)."""
    from rulesengine.service import server
    from rulesengine.service.checking import Limits
    from rulesengine.service.config import LOOPBACK
    from rulesengine.service.keys import ENV_VAR, KeyFileError, KeyRing
    from rulesengine.service.served import ReloadFailed, ServedPacks

    try:
        keys = KeyRing.read(keys_file, os.environ.get(ENV_VAR))
    except KeyFileError as error:
        raise click.UsageError(str(error)) from None
    if host not in LOOPBACK and not len(keys):
        raise click.UsageError(f"--host {host} is reachable from the network: give API keys "
                               f"(--api-keys FILE or ${ENV_VAR}; make one with 'rulesengine "
                               f"api-key new NAME')")
    cache = None if no_cache else str(cache_dir or default_folder())
    try:  # compile here: a broken pack is said now; one worker serves these, more read the cache
        packs = ServedPacks(list(pack_dirs), cache)
    except ReloadFailed as failed:
        click.echo("\n".join(failed.errors), err=True)
        sys.exit(EXIT_ERROR)
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise click.UsageError("TLS needs both --ssl-certfile and --ssl-keyfile")
    ssl = {"ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile} if ssl_certfile else {}
    settings = {"pack_dirs": list(pack_dirs), "cache": cache, "history": history,
                "keys_file": keys_file, "keys_required": bool(len(keys)),
                "limits": dataclasses.asdict(Limits(max_body_bytes, max_claims, max_lines, max_seconds))}
    server.run(settings, host, port, workers, ssl, decision_log, decision_log_max_bytes,
               packs if workers == 1 else None)


@click.group("api-key")
def api_key():
    """API keys for the service."""


@api_key.command("new")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May also reload the packs.")
@click.option("--file", "key_file", type=click.Path(dir_okay=False),
              help="Append the hashed line to this key file (else print it).")
def new(name, admin, key_file):
    """Make a key for NAME: the key is printed once (give it to the caller); the server
    keeps only its hash."""
    from rulesengine.service.keys import new_key

    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise click.UsageError("NAME: letters, digits, '-', '_' and '.' only")
    key, line = new_key(name, ("check", "admin") if admin else ("check",))
    if key_file:
        descriptor = os.open(key_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        click.echo(f"added {name} to {key_file}", err=True)
    else:
        click.echo(f"for the key file: {line}", err=True)
    click.echo(key)
