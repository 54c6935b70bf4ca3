"""Loading a rule pack: pack.yaml, its *.rules files and tables -> a CompiledPack.

A pack is a folder::

    pack.yaml         id, version, payer, description
    *.rules           value sets, tables and rules (any number of files, read in name order)
    tables/*.csv      tables the rules declare
    codesets/         ICD-10-CM code sets by date of service (icd10cm)
    tests/            the pack's own tests (not read here)
"""

from __future__ import annotations

import gc
import hashlib
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from rulesengine.claims.build import ClaimError
from rulesengine.claims.model import Claim
from rulesengine.codes.icd10cm import Editions
from rulesengine.engine import compiler, reference
from rulesengine.engine.boundary import checked_or_error
from rulesengine.engine.checked import CheckedPack
from rulesengine.engine.history import HistoryRequired
from rulesengine.engine.results import PackInfo, Result
from rulesengine.engine.runtime import RuleFacts, version_key
from rulesengine.language import ast, parameters
from rulesengine.language.checker import check
from rulesengine.language.diagnostics import PackError

from .layers import merge, read_layers
from .tables import load_table


class CompiledPack:
    """A pack ready to check claims. Build it with ``load_pack``; share it freely between
    threads (checking keeps its state in the call)."""

    def __init__(self, info: PackInfo, meta: dict, checked, facts: dict[tuple, RuleFacts],
                 layers: list[str], disabled: dict[str, tuple[str, str]] | None = None):
        self.info = info
        self.folder: str | None = None
        self.rule_layers: list[list[str]] = []
        self.codeset_files: list[list[str]] = []
        #: table name -> (its declaration, the folder it is read from, the pack roots)
        self.table_files: dict[str, tuple[ast.Table, str, list[str]]] = {}
        self.meta = meta
        self.layers = layers  # pack ids, base first
        #: inherited rules switched off at every date: rule id -> (the pack that disabled it,
        #: its reason); a windowed pack's disable shows in the versions' ``superseded``
        self.disabled = disabled or {}
        #: the rules in force, in order; a rule that a windowed pack overrides or disables
        #: appears once per version, each applying on its own dates (``layers.dates_in_force``)
        self.rules: list[ast.Rule] = checked.rules
        self._checked = checked
        self._facts = facts  # runtime.version_key(rule) -> RuleFacts
        self._evaluator = compiler.Evaluator(checked, facts)

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def valuesets(self) -> dict[str, ast.ValueSet]:
        return self._checked.valuesets

    @property
    def tables(self):
        """Table name -> ``tables.TableData`` (typed rows)."""
        return self._checked.tables

    def facts(self, rule: ast.Rule) -> RuleFacts:
        """What every finding of this version of a rule carries: its layer, file and line."""
        return self._facts[version_key(rule)]

    def rule_pack(self, rule_id: str, day: date | None = None) -> str:
        """The pack (layer) a rule comes from: of its version that applies on the date of
        service ``day`` when given (a windowed pack's override leaves the inherited version
        in force outside its window), else of its most-derived version."""
        versions = [r for r in self.rules if r.id == rule_id
                    and (day is None or reference.in_window(r, day))]
        if not versions:
            raise KeyError(rule_id)
        return self.facts(versions[-1]).pack

    @property
    def version(self) -> str:
        return self.info.version

    @property
    def history_rules(self) -> tuple[str, ...]:
        """The ids of the rules that read the claim history (frequency and duplicate rules);
        checking needs a history when there are any."""
        return self._evaluator.history_rules

    def check(self, claim: Claim, history=None) -> Result:
        """Check one claim with the compiled rules. ``history`` (``history.History``) is what
        frequency and duplicate rules read; without one they raise ``HistoryRequired``."""
        if history is None and self.history_rules:
            raise HistoryRequired(self.id, self.history_rules)
        return Result(claim.claim_id, self.info, self._evaluator.findings(claim, history),
                      claim.warnings)

    def check_reference(self, claim: Claim, history=None) -> Result:
        """Check one claim with the reference interpreter (slow; for testing the compiler)."""
        if history is None and self.history_rules:
            raise HistoryRequired(self.id, self.history_rules)
        return Result(claim.claim_id, self.info,
                      reference.evaluate(self._checked, self._facts, claim, history), claim.warnings)


class PackSet:
    """Several packs, each checking the claims of its payers: a claim goes to the pack whose
    id, or one of whose ``payer_ids`` in pack.yaml, is the claim's payer id. A single pack
    checks every claim."""

    def __init__(self, packs: list[CompiledPack]):
        self.packs = packs
        self._by_payer: dict[str, CompiledPack] = {}
        for pack in packs:
            for payer in [pack.id, *pack.meta.get("payer_ids", [])]:
                self._by_payer.setdefault(str(payer), pack)

    def for_claim(self, claim: Claim) -> CompiledPack | None:
        if len(self.packs) == 1:
            return self.packs[0]
        return self._by_payer.get(claim.payer_id or "")

    def check(self, claim: Claim, history=None, source: str = "<input>",
              position: int = 0) -> Result | ClaimError:
        """The claim checked by the pack of its payer, or the ClaimError saying why it was
        not: no pack takes its payer (payer ids match exactly, case and all), or checking
        it failed (see ``engine.boundary``). ``source`` and ``position`` say where the
        claim was read, for the error."""
        pack = self.for_claim(claim)
        if pack is None:
            payer = f"payer '{claim.payer_id}'" if claim.payer_id else "a claim with no payer id"
            known = ", ".join(sorted(self._by_payer))
            return ClaimError(source, position, claim.claim_id, "$.payer.id",
                              f"no pack for {payer} (the packs take: {known})", kind="no-pack")
        return checked_or_error(lambda c: pack.check(c, history=history), claim, source, position)


def load_pack(path: str | Path) -> CompiledPack:
    """Parse, check and compile the pack in folder ``path`` with every pack it extends;
    raise PackError listing every problem."""
    with collector_paused():
        return _load_pack(path)


@contextmanager
def collector_paused():
    """Python's cycle collector paused while a pack loads: loading allocates millions of
    small objects and keeps them, so each full collection walks everything made so far,
    which made loading quadratic (20,000 rules: 26 s with it, 10 s without). What was made
    goes straight to the oldest generation (frozen, then thawed: no walk), as a pack lives
    as long as the program; sent through the young ones it is walked there for nothing
    (a million-row table: 0.8 s). Restored after (an embedding program that turned the
    collector off keeps it off)."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if running:
            gc.enable()


def _load_pack(path: str | Path) -> CompiledPack:
    pack_dir = Path(path)
    sources: dict[str, str] = {}
    layers, problems = read_layers(pack_dir, sources)
    if problems and (not layers or any(p.code in _FATAL or p.pos.file.endswith("pack.yaml")
                                       for p in problems)):
        # a file that does not parse defines nothing, and a pack.yaml in doubt leaves the
        # layers in doubt: checking the rules would only report follow-on errors
        raise PackError(problems, sources)
    merged, merge_problems = merge(layers)
    rules, bind_problems = parameters.bind(merged.rules, merged.parameters)
    problems += merge_problems + bind_problems
    problems += check(merged.valuesets, {name: decl for name, (decl, _) in merged.tables.items()}, rules)
    tables = {}
    roots = [layer.dir for layer in layers]  # a table may be a link into a pack extended
    for decl, folder in merged.tables.values():
        data, table_problems = load_table(decl, folder, roots)
        problems += table_problems
        if data is not None:
            tables[decl.name] = data
    checked = CheckedPack(rules, merged.valuesets, tables, Editions(merged.icd10_editions.values()))
    if problems:
        raise PackError(problems, sources)
    top = layers[-1]
    digest = _content_hash([p for layer in layers for p in layer.paths])
    info = PackInfo(top.id, str(top.meta["version"]), digest)
    facts, rule_layers = {}, []
    for rule in checked.rules:  # one entry per version of a rule
        layer = merged.layer_of[version_key(rule)]
        facts[version_key(rule)] = RuleFacts.of(rule, layer.id, layer.dir)
        rule_layers.append([layer.id, str(layer.dir)])
    compiled = CompiledPack(info, top.meta, checked, facts, [layer.id for layer in layers],
                            merged.disabled)
    compiled.folder = str(pack_dir)  # where to compile it again (a worker process that spawns)
    # what a cache entry needs to make the facts and the code sets again (``cache``)
    compiled.rule_layers = rule_layers
    compiled.codeset_files = [[str(path), str(layer.dir)] for layer in layers
                              for path in layer.edition_files]
    compiled.table_files = {decl.name: (decl, str(folder), [str(r) for r in roots])
                            for decl, folder in merged.tables.values()}
    return compiled


#: problems after which the later stages would only report follow-on errors
_FATAL = {"syntax", "bad-yaml", "bad-pack", "extends-cycle", "extends-depth", "missing-file",
          "too-deep"}


def _content_hash(paths: list[Path]) -> str:
    """A digest of everything the pack's behaviour depends on, its layers' files included,
    so a result can be audited."""
    digest = hashlib.sha256()
    for p in paths:
        digest.update(f"{p.parent.name}/{p.name}".encode() + b"\0")
        digest.update(p.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()
