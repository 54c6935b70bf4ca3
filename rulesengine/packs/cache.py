"""A cache of loaded packs: a run whose pack has not changed skips parsing its rules and
reading its tables.

An entry is plain JSON (no pickle: a cache folder another user could write must not be a
way to run code): the checked rules and value sets as their dataclasses' fields, each
table's typed rows column by column, the code set files to read again (lazily), and the
facts to rebuild. Only classes of the rule language and the table's own are ever built
from it. The entry is named by a hash of the engine version and every file of the pack and
the packs it extends (``tests/`` aside), and holds that key again; an entry that is stale,
corrupt, of another shape, not the user's own or writable by others is ignored and
rebuilt. Entries are written whole or not at all (a temporary file moved into place).
The compiled closures are made again from the entry each time (a fraction of a load).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
import tempfile
from datetime import date
from pathlib import Path

import orjson

from rulesengine.codes.icd10cm import Edition, Editions, builtin_edition
from rulesengine.engine.checked import CheckedPack, TableData
from rulesengine.engine.checks import pair_spans
from rulesengine.engine.results import PackInfo
from rulesengine.engine.runtime import RuleFacts, version_key
from rulesengine.language import ast
from rulesengine.version import __version__

from .codeset_files import read_edition
from .layers import extended_folder, read_meta
from .load import CompiledPack, collector_paused, load_pack
from .tables import load_table

#: bumped when what an entry holds changes shape
ENTRY_VERSION = 2
#: the classes an entry may build: the rule language's nodes, and nothing else
_CLASSES = {name: cls for name, cls in vars(ast).items()
            if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == ast.__name__}


def default_folder() -> Path:
    """$RULESENGINE_CACHE, else the user's cache folder (XDG_CACHE_HOME, ~/.cache, or
    LOCALAPPDATA on Windows) /rulesengine."""
    if os.environ.get("RULESENGINE_CACHE"):
        return Path(os.environ["RULESENGINE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.environ.get("LOCALAPPDATA") or Path.home() / ".cache"
    return Path(base) / "rulesengine"


def load_cached(path: str | Path, folder: str | Path | None = None) -> CompiledPack:
    """``load_pack(path)``, from the cache in ``folder`` (default ``default_folder()``) when
    an entry for exactly these files is there, else loaded and written to it."""
    folder = Path(folder) if folder is not None else default_folder()
    key = pack_key(Path(path))
    entry = folder / f"{key}.json"
    with collector_paused():  # as a load does: an entry is millions of small objects
        pack = _read(entry, key, Path(path))
    if pack is None:
        pack = load_pack(path)
        _write(folder, entry, _entry(pack, key))
    return pack


def pack_key(pack_dir: Path) -> str:
    """A hash of the engine version and of every file (path and bytes) of the pack and the
    packs it extends, tests aside."""
    digest = hashlib.sha256(f"rulesengine {__version__} entry {ENTRY_VERSION}\0".encode())
    seen: set[Path] = set()
    todo = [pack_dir]
    while todo:
        layer = todo.pop()
        if layer.resolve() in seen:
            continue
        seen.add(layer.resolve())
        for file in sorted(p for p in layer.rglob("*") if p.is_file()):
            relative = file.relative_to(layer)
            if relative.parts[0] == "tests" or any(part.startswith(".") for part in relative.parts):
                continue
            digest.update(f"{layer.resolve()}/{relative.as_posix()}\0".encode())
            if file.resolve().is_relative_to(layer.resolve()):  # a link out is refused by the load
                with file.open("rb") as handle:
                    digest.update(hashlib.file_digest(handle, "sha256").digest())
        if not (layer / "pack.yaml").is_file():
            continue  # not a pack: loading it says so, where it is named
        meta, _, _ = read_meta(layer / "pack.yaml", {})
        for name in meta.get("extends") or []:
            if isinstance(name, str):
                todo.append(extended_folder(layer, name))
    return digest.hexdigest()


# ---- an entry: the pack as plain data ---------------------------------------------------------

def _entry(pack: CompiledPack, key: str, whole: bool = False) -> dict:
    """A pack as plain data. ``whole``: needing none of the pack's files to be used (every
    table's rows, the code sets' codes and each rule's file as findings show it), for a
    pack sent to another machine."""
    checked: CheckedPack = pack._checked
    only_pairs = set() if whole else _read_only_as_pairs(checked.rules)
    entry = {
        "key": key, "info": dataclasses.asdict(pack.info), "meta": pack.meta, "layers": pack.layers,
        "disabled": pack.disabled, "folder": pack.folder,
        "rules": [_plain(rule) for rule in checked.rules],
        "valuesets": {name: _plain(vs) for name, vs in checked.valuesets.items()},
        "tables": {name: _table(t, pack.table_files.get(name), name in only_pairs)
                   for name, t in checked.tables.items()},
        "facts": pack.rule_layers,
        "codesets": pack.codeset_files,
    }
    if whole:
        entry["codesets"] = []
        builtin = builtin_edition()  # on every machine with rulesengine: not sent
        entry["editions"] = [_edition(e) for _, _, e in checked.icd10.spans if e is not builtin]
        entry["shown"] = [pack.facts(rule).source_file for rule in checked.rules]
    return entry


def _edition(edition: Edition) -> dict:
    return {"start": edition.start.isoformat(), "label": edition.label, "codes": edition.codes}


def pack_bytes(pack: CompiledPack) -> bytes:
    """The pack whole as bytes (plain JSON, as a cache entry: no code in it), to be made
    again by ``pack_from_bytes`` where its files are not: on a Spark executor, say. Its
    findings name the rule files as they do here."""
    return orjson.dumps(_entry(pack, pack.info.hash, whole=True))


def pack_from_bytes(data: bytes) -> CompiledPack:
    """The pack ``pack_bytes`` made; ValueError when ``data`` is not one."""
    try:
        entry = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"not a pack's bytes: {error}") from None
    with collector_paused():
        pack = _pack_from(entry, None, None) if isinstance(entry, dict) and "editions" in entry else None
    if pack is None:
        raise ValueError("not a pack's bytes (made by pack_bytes of this rulesengine version)")
    return pack


def _plain(value):
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, tuple):
        return {"t": [_plain(v) for v in value]}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and _CLASSES.get(type(value).__name__) is type(value):
        return {"c": type(value).__name__,
                "f": [_plain(getattr(value, f.name)) for f in dataclasses.fields(value)]}
    raise TypeError(f"a pack holds a {type(value).__name__}, which an entry cannot")


def _built(value):
    """The value an entry's plain data stands for; ValueError for anything else."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, list):
        return [_built(v) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        if "d" in value:
            return date.fromisoformat(value["d"])
        if "t" in value:
            return tuple(_built(v) for v in value["t"])
    if isinstance(value, dict) and value.keys() == {"c", "f"} and value["c"] in _CLASSES:
        return _CLASSES[value["c"]](*(_built(v) for v in value["f"]))
    raise ValueError("not an entry's data")


def _read_only_as_pairs(rules: list[ast.Rule]) -> set[str]:
    """The tables only ``bundled per`` checks read: checking needs their pair index alone."""
    pairs, other = set(), set()
    for rule in rules:
        for node in ast.walk(rule):
            if isinstance(node, ast.RequireUnbundled):
                pairs.add(node.table)
            elif isinstance(node, (ast.RequireUnits, ast.Lookup)):
                other.add(node.table)
    return pairs - other


def _table(table: TableData, source, as_pairs: bool) -> dict:
    """A table as plain data: its cells column by column; or, for a table only bundling
    checks read, its pair index and where to read the rows again should they be asked
    for (the reference interpreter, an explanation), so a loaded pack does not hold a
    million rows beside their index."""
    data = {"name": table.name, "columns": list(table.columns), "kinds": list(table.kinds),
            "date_from": table.date_from, "date_through": table.date_through}
    if as_pairs and source is not None:
        spans = pair_spans(table)
        if None not in spans and all(None not in by_one for by_one in spans.values()):
            decl, folder, roots = source
            return {**data, "pairs": spans, "source": [_plain(decl), folder, roots]}
    columns = [list(column) for column in zip(*table.rows)] if table.rows else [[] for _ in table.columns]
    for i, kind in enumerate(table.kinds):
        if kind == "date":
            columns[i] = [d.isoformat() if d is not None else None for d in columns[i]]
    return {**data, "cells": columns}


def _table_from(data: dict, pack_dir: Path, key: str) -> TableData:
    named = (data["name"], tuple(data["columns"]))
    dating = (data["date_from"], data["date_through"], tuple(data["kinds"]))
    if "pairs" in data:
        pairs, plain = {}, data["pairs"]
        while plain:  # each code's lists dropped as its tuples are made: half the peak
            two, by_one = plain.popitem()
            pairs[two] = {one: tuple(map(tuple, rows)) for one, rows in by_one.items()}
        decl, folder, roots = data["source"]
        decl = _built(decl)
        if not isinstance(decl, ast.Table):
            raise ValueError("not an entry's data")
        return TableData(*named, None, *dating, prepared={"pairs": pairs},
                         read_rows=lambda: _rows_again(pack_dir, key, decl, folder, roots))
    cells = data["cells"]
    for i, kind in enumerate(data["kinds"]):
        if kind == "date":
            cells[i] = [date.fromisoformat(d) if d is not None else None for d in cells[i]]
    rows = tuple(zip(*cells)) if cells and cells[0] else ()
    return TableData(*named, rows, *dating)


def _rows_again(pack_dir: Path, key: str, decl: ast.Table, folder: str, roots: list[str]) -> tuple:
    """The rows of a table the cache held as its index, read from the pack's files, which
    must be those the entry was made from."""
    if pack_key(pack_dir) != key:
        raise RuntimeError(f"pack {pack_dir}: its files changed since it was loaded; load it again "
                           f"to read table {decl.name}")
    with collector_paused():
        data, problems = load_table(decl, Path(folder), [Path(r) for r in roots])
    if data is None or problems:
        raise RuntimeError(f"pack {pack_dir}: table {decl.name} cannot be read again")
    return data.rows


def _read(entry: Path, key: str, pack_dir: Path) -> CompiledPack | None:
    """The pack an entry holds; None when there is none, or it is not to be trusted."""
    try:
        status = entry.stat()
        if not stat.S_ISREG(status.st_mode) or status.st_mode & 0o022 or (
                hasattr(os, "getuid") and status.st_uid != os.getuid()):
            return None  # another user's, or one others could have changed
        data = orjson.loads(entry.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    return _pack_from(data, pack_dir, key)


def _pack_from(data: dict, pack_dir: Path | None, key: str | None) -> CompiledPack | None:
    """The pack an entry's data stands for; None when it is not one to be trusted."""
    try:
        rules = [_built(r) for r in data["rules"]]
        valuesets = {name: _built(vs) for name, vs in data["valuesets"].items()}
        if not all(isinstance(r, ast.Rule) for r in rules) or not all(
                isinstance(v, ast.ValueSet) for v in valuesets.values()):
            return None
        tables = {name: _table_from(t, pack_dir, key) for name, t in data["tables"].items()}
        editions = {}
        for file, folder in data["codesets"]:
            edition, problems = read_edition(Path(file), Path(folder))
            if edition is None or problems:
                return None
            editions[edition.start] = edition
        for whole in data.get("editions", ()):
            codes = {str(code): bool(billable) for code, billable in whole["codes"].items()}
            edition = Edition(date.fromisoformat(whole["start"]), str(whole["label"]),
                              lambda codes=codes: codes)
            editions[edition.start] = edition
        checked = CheckedPack(rules, valuesets, tables, Editions(editions.values()))
        shown = data.get("shown") or [None] * len(rules)
        facts = {version_key(rule): RuleFacts.of(rule, layer, Path(source), file)
                 for rule, (layer, source), file in zip(rules, data["facts"], shown, strict=True)}
        pack = CompiledPack(PackInfo(**data["info"]), data["meta"], checked, facts,
                            data["layers"], {k: tuple(v) for k, v in data["disabled"].items()})
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
    pack.folder = str(pack_dir) if pack_dir is not None else data.get("folder")
    pack.rule_layers, pack.codeset_files = data["facts"], data["codesets"]
    return pack


def _write(folder: Path, entry: Path, data: dict) -> None:
    """Write the entry whole or not at all; a cache that cannot be written is no cache."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".entry.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(orjson.dumps(data))
            os.chmod(temp, 0o600)
            os.replace(temp, entry)
        except BaseException:
            os.unlink(temp)
            raise
    except (OSError, TypeError):
        pass
