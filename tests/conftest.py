"""Fixtures shared by the language, rule-kind, error and agreement tests.

* ``make_pack(rules, tables=...)`` writes a pack (pack.yaml, rules, CSV tables) into a
  fresh folder under ``tmp_path`` and loads it.
* ``evaluate(pack, claim)`` checks a claim with the compiled evaluator *and*, in a second
  run of the same test, with the reference interpreter: every behaviour test that asks
  for it is run against both.
* ``build_claim(...)`` (in ``corpus``) builds a valid claim with sensible defaults.
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
from pathlib import Path

import pytest

# the helpers in corpus.py are plain functions; make them importable whatever the import mode
_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from corpus import EVALUATORS, load_pack_from  # noqa: E402

# check keeps compiled packs in the user's cache folder: the tests keep theirs apart
os.environ["RULESENGINE_CACHE"] = tempfile.mkdtemp(prefix="rulesengine-test-cache-")


@pytest.fixture
def make_pack(tmp_path):
    """Write a pack into a new folder under tmp_path and load it (raises PackError)."""
    counter = itertools.count(1)

    def make(rules, tables=None, meta=None):
        folder = tmp_path / f"pack{next(counter)}"
        return load_pack_from(folder, rules, tables, meta)

    return make


@pytest.fixture(params=EVALUATORS)
def evaluate(request):
    """check(pack, claim) -> Result, with the compiled evaluator or the reference interpreter."""
    name = request.param

    def run(pack, claim):
        return getattr(pack, name)(claim)

    run.evaluator = name
    return run
