"""Packs built on packs: reading each layer, then merging them into one set of names.

A pack's ``extends`` names the packs below it (``acme-commercial`` extends ``medicare``).
Layers are read base first; each pack is read once however often it is named. Merging
is the first stage of checking: a layer adds value sets, tables and rules; it replaces
an inherited one only with ``override``, and switches off an inherited rule only with
``disable rule ID because "reason"``. Redefining without ``override``, overriding or
disabling what no parent defines, and a cycle of ``extends`` are errors.

A layer with an ``effective`` window in pack.yaml acts only inside it: its own rules are
narrowed to it, and its overrides and disables take an inherited rule over only there.
Outside, the inherited version stays in force, so one rule id may have several versions,
each on its own dates (``ast.Rule.superseded``, ``dates_in_force``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from rulesengine.codes.icd10cm import Edition
from rulesengine.language import ast
from rulesengine.language.diagnostics import Diagnostic, did_you_mean, read_source
from rulesengine.language.syntax import parse
from rulesengine.language.windows import dates_in_force

from .confinement import found_file
from .codeset_files import codeset_files, read_edition
from .valueset_files import read_codes
from .yaml_source import YamlSource

PACK_SCHEMA = json.loads((resources.files(__package__) / "pack.schema.json").read_text("utf-8"))
_VALIDATOR = Draft202012Validator(PACK_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


@dataclass
class Layer:
    id: str
    dir: Path
    meta: dict
    files: list[ast.RuleFile]
    paths: list[Path]  # every file the layer's behaviour depends on (for the content hash)
    positions: dict = field(default_factory=dict)  # pack.yaml: where each value is written
    editions: list[Edition] = field(default_factory=list)  # ICD-10-CM code sets (codesets/)
    edition_files: list[Path] = field(default_factory=list)  # the files they are read from


@dataclass
class Merged:
    """What the layers define together, ready for the checker."""

    valuesets: dict[str, ast.ValueSet] = field(default_factory=dict)
    tables: dict[str, tuple[ast.Table, Path]] = field(default_factory=dict)  # with the pack folder
    #: the rules in force, in order; a rule a windowed pack overrides or disables keeps its
    #: inherited version(s) for the dates outside that window (``ast.Rule.superseded``)
    rules: list[ast.Rule] = field(default_factory=list)
    #: (rule id, where written) -> the layer the version comes from (see ``runtime.version_key``)
    layer_of: dict[tuple[str, ast.Pos], Layer] = field(default_factory=dict)
    parameters: dict[str, object] = field(default_factory=dict)
    #: rules switched off at every date: rule id -> (pack, reason)
    disabled: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: the ICD-10-CM editions of the layers by their first day; a layer's replaces a parent's
    icd10_editions: dict[date, Edition] = field(default_factory=dict)


def extended_folder(folder: Path, name: str) -> Path:
    """The folder of a pack named in ``extends``: beside this one, or a path from it."""
    return (folder / name) if "/" in name else (folder.parent / name)


#: how many packs deep ``extends`` may go (each level is a pack the loader walks into)
MAX_EXTENDS = 32


def read_layers(pack_dir: Path, sources: dict[str, str]) -> tuple[list[Layer], list[Diagnostic]]:
    """The pack and every pack below it, base first."""
    layers: list[Layer] = []
    problems: list[Diagnostic] = []
    done: set[Path] = set()

    roots: list[Path] = []  # the folders of the packs read: what their files may link into

    def visit(folder: Path, chain: list[Path], named_at: ast.Pos | None):
        identity = folder.resolve()  # files keep the path as written, for messages
        if identity in chain:
            names = " -> ".join(p.name for p in [*chain[chain.index(identity):], identity])
            problems.append(Diagnostic("extends-cycle", named_at, f"packs extend each other in a circle: {names}",
                                       "a pack may build on another, never on itself"))
            return
        if identity in done:
            return
        if len(chain) >= MAX_EXTENDS:
            problems.append(Diagnostic("extends-depth", named_at,
                                       f"packs extend packs more than {MAX_EXTENDS} deep here",
                                       "a payer's pack builds on one or two others (a base, a "
                                       "line of business), not a long chain"))
            return
        meta_file = folder / "pack.yaml"
        if not meta_file.is_file():
            where = named_at or ast.Pos(str(meta_file), 1, 1)
            problems.append(Diagnostic("missing-file", where,
                                       f"{folder} is not a rule pack: it has no pack.yaml"))
            return
        roots.append(identity)
        outside = found_file(meta_file, named_at or ast.Pos(str(meta_file), 1, 1), "pack.yaml",
                             [identity])
        if outside:
            problems.append(outside)
            return
        meta, positions, meta_problems = read_meta(meta_file, sources)
        problems.extend(meta_problems)
        parents = meta.get("extends")
        for index, name in enumerate(parents if isinstance(parents, list) else []):
            if not isinstance(name, str):
                continue  # reported by the schema
            parent = extended_folder(folder, name)
            visit(parent, [*chain, identity], positions.get(("extends", index)))
        done.add(identity)
        window = meta.get("effective") or {}
        if isinstance(window, dict) and str(window.get("through", "9")) < str(window.get("from", "0")):
            problems.append(Diagnostic("empty-window", positions.get(("effective", "through")),
                                       f"pack {folder.name} would never apply: its window ends before it starts",
                                       "swap the two dates"))
        layer = _read_layer(folder, meta, meta_file, sources, problems, roots)
        layer.positions = positions
        layers.append(layer)

    visit(pack_dir, [], None)
    return layers, problems


def _read_layer(folder, meta, meta_file, sources, problems, roots) -> Layer:
    rule_paths = _inside(sorted(p for p in folder.rglob("*.rules")
                                if "tests" not in p.relative_to(folder).parts),
                         "rule file", folder, meta_file, roots, problems)
    if not rule_paths:
        problems.append(Diagnostic("no-rules", ast.Pos(str(meta_file), 1, 1),
                                   f"pack {folder} has no *.rules files"))
    files, code_files = [], []
    for rule_path in rule_paths:
        text, problem = read_source(rule_path)
        if problem is not None:
            problems.append(problem)
            continue
        sources[str(rule_path)] = text
        parsed, syntax_problems = parse(text, str(rule_path))
        problems.extend(syntax_problems)
        if parsed is not None:
            valuesets = []
            for vs in parsed.valuesets:
                vs, file_problems, read = read_codes(vs, folder, roots)
                problems.extend(file_problems)
                valuesets.append(vs)
                code_files += [read] if read else []
            files.append(dataclasses.replace(parsed, valuesets=tuple(valuesets)))
    tables = {folder / t.path.value for f in files for t in f.tables}
    editions = []
    edition_files = _inside(codeset_files(folder), "code set file", folder, meta_file, roots,
                            problems)
    for path in edition_files:
        edition, edition_problems = read_edition(path, folder)
        problems.extend(edition_problems)
        editions += [edition] if edition else []
    paths = [meta_file, *rule_paths, *sorted(code_files),
             *sorted(p for p in tables if p.is_file()), *edition_files]
    return Layer(str(meta.get("id") or folder.name), folder, meta, files, paths,
                 editions=editions, edition_files=edition_files)


def _inside(paths: list[Path], what: str, folder: Path, meta_file: Path, roots,
            problems: list) -> list[Path]:
    """The files of ``paths`` inside the pack roots; a problem (at pack.yaml, which owns the
    folder) for each that links out."""
    kept = []
    for path in paths:
        outside = found_file(path, ast.Pos(str(meta_file), 1, 1), what, roots,
                             str(path.relative_to(folder)))
        if outside:
            problems.append(outside)
        else:
            kept.append(path)
    return kept


# ---- pack.yaml ---------------------------------------------------------------------------

def read_meta(meta_file: Path, sources: dict[str, str]):
    """pack.yaml's fields, the position of each (by path), and its problems."""
    text, problem = read_source(meta_file)
    if problem is not None:
        return {}, {}, [problem]
    sources[str(meta_file)] = text
    # read first with positions and limits (depth, alias expansion): only a file that passes
    # is loaded as plain data
    source = YamlSource(str(meta_file), text)
    source.read()
    if source.problems:
        return {}, {}, [_in_pack_yaml(d) for _, d in source.problems]
    meta = yaml.load(text, Loader=_TextDates)  # a safe loader: see _TextDates
    positions = {**source.values, **source.keys}
    if not isinstance(meta, dict):
        return {}, positions, [Diagnostic("bad-pack", ast.Pos(str(meta_file), 1, 1),
                                          "pack.yaml must be a mapping of fields (id: ..., version: ...)")]
    problems = []
    for error in sorted(_VALIDATOR.iter_errors(meta), key=lambda e: list(e.absolute_path)):
        path = tuple(error.absolute_path)
        pos = positions.get(path) or positions.get(path[:-1]) or ast.Pos(str(meta_file), 1, 1)
        problems.append(_meta_problem(error, path, pos, meta, positions))
    return meta, positions, problems


def _in_pack_yaml(problem: Diagnostic) -> Diagnostic:
    if problem.message.startswith("not valid YAML"):
        return dataclasses.replace(problem, message="pack.yaml is " + problem.message)
    return problem


class _TextDates(yaml.SafeLoader):
    """YAML's safe loader, leaving dates as the text written: the schema then checks them
    (2026-02-30 is reported at its line, not raised while loading)."""


_TextDates.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _meta_problem(error, path, pos, meta, positions) -> Diagnostic:
    where = ".".join(str(p) for p in path) or "pack.yaml"
    if error.validator == "additionalProperties" and not path:
        extra = sorted(set(meta) - set(PACK_SCHEMA["properties"]))
        pos = positions.get((extra[0],), pos)
        return Diagnostic("bad-pack", pos, f"pack.yaml has no field '{extra[0]}'",
                          did_you_mean(extra[0], PACK_SCHEMA["properties"])
                          or "fields: " + ", ".join(PACK_SCHEMA["properties"]))
    if error.validator == "required":
        return Diagnostic("bad-pack", pos, f"pack.yaml needs a field {error.message.split()[0]}")
    if path == ("version",) and isinstance(meta.get("version"), (int, float)):
        return Diagnostic("bad-pack", pos, f"version {meta['version']} reads as a number, so 2026.10 would become 2026.1",
                          f'write it in quotes: version: "{meta["version"]}"')
    if path == ("extends",) and isinstance(meta.get("extends"), str):
        return Diagnostic("bad-pack", pos, "extends is a list of packs",
                          f"write: extends: [{meta['extends']}]")
    return Diagnostic("bad-pack", pos, f"{where}: {error.message}")



# ---- merging ---------------------------------------------------------------------------------

def merge(layers: list[Layer]) -> tuple[Merged, list[Diagnostic]]:
    merged, problems = Merged(), []
    origin: dict[str, str] = {}  # name or rule id -> the layer that last defined it
    for layer in layers:
        merged.parameters.update(layer.meta.get("parameters") or {})
        merged.icd10_editions.update((edition.start, edition) for edition in layer.editions)
        window = _pack_window(layer)
        own: dict[str, ast.Pos] = {}
        names = _Names(merged.valuesets, merged.tables)
        for f in layer.files:
            for item in (*f.valuesets, *f.tables):
                if _declare(item.name, item.pos, getattr(item, "override", False), own,
                            origin, layer, names, problems):
                    merged.valuesets.pop(item.name, None)
                    merged.tables.pop(item.name, None)
                    if isinstance(item, ast.ValueSet):
                        merged.valuesets[item.name] = item
                    else:
                        merged.tables[item.name] = (item, layer.dir)
        ids = {r.id for r in merged.rules}  # kept up to date: a set per rule made 20,000 rules quadratic
        for f in layer.files:
            for rule in f.rules:
                if _declare(rule.id, rule.pos, rule.override, own, origin, layer, ids, problems,
                            what="rule"):
                    rule = _narrow(rule, window)
                    if rule.id in ids:
                        _take_over(merged.rules, rule.id, ast.Superseded(layer.id, *window), rule)
                    else:
                        merged.rules.append(rule)
                        ids.add(rule.id)
                    merged.layer_of[rule.id, rule.pos] = layer
            for off in f.disables:
                at = next((i for i, r in enumerate(merged.rules) if r.id == off.rule_id), None)
                if at is None or off.rule_id in own:
                    problems.append(Diagnostic(
                        "unknown-rule", off.pos,
                        f"pack {layer.id} disables rule {off.rule_id}, which no pack it extends defines"
                        if at is None else f"rule {off.rule_id} is defined in this pack; delete it instead",
                        did_you_mean(off.rule_id, [r.id for r in merged.rules]) if at is None else None))
                elif not off.reason.value.strip():
                    problems.append(Diagnostic("missing-reason", off.reason.pos,
                                               f"say why rule {off.rule_id} is disabled",
                                               'like: because "our contract pays this service without it"'))
                else:
                    _take_over(merged.rules, off.rule_id, ast.Superseded(layer.id, *window, disabled=True))
                    if all(r.id != off.rule_id for r in merged.rules):
                        merged.disabled[off.rule_id] = (layer.id, off.reason.value)
                        ids.discard(off.rule_id)
    return merged, problems


class _Names:
    """The names of value sets and tables together, without a new set per declaration."""

    def __init__(self, *named: dict):
        self.named = named

    def __contains__(self, name) -> bool:
        return any(name in d for d in self.named)

    def __iter__(self):
        return (name for d in self.named for name in d)


def _take_over(rules: list[ast.Rule], rule_id: str, over: ast.Superseded,
               replacement: ast.Rule | None = None) -> None:
    """A later pack overrides (``replacement``) or disables a rule within its window: every
    inherited version steps aside there, and is dropped where nothing of it is left (at every
    date, for a pack without a window). The versions of a rule stay together, base first,
    in the place of the first: an override keeps the inherited rule's place in the order."""
    at = [i for i, r in enumerate(rules) if r.id == rule_id]
    kept = []
    if over.start is not None or over.end is not None:
        for version in rules[at[0]:at[-1] + 1]:
            version = dataclasses.replace(version, superseded=(*version.superseded, over))
            try:
                gone = not dates_in_force(version)
            except ValueError:  # a date not on the calendar: the checker reports it at its place
                gone = False
            if not gone:
                kept.append(version)
    rules[at[0]:at[-1] + 1] = [*kept, *([replacement] if replacement is not None else [])]


def _declare(name, pos, override, own, origin, layer, inherited, problems, what="name") -> bool:
    """Whether the item may take ``name`` in this layer; reports why not."""
    noun = "rule" if what == "rule" else "value set or table"
    if name in own:
        code = "duplicate-rule" if what == "rule" else "duplicate-name"
        problems.append(Diagnostic(code, pos, f"{noun} {name} is already defined at {own[name]}",
                                   "give each its own name" if what != "rule" else "give each rule its own id"))
        return False
    if name in inherited and not override:
        problems.append(Diagnostic(
            "redefines-inherited", pos, f"{noun} {name} is defined by pack {origin[name]}, which this pack extends",
            f"to replace it write 'override {'rule' if what == 'rule' else 'valueset'} {name} ...'"))
        return False
    if override and name not in inherited:
        problems.append(Diagnostic(
            "nothing-to-override", pos, f"pack {layer.id} overrides {name}, which no pack it extends defines",
            did_you_mean(name, inherited) or "remove 'override'"))
        return False
    own[name] = pos
    origin[name] = layer.id
    return True


def _pack_window(layer: Layer) -> tuple[ast.DateValue | None, ast.DateValue | None]:
    """The pack's window, each date placed where pack.yaml writes it."""
    window = layer.meta.get("effective") or {}
    ends = []
    for key in ("from", "through"):
        pos = layer.positions.get(("effective", key)) or ast.Pos(str(layer.dir / "pack.yaml"), 1, 1)
        ends.append(ast.DateValue(str(window[key]), pos) if window.get(key) else None)
    return ends[0], ends[1]


def _narrow(rule: ast.Rule, window) -> ast.Rule:
    """The rule with its effective window narrowed to its pack's."""
    start, end = window
    if start and (rule.effective_from is None or start.text > rule.effective_from.text):
        rule = dataclasses.replace(rule, effective_from=start)
    if end and (rule.effective_through is None or end.text < rule.effective_through.text):
        rule = dataclasses.replace(rule, effective_through=end)
    return rule
