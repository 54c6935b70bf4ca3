"""The rule examples of the reference and the how-tos load as written: each ```rules block
in a pack of its own, its tables given as CSV files with the declared columns (and no rows)
and its value-set files a code of their kind. A block that builds on another pack
(override, disable, param.) is left to the how-to's own tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from corpus import load_pack_from

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["docs/language.md", "docs/howto-bundling-and-modifier-policy.md"]
_TABLE = re.compile(r'table \w+ from "([^"]+)"\s+columns ((?:\w+ \w+,\s*)*\w+ \w+)')
_VALUESET_FILE = re.compile(r'valueset \w+ = (\w+) from "([^"]+)"')
_A_CODE = {"icd10": "E55.9", "hcpcs": "82306", "modifier": "25", "pos": "11", "revenue": "0450",
           "text": "HMO"}


def _blocks():
    for doc in DOCS:
        text = (ROOT / doc).read_text(encoding="utf-8")
        for match in re.finditer(r"```rules\n(.*?)```", text, re.S):
            line = text[:match.start()].count("\n") + 2
            yield pytest.param(match.group(1), id=f"{Path(doc).stem}:{line}")


def _files(block: str) -> dict[str, str]:
    files = {}
    for path, columns in _TABLE.findall(block):
        files[path] = ",".join(c.split()[0] for c in re.split(r",\s*", columns)) + "\n"
    for kind, path in _VALUESET_FILE.findall(block):
        files[path] = _A_CODE[kind] + "\n"
    return files


@pytest.mark.parametrize("block", list(_blocks()))
def test_a_documented_example_loads(tmp_path, block):
    if re.search(r"^(override|disable)\b|param\.", block, re.M):
        pytest.skip("builds on another pack or on pack.yaml parameters")
    pack = load_pack_from(tmp_path / "p", block, _files(block))
    assert pack.rules or "rule " not in block


# ---- links between the documents land on a heading ---------------------------------------------

def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def test_every_link_to_a_section_lands_on_a_heading():
    broken = []
    for doc in sorted((ROOT / "docs").glob("*.md")):
        text = re.sub(r"```.*?```", "", doc.read_text(encoding="utf-8"), flags=re.S)
        for target, anchor in re.findall(r"\]\(([\w\-./]*\.md)?#([^)\s]+)\)", text):
            path = (doc.parent / target) if target else doc
            if path.is_file() and anchor not in _anchors(path):
                broken.append(f"{doc.name}: {target}#{anchor}")
    assert broken == []
