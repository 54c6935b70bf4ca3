"""``rulesengine check`` (claims against packs, a report out) and ``rulesengine compile``.

Exit codes, stable for scripts (``common``): 0 every claim clean; 1 findings; 2 a usage
error, a broken pack or a claim not checked (unreadable, no pack for its payer; the others
are still checked and reported); 123 an internal error (a bug); 130 interrupted.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from contextlib import contextmanager

import click

from rulesengine.claims import ClaimError, ClaimFile
from rulesengine.engine.history import HistoryError, open_history, snapshot
from rulesengine.engine.results import Result
from rulesengine.packs import PackSet
from rulesengine.packs.cache import default_folder
from rulesengine.packs.many import check_files
from rulesengine.reports import WRITERS, Summary
from rulesengine.reports.progress import Progress
from rulesengine.reports.text import printable

from .common import EXIT_ERROR, claim_paths, exit_code, load_or_exit, output_file, say_not_checked


@click.command()
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
                   "with 'rulesengine history add' or --record).")
@click.option("--record", is_flag=True,
              help="Record each claim that is not denied (clean or review: what will be "
                   "submitted) in the history as it is checked, so later claims of the run "
                   "are checked against it; a claim id already recorded is replaced, a void "
                   "(frequency code 8) removes it, as with 'history add'. Denied claims are "
                   "not recorded. One transaction, committed when the run completes: an "
                   "interrupted run records nothing. Creates the history file if absent.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes that check claims (default: one a core, for more than "
                   "1 MB of claims). The report is the same, in the same order, for any "
                   "number. --record always runs as one.")
@click.option("--cache-dir", type=click.Path(file_okay=False),
              help="Where compiled packs are kept between runs (default: $RULESENGINE_CACHE, "
                   "else the user's cache folder /rulesengine). An entry is used only for "
                   "exactly the same pack files and engine version.")
@click.option("--no-cache", is_flag=True, help="Load every pack from its files; keep nothing.")
@click.option("--refuse-icd9", is_flag=True,
              help="Report every X12 claim coded in ICD-9-CM as unreadable. By default one whose "
                   "services are all before 2015-10-01 (when ICD-10-CM began) is read and "
                   "checked with its ICD-9 codes kept apart, with a warning; a later one is "
                   "always refused.")
def check(claims, pack_dirs, fmt, output, history_path, record, jobs, cache_dir, no_cache, refuse_icd9):
    """Check CLAIMS: JSON, JSON Lines, X12 837, FHIR or CSV files, folders of them, or - for
    standard input. On a terminal, a progress bar shows how far the run has got."""
    cache = None if no_cache else str(cache_dir or default_folder())
    packs = PackSet([load_or_exit(d, cache) for d in pack_dirs])

    paths = claim_paths(claims)
    if fmt == "html" and not output and sys.stdout.isatty():
        raise click.UsageError("--format html writes a web page: give --output FILE.html")
    files = [ClaimFile(path, icd9="error" if refuse_icd9 else "by-date") for path in paths]
    jobs = 1 if record else jobs or _default_jobs(files)
    summary = Summary()
    progress = Progress(total=None if any(f.size is None for f in files) else sum(f.size for f in files),
                        position=lambda: sum(f.bytes_read for f in files))
    # the report is complete before the recording commits: a failed report records nothing
    with (_packs_kept(), _history(packs, history_path, record) as (history, recording),
          output_file(output, paths) as out):
        writer = WRITERS[fmt](out, [p.info for p in packs.packs])
        if jobs > 1:
            keep = fmt in ("text", "html")  # the reports that show from the claim itself
            outcomes = check_files(files, packs, jobs,
                                   str(history.address) if history is not None else None, keep, cache)
        else:
            outcomes = _one_by_one(files, packs, history, recording)
        for file, item, result in outcomes:
            progress.step(file.name)
            if isinstance(result, ClaimError):
                summary.add_error(result)
                writer.error(result)
                if fmt != "text" or output or result.kind == "internal":
                    progress.clear()
                    say_not_checked(result)
                continue
            summary.add(result)
            writer.result(result, item)
        for file in files:
            if not file.claims_read:
                progress.clear()
                click.echo(f"warning: {printable(file.name)} holds no claims", err=True)
        progress.done()
        writer.close(summary)
    if recording is not None:
        denied = summary.statuses["denied"]
        click.echo(f"{recording.describe()}; {denied} denied claim{'s' if denied != 1 else ''} "
                   f"not recorded", err=True)
    sys.exit(exit_code(summary.problems, summary.findings))


@click.command()
@click.argument("pack_dir", type=click.Path(file_okay=False))
def compile(pack_dir):
    """Parse, check and compile a pack; report every problem with file:line:col."""
    pack = load_or_exit(pack_dir)
    # a rule a windowed pack overrides has a version per stretch of dates: count the rule once
    first = {rule.id: rule for rule in reversed(pack.rules)}
    kinds = {}
    for rule in first.values():
        name = rule.category.name if rule.category else "?"
        kinds[name] = kinds.get(name, 0) + 1
    detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    dated = len(pack.rules) - len(first)
    versions = f", {dated} more version{'s' if dated != 1 else ''} by date" if dated else ""
    click.echo(f"pack {pack.id} {pack.version}: {len(first)} rules ({detail}){versions}; "
               f"{pack.info.hash}")


#: claims checked together in one snapshot of the history (one SQLite read transaction
#: instead of one per lookup, about half the cost of a check against the history): a batch
#: ends at this many claims or after this long reading, so results still stream and other
#: processes wait little to record
_BATCH, _BATCH_SECONDS = 256, 0.05


def _batches(items):
    batch, started = [], time.monotonic()
    for item in items:
        batch.append(item)
        if len(batch) >= _BATCH or time.monotonic() - started >= _BATCH_SECONDS:
            yield batch
            batch, started = [], time.monotonic()
    if batch:
        yield batch


#: below this many bytes of claims, starting worker processes costs more than it saves
_PARALLEL_FROM = 1 << 20


def _default_jobs(files: list[ClaimFile]) -> int:
    """One a core, for files worth it (a pipe's size is unknown: worth it)."""
    sizes = [f.size for f in files]
    small = None not in sizes and sum(sizes) < _PARALLEL_FROM
    return 1 if small else os.cpu_count() or 1


def _one_by_one(files, packs: PackSet, history, recording):
    """(file, claim, result or error) for each claim, checked in this process."""
    for file in files:
        for batch in _batches(enumerate(file, 1)):
            for item, result in _check_batch(batch, file.name, packs, history, recording):
                yield file, item, result


def _check_batch(batch, path, packs: PackSet, history, recording) -> list:
    """(claim, result) for each (position, item) read, (error, error) for a claim that was
    not checked. With a recording, each claim not denied is recorded before the next is
    checked. Only checking happens inside the snapshot: the results are written after."""
    checked = []
    with snapshot(history):
        for position, item in batch:
            if isinstance(item, ClaimError):
                checked.append((item, item))
                continue
            result = packs.check(item, history, path, position)
            if recording is not None and isinstance(result, Result) and result.status != "denied":
                recording.add(item)
            checked.append((item, result))
    return checked


@contextmanager
def _packs_kept():
    """The compiled packs, made before, live for the whole run: moved out of the cycle
    collector's sight while it lasts, so the full collections the claims' garbage sets off
    do not re-walk every table row (about 7% of a run of 30,000 claims)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _HistoryFailure(click.ClickException):
    exit_code = EXIT_ERROR


@contextmanager
def _history(packs: PackSet, path: str | None, record: bool):
    """(history, recording): the claim history, opened when a pack has rules that read it,
    one is named, or --record (which creates it), and closed at the end; with --record, the
    run's recording, committed when the block completes. A pack that needs a history
    without one is a usage error naming its rules, never a pass."""
    needing = [p for p in packs.packs if p.history_rules]
    if not needing and not path and not record:
        yield None, None
        return
    try:
        history = open_history(path, create=record)
    except HistoryError as error:
        rules = "; ".join(f"pack {p.id}: {', '.join(p.history_rules)}" for p in needing)
        raise click.UsageError(f"{error}" + (f"\nthese rules read the claim history: {rules}"
                                              if rules else "")) from None
    with history:
        try:
            if not record:
                yield history, None
                return
            with history.recording() as recording:
                yield history, recording
        except HistoryError as error:  # another process holds the history, or the commit failed
            raise _HistoryFailure(str(error)) from None


