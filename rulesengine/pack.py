"""Loading a rule pack: pack.yaml, its *.rules files and tables -> a CompiledPack.

A pack is a folder::

    pack.yaml         id, version, payer, description
    *.rules           value sets, tables and rules (any number of files, read in name order)
    tables/*.csv      tables the rules declare
    tests/            the pack's own tests (not read here)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from . import ast, compiler, reference
from .checker import check
from .diagnostics import Diagnostic, PackError
from .model import Claim
from .results import PackInfo, Result
from .runtime import RuleFacts
from .syntax import parse

_PACK_FIELDS = {"id": str, "version": str, "name": str, "payer": str, "description": str,
                "owner": str}


class CompiledPack:
    """A pack ready to check claims. Build it with ``load_pack``; share it freely between
    threads (checking keeps its state in the call)."""

    def __init__(self, info: PackInfo, meta: dict, checked, facts: dict[str, RuleFacts]):
        self.info = info
        self.meta = meta
        self.rules: list[ast.Rule] = checked.rules
        self._checked = checked
        self._facts = facts
        self._evaluator = compiler.Evaluator(checked, facts)

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def version(self) -> str:
        return self.info.version

    def check(self, claim: Claim) -> Result:
        """Check one claim with the compiled rules."""
        return Result(claim.claim_id, self.info, self._evaluator.findings(claim))

    def check_reference(self, claim: Claim) -> Result:
        """Check one claim with the reference interpreter (slow; for testing the compiler)."""
        return Result(claim.claim_id, self.info, reference.evaluate(self._checked, self._facts, claim))


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


def load_pack(path: str | Path) -> CompiledPack:
    """Parse, check and compile the pack in folder ``path``; raise PackError listing every problem."""
    pack_dir = Path(path)
    meta_file = pack_dir / "pack.yaml"
    if not meta_file.is_file():
        raise PackError([Diagnostic("missing-file", ast.Pos(str(meta_file), 1, 1),
                                    f"{pack_dir} is not a rule pack: it has no pack.yaml")])
    sources: dict[str, str] = {}
    meta, problems = _read_meta(meta_file, sources)
    files = []
    rule_paths = sorted(p for p in pack_dir.rglob("*.rules")
                        if "tests" not in p.relative_to(pack_dir).parts)
    if not rule_paths:
        problems.append(Diagnostic("no-rules", ast.Pos(str(meta_file), 1, 1),
                                   f"pack {pack_dir} has no *.rules files"))
    for rule_path in rule_paths:
        text = sources[str(rule_path)] = rule_path.read_text(encoding="utf-8")
        parsed, syntax_problems = parse(text, str(rule_path))
        problems.extend(syntax_problems)
        if parsed is not None:
            files.append(parsed)
    if any(p.code == "syntax" for p in problems):
        # a file that does not parse defines nothing, so checking the rest would only
        # report its names as unknown: fix the syntax first
        raise PackError(problems, sources)
    checked, check_problems = check(files, pack_dir)
    problems.extend(check_problems)
    if problems:
        raise PackError(problems, sources)
    pack_id = meta["id"]
    info = PackInfo(pack_id, meta["version"], _content_hash(pack_dir, rule_paths, files))
    facts = {rule.id: RuleFacts.of(rule, pack_id, pack_dir) for rule in checked.rules}
    return CompiledPack(info, meta, checked, facts)


def _read_meta(meta_file: Path, sources: dict[str, str]) -> tuple[dict, list[Diagnostic]]:
    text = sources[str(meta_file)] = meta_file.read_text(encoding="utf-8")
    try:
        meta = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        pos = ast.Pos(str(meta_file), mark.line + 1 if mark else 1, mark.column + 1 if mark else 1)
        return {}, [Diagnostic("bad-yaml", pos, f"pack.yaml is not valid YAML: {getattr(error, 'problem', error)}")]
    if not isinstance(meta, dict):
        return {}, [Diagnostic("bad-pack", ast.Pos(str(meta_file), 1, 1),
                               "pack.yaml must be a mapping of fields (id: ..., version: ...)")]
    problems = []
    for key in ("id", "version"):
        if key not in meta:
            problems.append(Diagnostic("bad-pack", ast.Pos(str(meta_file), 1, 1),
                                       f"pack.yaml has no '{key}'"))
    if isinstance(meta.get("version"), float):
        problems.append(Diagnostic(
            "bad-pack", _yaml_pos(meta_file, text, "version"),
            f"version {meta['version']} reads as a number, so 2026.10 would become 2026.1",
            f'write it in quotes: version: "{meta["version"]}"'))
    for key, value in meta.items():
        if key in _PACK_FIELDS and value is not None:
            meta[key] = str(value)  # a version like 2026.1 reads as a number in YAML
    return meta, problems


def _yaml_pos(meta_file: Path, text: str, key: str) -> ast.Pos:
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(f"{key}:"):
            return ast.Pos(str(meta_file), number, 1)
    return ast.Pos(str(meta_file), 1, 1)


def _content_hash(pack_dir: Path, rule_paths: list[Path], files: list[ast.RuleFile]) -> str:
    """A digest of everything the pack's behaviour depends on, so a result can be audited."""
    paths = {pack_dir / "pack.yaml", *rule_paths}
    for f in files:
        paths.update(pack_dir / t.path.value for t in f.tables)
    digest = hashlib.sha256()
    for p in sorted(paths):
        digest.update(p.relative_to(pack_dir).as_posix().encode() + b"\0")
        digest.update(p.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()
