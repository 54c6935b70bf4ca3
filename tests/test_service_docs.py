"""The curl examples of docs/service.md, run as written against a real server: each answers
the status its ``# ->`` comment says, with a body of the kind it promises."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="the serve extra is not installed")
from test_service_server import Server  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs/service.md").read_text(encoding="utf-8")


def examples() -> list[tuple[str, int]]:
    found = []
    for block in re.findall(r"```sh\n(.*?)```", DOC, re.S):
        command = ""
        for line in block.splitlines():
            command += line.rstrip("\\").rstrip() + " " if line.endswith(("\\", "|")) else line
            if line.endswith(("\\", "|")):
                continue
            status = re.search(r"#\s*->\s*(\d{3})\s*$", command)
            if status and "$URL" in command:
                found.append((command[:status.start()].strip(), int(status.group(1))))
            command = ""
    return found


def test_the_doc_has_curl_examples_of_every_endpoint():
    urls = " ".join(c for c, _ in examples())
    for endpoint in ("/v1/check", "/v1/explain", "/v1/packs", "/v1/admin/reload", "/healthz",
                     "/readyz", "/metrics", "/openapi.json"):
        assert endpoint in urls


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("docs"))
    yield running
    running.stop()


@pytest.mark.parametrize(("command", "status"), examples(), ids=lambda v: str(v)[:60])
def test_a_documented_curl_call(server, tmp_path, command, status):
    body = tmp_path / "body"
    env = {"URL": server.url, "KEY": server.headers["authorization"].split()[1], "PATH": "/usr/bin:/bin"}
    run = subprocess.run(["bash", "-c", f"{command} -o {body} -w '%{{http_code}}'"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == str(status), run.stderr + body.read_text()
    text = body.read_text()
    if "/metrics" in command:
        assert "rulesengine_requests_total" in text
    elif "text/plain" in command:
        assert "CLEAN" in text or "DENIED" in text
    elif "x-ndjson" in command:
        assert all(json.loads(line) for line in text.splitlines())
    else:
        json.loads(text)  # every other answer, a problem included, is JSON
