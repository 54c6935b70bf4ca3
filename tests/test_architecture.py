"""The house: rooms by stage, imports only downhill, no circles, and a wheel that still works.

The layering is declared as import-linter contracts in pyproject.toml and explained in
docs/architecture.md; these tests run them over the source tree, show that they catch a
wrong-way import and a circle in a copy of the package, and check the installed wheel.
"""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import rulesengine

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rulesengine"
ROOMS = ["codes", "claims", "language", "engine", "packs", "reports", "authoring", "cms", "service", "spark", "cli"]

_LINT = ("import sys; from importlinter.cli import lint_imports; "
         "sys.exit(lint_imports(config_filename='pyproject.toml', no_logo=True, no_cache=True))")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess:
    """import-linter over the package in ``tree`` (its pyproject.toml's contracts)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([sys.executable, "-c", _LINT], cwd=tree, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_package_keeps_its_layering_and_has_no_import_circles():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Rooms import only the rooms below them KEPT" in result.stdout
    assert "No import circles, at any depth KEPT" in result.stdout


@pytest.fixture
def package_copy(tmp_path):
    """A copy of the package and its contracts, to break on purpose."""
    shutil.copytree(PACKAGE, tmp_path / "rulesengine", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _add_line(module: Path, line: str) -> None:
    module.write_text(module.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_a_wrong_way_import_fails_the_layering(package_copy):
    # the codes room is the bottom of the house: it may not reach up into the packs
    _add_line(package_copy / "rulesengine" / "codes" / "kinds.py",
              "from rulesengine.packs import load_pack  # wrong way: up the house")
    result = _lint_imports(package_copy)
    assert result.returncode == 1
    assert "Rooms import only the rooms below them BROKEN" in result.stdout
    assert "rulesengine.codes.kinds -> rulesengine.packs" in result.stdout


def test_a_circle_between_two_modules_of_a_room_fails(package_copy):
    # the claim model is what the readers build on; a model that imports a reader is a circle
    _add_line(package_copy / "rulesengine" / "claims" / "model.py",
              "from rulesengine.claims.files import read_claims  # a circle")
    result = _lint_imports(package_copy)
    assert result.returncode == 1
    assert "No import circles, at any depth BROKEN" in result.stdout
    assert "- .model -> .files (1 import)" in result.stdout


def test_the_rooms_are_the_ones_the_contract_names():
    """A new room must be placed in the order (pyproject.toml) and on the map (architecture.md)."""
    rooms = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert rooms == sorted(ROOMS)
    contract = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    architecture = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for room in ROOMS:
        assert f'rulesengine.{room}' in contract, room
        assert f"`{room}/`" in architecture, room


@pytest.mark.parametrize("room", ROOMS)
def test_each_room_opens_with_a_docstring_saying_what_it_holds_and_may_import(room):
    tree = ast.parse((PACKAGE / room / "__init__.py").read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree)
    assert doc and "May import" in doc, room
    module = importlib.import_module(f"rulesengine.{room}")
    for name in getattr(module, "__all__", ()):
        assert hasattr(module, name), f"rulesengine.{room}.__all__ names {name}, which it lacks"


def test_modules_stay_at_one_idea_each_none_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert long == {}


def test_the_public_api_is_the_readme_one():
    assert set(rulesengine.__all__) >= {
        "load_pack", "read_claims", "read_837", "ClaimError", "PackError", "Claim", "Line", "Result",
        "Finding", "CompiledPack", "Diagnostic", "HistoryRequired", "MemoryHistory", "SQLiteHistory",
        "__version__"}
    assert all(hasattr(rulesengine, name) for name in rulesengine.__all__)


_INSTALLED = textwrap.dedent("""
    import json, sys
    from importlib import resources
    from pathlib import Path
    import rulesengine
    print(rulesengine.__file__)
    root = resources.files("rulesengine")
    for part in ("language/grammar/rules.lark", "claims/claim.schema.json", "engine/result.schema.json",
                 "packs/pack.schema.json", "codes/validity_data/modifiers.csv",
                 "codes/validity_data/place_of_service.csv"):
        assert (root / part).is_file(), part
        json.loads((root / part).read_text()) if part.endswith(".json") else None
    pack = rulesengine.load_pack(sys.argv[1])
    claims = [c for c in rulesengine.read_claims(sys.argv[2]) if not isinstance(c, rulesengine.ClaimError)]
    print(pack.id, len(claims), sum(len(pack.check(c).findings) for c in claims))
""")


def test_the_installed_wheel_ships_the_grammar_schemas_and_data():
    """Run in isolated mode (-I: neither the current folder nor PYTHONPATH on the path), so
    the package comes from site-packages, as pip installed it from the wheel."""
    result = subprocess.run(
        [sys.executable, "-I", "-c", _INSTALLED, str(ROOT / "payer_rules" / "medicare"),
         str(ROOT / "examples" / "claims" / "dirty.json")],
        cwd=ROOT.parent, capture_output=True, text=True, timeout=120)
    if result.returncode and "No module named 'rulesengine'" in result.stderr:
        pytest.skip("rulesengine is not installed in this interpreter (pip install . first)")
    assert result.returncode == 0, result.stderr
    installed, summary = result.stdout.splitlines()[:2]
    if Path(installed).resolve().is_relative_to(PACKAGE):
        pytest.skip("an editable install: the wheel is not what is imported")
    assert "site-packages" in installed
    pack_id, claims, findings = summary.split()
    assert pack_id == "medicare" and int(claims) > 0 and int(findings) > 0


def test_python_dash_m_rulesengine_runs_the_command():
    result = subprocess.run([sys.executable, "-m", "rulesengine", "--version"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"rulesengine, version {rulesengine.__version__}"
