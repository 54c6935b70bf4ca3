"""The HTML summary: the figures, charts and tables a biller reads, parsed back out of the
page; nothing fetched from the internet; claim and pack text escaped; and, when Chromium
is installed, the page rendered headless and checked as a person would see it."""

from __future__ import annotations

import io
import json
import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rulesengine import ClaimError, load_pack, read_claims
from rulesengine.reports import tally as report_tally
from rulesengine.claims import claim_from_data
from rulesengine.packs.load import PackSet
from rulesengine.reports.json import Summary
from rulesengine.reports.html import HtmlWriter
from rulesengine.reports.tally import CARC_TEXT
from rulesengine.engine.results import PackInfo

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = ROOT / "examples" / "claims"
GENERATED = datetime(2026, 9, 30, 14, 5, tzinfo=UTC)
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr", "source", "area", "base"}


class Page(HTMLParser):
    """A page parsed for its tests: every tag, the text inside each element with an id,
    each table (by id) as rows of cell texts, and each chart's text alternatives."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.open: list[tuple[str, dict]] = []
        self.by_id: dict[str, list[str]] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.charts: list[str] = []  # aria-label of each <svg role="img">
        self.bar_titles: list[str] = []  # the <title> of each bar (tooltip)
        self.text: list[str] = []  # everything a reader sees in the body
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "svg" and attrs.get("role") == "img":
            self.charts.append(attrs.get("aria-label", ""))
        table = self._table()
        if table is not None and tag == "tr":
            table.append([])
        elif table is not None and tag in ("td", "th") and table:
            table[-1].append("")
        if tag == "table" and attrs.get("id"):
            self.tables[attrs["id"]] = []
        if attrs.get("id"):
            self.by_id[attrs["id"]] = []
        if tag not in VOID:
            self.open.append((tag, attrs))
        elif tag == "br":
            self.handle_data(" ")

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        while self.open:
            if self.open.pop()[0] == tag:
                break

    def handle_data(self, data):
        names = [t for t, _ in self.open]
        if "style" in names or "head" in names:
            return
        if "svg" in names:
            if names[-1] == "title" and names[-2] == "g":
                self.bar_titles.append(data)
            if names[-1] == "title":
                return
        self.text.append(data)
        for _, attrs in self.open:
            if attrs.get("id"):
                self.by_id[attrs["id"]].append(data)
        table = self._table()
        if table and table[-1] and any(t in ("td", "th") for t in names):
            table[-1][-1] += data

    def _table(self):
        for tag, attrs in reversed(self.open):
            if tag == "table":
                return self.tables.get(attrs.get("id"))
        return None

    def text_of(self, element_id: str) -> str:
        return " ".join(" ".join(self.by_id[element_id]).split())

    def rows(self, table_id: str) -> list[list[str]]:
        return [[" ".join(c.split()) for c in row] for row in self.tables[table_id]]


def check_batch(packs: PackSet, items, **options) -> tuple[str, Summary]:
    """Feed claims through an HtmlWriter as the check command does (the claim with its result)."""
    out = io.StringIO()
    writer = HtmlWriter(out, [p.info for p in packs.packs], generated=GENERATED, **options)
    summary = Summary()
    for item in items:
        if isinstance(item, ClaimError):
            summary.add_error(item)
            writer.error(item)
            continue
        result = packs.for_claim(item).check(item)
        summary.add(result)
        writer.result(result, item)
    writer.close(summary)
    return out.getvalue(), summary


@pytest.fixture(scope="module")
def packs():
    return PackSet([load_pack(ROOT / "payer_rules" / "medicare"),
                    load_pack(ROOT / "payer_rules" / "acme-commercial")])


@pytest.fixture(scope="module")
def examples(packs):
    """The bundled example claims against both bundled packs: the page and its parse."""
    items = [c for path in sorted(CLAIMS.glob("*.json")) for c in read_claims(str(path))]
    text, _ = check_batch(packs, items)
    return text, Page(text)


def test_headline_figures(examples):
    _, page = examples
    # examples/expected-report.txt: 38 checked, 19 clean, 0 review, 19 denied, 1 unreadable
    assert page.text_of("figure-claims") == "Claims checked 38 plus 1 not checked"
    assert page.text_of("figure-clean-rate") == "Clean-claim rate 50.0% 19 of 38 with no finding"
    assert page.text_of("figure-denial-rate") == "Denial rate 50.0% 19 of 38 likely denied"
    assert page.text_of("figure-review") == "For review 0 0.0% of claims checked"
    assert page.text_of("figure-unreadable") == "Not checked 1 1 unreadable; not in the rates"
    assert page.text_of("figure-findings") == "Findings 21 on 19 claims"


def test_charts_carry_their_figures_as_text(examples):
    _, page = examples
    assert "Outcome of the claims checked: clean 19 (50.0%); review 0 (0.0%); denied 19 (50.0%)" \
        in page.charts
    assert ("Findings by category: Unit limit 5 findings; Filing limit 3 findings; "
            "Medical necessity 3 findings; Age 2 findings; Bundling 2 findings; "
            "Modifier 2 findings; Prior auth 2 findings; Claim data 1 finding; "
            "Sex 1 finding") in page.charts
    assert ("Findings by denial code (CARC): CO-151 3 findings; CO-29 3 findings; "
            "CO-50 3 findings; CO-119 2 findings; CO-197 2 findings; CO-6 2 findings; "
            "CO-107 1 finding; CO-16 1 finding; CO-236 1 finding; CO-4 1 finding; "
            "CO-7 1 finding; CO-97 1 finding") in page.charts
    assert ("Claims by payer (clean, review, denied): medicare 31 · 48.4% clean; "
            "acme-commercial 7 · 57.1% clean") in page.charts
    # every bar has its own tooltip
    assert "Medical necessity: 3 findings" in page.bar_titles
    assert "CO-236: 1 finding" in page.bar_titles
    assert "medicare: 15 clean, 0 review, 16 denied" in page.bar_titles
    assert "82306: 3 findings, 3 that deny" in page.bar_titles


def test_tables(examples, packs):
    _, page = examples
    carcs = {row[0]: row[1:] for row in page.rows("carcs")[1:]}
    assert carcs["CO-50"] == [CARC_TEXT["50"], "3", "3"]
    assert carcs["CO-151"] == [CARC_TEXT["151"], "3", "2"]  # two lines of one claim
    assert CARC_TEXT["50"] == ("These are non-covered services because this is not deemed a "
                               "'medical necessity' by the payer.")
    assert page.rows("payers") == [
        ["Payer", "Claims", "Clean", "Review", "Denied", "Clean rate", "Findings"],
        ["medicare", "31", "15", "0", "16", "48.4%", "17"],
        ["acme-commercial", "7", "4", "0", "3", "57.1%", "4"]]
    rules = page.rows("rules")
    assert rules[:3] == [["Rule", "Category", "Denial code", "Findings", "Claims", "Pack"],
                         ["MN-VITD-82306", "Medical necessity", "CO-50 N115", "3", "3", "medicare"],
                         ["MUE-PRACTITIONER", "Unit limit", "CO-151 N362", "3", "2", "medicare"]]
    # the same rule id from two packs (acme-commercial overrides timely filing) stays apart
    assert ["TF-PROFESSIONAL", "Filing limit", "CO-29", "1", "1", "acme-commercial"] in rules
    assert ["TF-PROFESSIONAL", "Filing limit", "CO-29 N211", "1", "1", "medicare"] in rules
    codes = page.rows("codes")
    assert codes[1] == ["82306", "3", "3", "MN-VITD-82306 (3)"]
    # timely filing's evidence names no procedure: the claim's line does
    assert ["99213", "3", "3", "TF-PROFESSIONAL (2)"] in codes  # and EM-MINOR-25
    assert page.rows("packs")[1:] == [[p.info.id, p.info.version, p.info.hash] for p in packs.packs]


def test_denied_claims_table_lists_each_denied_claim_with_its_findings(examples):
    _, page = examples
    rows = page.rows("denied")
    assert rows[0] == ["Claim", "Line", "Procedure", "Denial code", "Rule", "Why"]
    firsts = [row for row in rows[1:] if len(row) == 6]  # a claim's first row has its header
    assert [row[0] for row in firsts] == [
        "ACME-PA-MISSING-EPO acme-commercial", "ACME-TF-LATE acme-commercial",
        "ACME-THERAPY-OVER acme-commercial", "MN-UNSUPPORTED-DX medicare", "MN-DX-NOT-POINTED medicare",
        "MN-SUBSEQUENT-ENCOUNTER-NOT-LISTED medicare", "NCCI-BUNDLED medicare",
        "MUE-DOS-OVER medicare", "MUE-DOS-SUMMED-ACROSS-LINES medicare", "TF-LATE medicare",
        "TF-LATE-INSTITUTIONAL medicare", "PA-MISSING medicare", "SEX-59400-MALE medicare",
        "AGE-99381-ADULT medicare", "AGE-99392-INFANT medicare", "AOC-WITHOUT-PRIMARY medicare",
        "EM-MINOR-NO-25 medicare", "BILATERAL-TWO-UNITS medicare", "EXTERNAL-CAUSE-FIRST medicare"]
    assert ["NCCI-BUNDLED medicare", "2", "81105", "CO-236 N20", "NCCI-PTP",
            "81105 is a column-two code of 0001U (line 1) on 2026-07-22 (NCCI modifier indicator 1)"
            ] in rows
    # the second finding of a claim is a row of its own under the same claim
    assert len(rows) == 1 + 19 + 2  # two claims have a second finding
    assert ["2", "0009U", "CO-151 N362", "MUE-PRACTITIONER",
            "3 units of 0009U on 2026-09-10 exceed the MUE of 2 (adjudication indicator 3)"] in rows
    assert ["TF-LATE-INSTITUTIONAL medicare", "claim", "", "CO-29 N211", "TF-INSTITUTIONAL",
            "received 2026-07-06, more than one year after the through date 2025-06-30"] in rows
    assert page.text_of("h-denied") == "Denied claims"
    assert "'2026-09-31' is not a valid date" in page.text_of("h-unreadable") + " ".join(page.text)


def test_nothing_is_fetched_from_the_internet(examples):
    text, page = examples
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "audio", "video"}
    for tag, attrs in page.tags:
        for name in ("src", "href", "xlink:href", "action", "srcset", "poster", "data"):
            assert name not in attrs, (tag, attrs)
        assert not any(re.search(r"https?://", v or "") for v in attrs.values()), (tag, attrs)
    css = " ".join(re.findall(r"<style>(.*?)</style>", text, re.DOTALL))
    assert "@import" not in css and "url(" not in css and "@font-face" not in css


def test_headings_and_table_headers_are_real(examples):
    _, page = examples
    assert [t for t, _ in page.tags].count("h1") == 1
    headings = [page.text_of(a["id"]) for t, a in page.tags if t == "h2"]
    assert headings == ["At a glance", "Findings by category", "Findings by denial code (CARC)",
                        "Claims by payer", "Procedure codes most at risk", "Findings by rule",
                        "Denied claims", "Claims not checked", "Rule packs"]
    for tag, attrs in page.tags:
        if tag == "th":
            assert attrs.get("scope") in ("col", "row", "rowgroup")
        if tag == "svg":
            assert attrs.get("role") == "img" and attrs.get("aria-label")
    assert ("html", {"lang": "en"}) in page.tags


def test_claim_and_pack_text_is_escaped(packs):
    data = json.loads((CLAIMS / "dirty.json").read_text())[0]  # MN-UNSUPPORTED-DX: denied
    data["claim_id"] = "<script>alert('claim')</script>"
    data["payer"]["id"] = '"><img src=x onerror=alert(1)>'
    claim = claim_from_data(data)
    medicare = packs.packs[0]
    out = io.StringIO()
    hostile = PackInfo("<b>pack</b>", '2026"><script>', "sha256:<i>")
    writer = HtmlWriter(out, [hostile], generated=GENERATED)
    result = medicare.check(claim)
    result = replace(result, findings=(replace(result.findings[0],
                                               message="</td><script>x()</script>"),))
    writer.result(result, claim)
    summary = Summary()
    summary.add(result)
    writer.close(summary)
    text = out.getvalue()
    assert "<script" not in text.lower() and "<img" not in text.lower() and "<b>" not in text
    page = Page(text)
    assert not {tag for tag, _ in page.tags} & {"script", "img", "b", "i"}
    assert "&lt;script&gt;alert(&#x27;claim&#x27;)&lt;/script&gt;" in text
    rows = page.rows("denied")
    assert rows[1][0] == "<script>alert('claim')</script> \"><img src=x onerror=alert(1)>"
    assert rows[1][-1] == "</td><script>x()</script>"
    assert page.rows("packs")[1] == ["<b>pack</b>", '2026"><script>', "sha256:<i>"]


def test_memory_stays_flat_and_the_page_says_what_it_left_out(packs, monkeypatch):
    monkeypatch.setattr(report_tally, "KEYS_KEPT", 5)
    medicare = packs.packs[0]
    data = json.loads((CLAIMS / "dirty.json").read_text())[0]  # MN-UNSUPPORTED-DX: denied
    base = claim_from_data(data)

    def batch():
        for i in range(600):
            yield replace(base, claim_id=f"D{i}", payer_id=f"payer-{i % 12}")

    out = io.StringIO()
    writer = HtmlWriter(out, [medicare.info], generated=GENERATED, examples=20)
    summary = Summary()
    for claim in batch():
        result = medicare.check(claim)
        summary.add(result)
        writer.result(result, claim)
    assert len(writer.denied) == 20 and len(writer.tally.payers) == 6
    writer.close(summary)
    page = Page(out.getvalue())
    assert page.text_of("h-denied") == "Denied claims (the first 20 of 600)"
    payers = page.rows("payers")[1:]
    assert [row[0] for row in payers][-1] == "(others)"
    assert sum(int(row[1]) for row in payers) == 600
    assert page.rows("payers")[1:6] == [[f"payer-{i}", "50", "0", "0", "50", "0.0%", "50"]
                                        for i in range(5)]
    assert payers[-1] == ["(others)", "350", "0", "0", "350", "0.0%", "350"]


def test_an_empty_batch_says_so(packs):
    out = io.StringIO()
    writer = HtmlWriter(out, [packs.packs[0].info], generated=GENERATED)
    writer.close(Summary())
    page = Page(out.getvalue())
    assert page.text_of("figure-clean-rate") == "Clean-claim rate – 0 of 0 with no finding"
    assert "No claims were checked." in " ".join(page.text)
    assert "No claim would be denied." in " ".join(page.text)


# ---- rendered in a real browser -----------------------------------------------------------

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
CLEAN_GREEN, DENIED_RED = (0x1A, 0x7F, 0x37), (0xCF, 0x22, 0x2E)


def chromium(tmp_path: Path, page: Path, *args: str) -> str:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
               "--window-size=1280,2000", *args, page.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def read_png(path: Path, top: int) -> tuple[int, int, list[bytes]]:
    """Width, height and the first ``top`` RGB rows of an 8-bit RGB or RGBA PNG (what
    Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = {}, 8
    while at < len(data):
        (size,), kind = struct.unpack(">I", data[at:at + 4]), data[at + 4:at + 8]
        chunks[kind] = chunks.get(kind, b"") + data[at + 8:at + 8 + size]
        at += 12 + size
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8 and colour in (2, 6) and not interlace
    step = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(chunks[b"IDAT"]), width * step
    rows, previous = [], bytearray(stride)
    for y in range(min(top, height)):
        at = y * (stride + 1)
        kind, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up, corner = previous[i], previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                best = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + best) & 255
        rows.append(bytes(line) if step == 3 else bytes(v for i, v in enumerate(line) if i % 4 != 3))
        previous = line
    return width, height, rows


def count(row: bytes, colour: tuple[int, int, int]) -> int:
    return sum(1 for x in range(0, len(row), 3)
               if all(abs(row[x + k] - colour[k]) <= 3 for k in range(3)))


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium: apt-get install -y chromium")
def test_the_page_as_a_person_sees_it_in_chromium(tmp_path, examples):
    text, _ = examples
    page = tmp_path / "report.html"
    page.write_text(text, encoding="utf-8")

    seen = Page(chromium(tmp_path, page, "--dump-dom"))
    assert seen.text_of("figure-clean-rate") == "Clean-claim rate 50.0% 19 of 38 with no finding"
    assert seen.text_of("figure-denial-rate") == "Denial rate 50.0% 19 of 38 likely denied"
    body = " ".join(" ".join(seen.text).split())
    for category in ("Medical necessity", "Filing limit", "Unit limit", "Prior auth", "Bundling"):
        assert category in body
    assert seen.rows("payers")[1] == ["medicare", "31", "15", "0", "16", "48.4%", "17"]

    shot = tmp_path / "report.png"
    chromium(tmp_path, page, f"--screenshot={shot}")
    # the top of the page, decoded: the outcome bar is drawn, green for clean and red for
    # denied, each as long as its share of the claims checked (17 and 14 of 31)
    width, height, rows = read_png(shot, top=600)
    assert (width, height) == (1280, 2000)
    green, red = max(((count(r, CLEAN_GREEN), count(r, DENIED_RED)) for r in rows),
                     key=lambda gr: gr[0] + gr[1] if gr[0] and gr[1] else 0)
    assert green + red > 900  # the bar spans the page's width
    assert green / (green + red) == pytest.approx(19 / 38, abs=0.01)


def test_a_file_error_has_its_own_section_and_the_claims_count_as_checked(packs):
    from rulesengine.claims import ClaimError
    from rulesengine.claims.build import FILE_ERROR
    out = io.StringIO()
    writer = HtmlWriter(out, [packs.packs[0].info], generated=GENERATED)
    summary = Summary()
    error = ClaimError("day.837p", 58, None, "IEA-02",
                       "control number '000000999' does not match ISA-13 '000000101'", "segment", FILE_ERROR)
    writer.error(error)
    summary.add_error(error)
    writer.close(summary)
    page = Page(out.getvalue())
    text = " ".join(page.text)
    assert "File errors" in text and "day.837p: segment 58: IEA-02: control number" in text
    assert "Claims not checked" not in text  # a file error is not a claim
    assert page.text_of("figure-unreadable").endswith("none; not in the rates; plus 1 file error")


def test_readers_warnings_are_listed_with_their_claims(packs):
    from rulesengine.engine.results import Result
    out = io.StringIO()
    writer = HtmlWriter(out, [packs.packs[0].info], generated=GENERATED)
    summary = Summary()
    result = Result("C1", packs.packs[0].info, (), ("Claim.item[0]: coded only with an X12 service "
                                                     "type code (3), not a CPT or HCPCS code: this item is not checked",))
    writer.result(result)
    summary.add(result)
    writer.close(summary)
    text = " ".join(Page(out.getvalue()).text)
    assert "Reader warnings" in text
    assert "C1: Claim.item[0]: coded only with an X12 service type code (3)" in text
