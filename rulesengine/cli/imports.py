"""``rulesengine import ncci-ptp|ncci-aoc|mue|mpfs|mce|icd10cm``: CMS's published files into a pack.

Each quarter CMS publishes the NCCI procedure-to-procedure (PTP) edits and the medically
unlikely edits (MUE); each fiscal year, the Medicare Code Editor (MCE) lists and the
ICD-10-CM code set. ``cms.files`` reads them, ``cms.writing`` writes them into the pack;
here the options are read, the outcome reported, and the pack loaded again to show it
still loads. Exit status: 0 written and the pack loads, 2 nothing written or the pack
does not load.
"""

from __future__ import annotations

import difflib
import sys
from datetime import date
from pathlib import Path

import click

from rulesengine.cms.addons import AOC_COLUMNS, aoc_rows
from rulesengine.cms.fee_schedule import MPFS_COLUMNS, MPFS_NAMES, mpfs_rows
from rulesengine.cms.files import (
    MUE_COLUMNS,
    NCCI_COLUMNS,
    EditList,
    Tally,
    UnreadableFile,
    counted,
    icd10cm_order,
    mce_lists,
    mue_rows,
    ncci_row,
    ncci_rows,
)
from rulesengine.cms.quarters import QuarterChanges, TableRefused, earlier_rows
from rulesengine.cms.writing import (
    edition_changes,
    effective_from_name,
    quarter_end,
    table_path,
    unread_table_note,
    valueset_text,
    write_rows,
    write_texts,
)
from rulesengine.codes.icd10cm import fiscal_year, fiscal_year_end
from rulesengine.language.diagnostics import PackError
from rulesengine.packs import load_pack
from rulesengine.packs.codeset_files import FOLDER, edition_text
from rulesengine.reports.atomic import replacing


class _ImportGroup(click.Group):
    """A CMS file that cannot be read on is one message and exit 2 (a disk that fails is
    the main group's to report)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UnreadableFile as error:
            click.echo(f"error: {error}; nothing was written", err=True)
            ctx.exit(2)


@click.group("import", cls=_ImportGroup)
def command():
    """Import CMS's published edit files into a pack's tables and value sets."""


def _pack_folder(pack: str) -> Path:
    folder = Path(pack)
    if not (folder / "pack.yaml").is_file():
        raise click.BadParameter(f"{pack} is not a rule pack: it has no pack.yaml", param_hint="--pack")
    return folder


def _report(kind: str, tally: Tally, kept: bool, target: str) -> None:
    for line in tally.bad:
        click.echo(line, err=True)
    if tally.bad_count > len(tally.bad):
        click.echo(f"... and {counted(tally.bad_count - len(tally.bad), 'more malformed row')}", err=True)
    for note in tally.notes:
        click.echo(f"note: {note}")
    skipped = tally.bad_count if kept else 0
    click.echo(f"{kind}: {counted(tally.read, 'row')} read, {tally.written} written, {skipped} skipped, "
               f"{counted(tally.duplicate_keys, 'duplicate key')}" + (f" -> {target}" if kept else ""))
    if not kept:
        if tally.bad_count:
            click.echo(f"{counted(tally.bad_count, 'malformed row')}: nothing written (fix them, or give "
                       "--skip-bad-rows to write the good rows without them)", err=True)
        else:
            click.echo("no rows to write: nothing written", err=True)


def _finish(kept: bool, pack: Path) -> None:
    """Say whether the pack loads with what was written; exit 0 when it does, 2 otherwise."""
    if not kept:
        sys.exit(2)
    try:
        loaded = load_pack(pack)
    except PackError as error:
        click.echo(f"pack {pack} does not load with the imported file:", err=True)
        click.echo(error.render(), err=True)
        sys.exit(2)
    click.echo(f"pack {loaded.id} {loaded.version} loads: {counted(len(loaded.rules), 'rule')}")
    sys.exit(0)


_PACK = click.option("--pack", required=True, type=click.Path(file_okay=False),
                     help="The rule pack folder (holding pack.yaml) to import into.")
_SKIP = click.option("--skip-bad-rows", is_flag=True,
                     help="Write the good rows even when some are malformed (they are still reported).")


@command.command("ncci-ptp")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@_PACK
@click.option("--table", default="ncci_ptp_practitioner", show_default=True,
              help="The table to write: a table the pack declares, or tables/NAME.csv.")
@click.option("--output", type=click.Path(dir_okay=False), help="Write this CSV file instead.")
@click.option("--drop-never-active", is_flag=True,
              help="Leave out rows never in force (deleted the day they took effect, indicator 9).")
@_SKIP
def ncci_ptp(files, pack, table, output, drop_never_active, skip_bad_rows):
    """Import the NCCI practitioner (or hospital) PTP file, tab-separated; give every part
    of a split quarter, in order."""
    folder = _pack_folder(pack)
    target = Path(output) if output else table_path(folder, table)
    tally = Tally()
    # ncci_row as this module names it, so a test can make a row fail halfway through
    rows = ncci_rows([Path(f) for f in files], tally, drop_never_active, ncci_row)
    kept = write_rows(target, NCCI_COLUMNS, rows, tally, skip_bad_rows)
    unread_table_note(folder, target, table, "column1 hcpcs, column2 hcpcs, prior_1996 text, "
                       "effective_date date, deletion_date date, modifier_indicator integer, "
                       "rationale text", tally)
    _report("ncci-ptp", tally, kept, str(target))
    _finish(kept, folder)


def _day(ctx, param, value):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date in the form YYYY-MM-DD") from None


#: the quarterly files, each in one table whose earlier quarters stay for earlier dates:
#: (columns, reader, what the value columns are called, what a dropped code loses, declaration)
_QUARTERLY = {
    "mue": (MUE_COLUMNS, mue_rows, ("MUE", "adjudication", "rationale"), "MUE",
            "code hcpcs, limit integer, adjudication integer, rationale text, effective_date date, "
            "deletion_date date"),
    "mpfs": (MPFS_COLUMNS, mpfs_rows, MPFS_NAMES, "fee schedule row",
             "hcpcs hcpcs, status text, pctc integer, global_days text, multiple_procedure integer, "
             "bilateral integer, assistant integer, co_surgeon integer, team_surgeon integer, "
             "effective_date date, deletion_date date"),
}


def _quarter_options(table: str, what: str):
    """The options of an import of a quarterly file without row dates."""
    def decorate(function):
        for option in reversed([
                click.argument("file", type=click.Path(exists=True, dir_okay=False)), _PACK,
                click.option("--table", default=table, show_default=True,
                             help="The table to write: a table the pack declares, or tables/NAME.csv."),
                click.option("--effective", required=True, callback=_day,
                             help=f"The first day the file is in force (YYYY-MM-DD): the {what} has no row dates."),
                click.option("--through", callback=_day,
                             help="Its last day (YYYY-MM-DD); by default the last day of that quarter."),
                click.option("--output", type=click.Path(dir_okay=False), help="Write this CSV file instead."),
                click.option("--replace", is_flag=True,
                             help="Write the file's rows alone, dropping the table's earlier rows (a fresh "
                                  "table); by default they are kept for earlier dates of service."),
                _SKIP]):
            function = option(function)
        return function
    return decorate


@command.command("mue")
@_quarter_options("mue_practitioner", "MUE file")
def mue(file, pack, table, effective, through, output, replace, skip_bad_rows):
    """Import the MUE file (practitioner, outpatient hospital or DME), CSV as CMS publishes it.
    The table keeps its earlier quarters' rows, so a claim is checked by the MUE of its date
    of service."""
    _import_quarter("mue", file, pack, table, effective, through, output, replace, skip_bad_rows)


@command.command("mpfs")
@_quarter_options("mpfs_indicators", "relative value file")
def mpfs(file, pack, table, effective, through, output, replace, skip_bad_rows):
    """Import the payment policy indicators of the Physician Fee Schedule relative value file
    (PPRRVU, the CSV in CMS's quarterly RVU zip): global days, PC/TC, multiple procedure,
    bilateral, assistant at surgery, co- and team surgery, one row per code (the global
    service's). The table keeps its earlier quarters' rows, as for MUEs."""
    _import_quarter("mpfs", file, pack, table, effective, through, output, replace, skip_bad_rows)


def _import_quarter(kind, file, pack, table, effective, through, output, replace, skip_bad_rows):
    columns, read, names, what, declaration = _QUARTERLY[kind]
    folder = _pack_folder(pack)
    given = through is not None
    if through is None:
        through = quarter_end(effective)
    elif through < effective:
        raise click.BadParameter(f"{through} is before --effective {effective}", param_hint="--through")
    target = Path(output) if output else table_path(folder, table)
    earlier, existed = None, target.is_file()
    if existed and not replace:
        try:
            earlier = earlier_rows(target, effective, columns, kind)
        except TableRefused as refused:
            for line in refused.lines:
                click.echo(line, err=True)
            sys.exit(2)
    tally = Tally(notes=[f"rows in force {effective} through {through}"
                         + ("" if given else " (the end of that quarter; --through changes it)")])
    rows = read(Path(file), tally, effective, through)
    if earlier:
        changes = QuarterChanges(earlier.before, names, what)
        rows = changes.compared(rows)
    kept = write_rows(target, columns, rows, tally, skip_bad_rows, earlier.rows if earlier else ())
    if kept and earlier:
        tally.notes += earlier.notes() + changes.notes(effective)
    elif kept and existed:
        tally.notes.append("--replace: the table's earlier rows were dropped; it holds this file's rows only")
    unread_table_note(folder, target, table, declaration, tally)
    _report(kind, tally, kept, str(target))
    _finish(kept, folder)


@command.command("ncci-aoc")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_PACK
@click.option("--table", default="ncci_aoc", show_default=True,
              help="The table to write: a table the pack declares, or tables/NAME.csv.")
@click.option("--output", type=click.Path(dir_okay=False), help="Write this CSV file instead.")
@_SKIP
def ncci_aoc(file, pack, table, output, skip_bad_rows):
    """Import the NCCI add-on code edits (CMS's AOC spreadsheet saved as tab-separated text or
    CSV): a row per add-on and primary code, with its edit type and dates."""
    folder = _pack_folder(pack)
    target = Path(output) if output else table_path(folder, table)
    tally = Tally()
    kept = write_rows(target, AOC_COLUMNS, aoc_rows(Path(file), tally), tally, skip_bad_rows)
    unread_table_note(folder, target, table, "addon hcpcs, primary hcpcs, edit_type integer, "
                      "effective_date date, deletion_date date, notes text", tally)
    _report("ncci-aoc", tally, kept, str(target))
    _finish(kept, folder)


@command.command("mce")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_PACK
@click.option("--edits", help="The edit types to write, comma-separated (like Female_Only,Male_Only); "
                              "by default every one that lists diagnoses.")
@_SKIP
def mce(file, pack, edits, skip_bad_rows):
    """Import Medicare Code Editor code lists as value-set files, valuesets/mce_EDIT.txt."""
    folder = _pack_folder(pack)
    source = Path(file)
    tally = Tally()
    lists = mce_lists(source, tally)
    chosen = [lists[e] for e in _chosen_edits(edits, lists)]
    for line, why in sorted(b for found in chosen for b in found.bad):
        tally.malformed(source, line, why)
    tally.duplicate_keys = sum(found.repeats for found in chosen)
    procedures = sum(found.procedures for found in chosen)
    if procedures:
        tally.notes.append(f"{counted(procedures, 'ICD-10-PCS procedure code')} left out: "
                           "the rule language has no value-set kind for them")
    others = sorted(set(lists) - {found.edit for found in chosen})
    if others:
        tally.notes.append("edits not written: " + ", ".join(others))
    empty = [found.edit for found in chosen if not found.codes]
    if empty:
        tally.notes.append("no good codes, so not written: " + ", ".join(empty))
    targets = {folder / "valuesets" / f"{found.name}.txt": found for found in chosen if found.codes}
    kept = bool(targets) and (skip_bad_rows or not tally.bad_count)
    if kept:
        write_texts({target: valueset_text(found, source) for target, found in targets.items()})
        tally.written = sum(len(found.codes) for found in chosen)
    _report("mce", tally, kept, f"{folder / 'valuesets'} ({counted(len(targets), 'file')})")
    if kept:
        click.echo("value sets to name in a rules file:")
        for target, found in targets.items():
            click.echo(f'  valueset {found.name} = icd10 from "{target.relative_to(folder).as_posix()}"')
    _finish(kept, folder)


def _chosen_edits(edits: str | None, lists: dict[str, EditList]) -> list[str]:
    if edits is None:
        return [e for e, found in lists.items() if found.codes]
    by_lower = {e.lower(): e for e in lists}
    chosen = []
    for name in (n.strip() for n in edits.split(",") if n.strip()):
        edit = by_lower.get(name.lower())
        if edit is None:
            close = difflib.get_close_matches(name.lower(), list(by_lower), n=2, cutoff=0.5)
            hint = f"did you mean {' or '.join(by_lower[c] for c in close)}? " if close else ""
            raise click.BadParameter(f"the file has no edit '{name}'; {hint}Its edits: "
                                     + ", ".join(lists), param_hint="--edits")
        if not lists[edit].codes and lists[edit].procedures:
            raise click.BadParameter(
                f"edit {edit} lists only ICD-10-PCS procedure codes, which no value-set kind holds",
                param_hint="--edits")
        if edit not in chosen:
            chosen.append(edit)
    return chosen


@command.command("icd10cm")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_PACK
@click.option("--effective", callback=_day,
              help="The first date of service the code set is in force for (YYYY-MM-DD). By "
                   "default the file's name tells: a fiscal year's file from October 1 (FY2027: "
                   "2026-10-01), an April update from April 1.")
@_SKIP
def icd10cm(file, pack, effective, skip_bad_rows):
    """Import CMS's ICD-10-CM code set: the order file (icd10cm_order_YYYY.txt) or the zip of
    code descriptions holding it, as codesets/icd10cm-YYYY-MM-DD.txt, which 'is valid' and
    lint use for dates of service from that day to the end of its fiscal year."""
    folder = _pack_folder(pack)
    source = Path(file)
    tally = Tally()
    codes, read_name = icd10cm_order(source, tally)
    if effective is None:
        effective = effective_from_name(read_name) or effective_from_name(source.name)
        if effective is None and codes:
            raise click.BadParameter(
                f"the name {read_name} does not say which fiscal year it is: give the first date "
                "of service it is in force for, like --effective 2026-10-01", param_hint="--effective")
    target = folder / FOLDER / f"icd10cm-{effective}.txt"
    kept = any(codes.values()) and (skip_bad_rows or not tally.bad_count)
    if kept:
        tally.notes.append(f"in force for dates of service from {effective} through "
                           f"{fiscal_year_end(fiscal_year(effective))} (FY{fiscal_year(effective)}) "
                           "or until a later code set of the pack starts")
        tally.notes += edition_changes(folder, codes, effective)
        target.parent.mkdir(exist_ok=True)
        with replacing(target) as handle:
            handle.write(edition_text(codes, effective, read_name))
        tally.written = len(codes)
    _report("icd10cm", tally, kept, str(target))
    _finish(kept, folder)
