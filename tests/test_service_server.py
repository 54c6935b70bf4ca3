"""The service as it runs: ``rulesengine serve`` started on 127.0.0.1 at a free port, called
over real HTTP, reloaded under traffic (SIGHUP and the admin call, one worker and two)
with no request failing, and stopped at the end."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx", reason="the test extra (httpx) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra is not installed")

ROOT = Path(__file__).parent.parent
DIRTY = json.loads((ROOT / "examples/claims/dirty.json").read_text())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, workers: int = 1, keys: bool = True):
        self.pack = tmp / "medicare"
        shutil.copytree(ROOT / "payer_rules/medicare", self.pack)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "RULESENGINE_CACHE": str(tmp / "cache")}
        command = [sys.executable, "-m", "rulesengine", "serve", "--pack", str(self.pack),
                   "--port", str(self.port), "--workers", str(workers),
                   "--decision-log", str(tmp / "decisions.jsonl")]
        self.headers = {}
        if keys:
            keyfile = tmp / "keys"
            made = subprocess.run([sys.executable, "-m", "rulesengine", "api-key", "new", "ops",
                                   "--admin", "--file", str(keyfile)], capture_output=True, text=True, check=True)
            self.headers = {"authorization": f"Bearer {made.stdout.strip()}"}
            command += ["--api-keys", str(keyfile)]
        self.log = open(tmp / "server.log", "w")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.client = httpx.Client(base_url=self.url, headers=self.headers, timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("the server did not start: " + (tmp / "server.log").read_text())

    def version(self, new: str) -> None:
        meta = self.pack / "pack.yaml"
        meta.write_text(meta.read_text().replace('version: "2026.3"', f'version: "{new}"'))

    def stop(self) -> None:
        self.client.close()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        self.log.close()


@pytest.fixture
def server(tmp_path):
    running = Server(tmp_path)
    yield running
    running.stop()


def test_every_endpoint_over_http_with_a_key(server):
    c = server.client
    assert httpx.post(server.url + "/v1/check", json=DIRTY[0]).status_code == 401
    one = c.post("/v1/check", json=DIRTY[0])
    assert one.status_code == 200 and one.json()["status"] == "denied"
    lines = "".join(json.dumps({**DIRTY[n % len(DIRTY)], "claim_id": f"B{n}"}) + "\n" for n in range(1000))
    batch = c.post("/v1/check", content=lines, headers={"content-type": "application/x-ndjson"})
    assert [json.loads(x)["claim_id"] for x in batch.text.splitlines()] == [f"B{n}" for n in range(1000)]
    x12 = (ROOT / "tests/fixtures/x12/professional-two-claims.837p").read_bytes()
    assert len(c.post("/v1/check", content=x12, headers={"content-type": "application/edi-x12"}).json()["results"]) == 2
    fhir = (ROOT / "tests/fixtures/fhir/claim.json").read_bytes()
    assert c.post("/v1/check", content=fhir, headers={"content-type": "application/fhir+json"}).json()["claim_id"] == "C1001"
    assert c.post("/v1/explain", json=DIRTY[0]).json()["explanations"]
    assert c.get("/v1/packs").json()["packs"][0]["id"] == "medicare"
    assert "rulesengine_claims_total" in c.get("/metrics").text
    assert c.get("/openapi.json").json()["openapi"] == "3.1.0"
    assert httpx.get(server.url + "/healthz").status_code == 200


def hammer(server: Server, stop: threading.Event, seen: list, failures: list) -> None:
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as c:
        while not stop.is_set():
            try:
                answer = c.post("/v1/check", json=DIRTY[0])
                if answer.status_code != 200:
                    failures.append(answer.status_code)
                else:
                    seen.append(answer.json()["pack"]["version"])
            except httpx.HTTPError as error:
                failures.append(repr(error))


def under_traffic(server: Server, reload, settle: float = 1.0) -> list:
    stop, seen, failures = threading.Event(), [], []
    threads = [threading.Thread(target=hammer, args=(server, stop, seen, failures)) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    server.version("2026.4")
    reload()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not seen or seen[-1] != "2026.4"):
        time.sleep(0.1)
    time.sleep(settle)
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    assert seen[0] == "2026.3" and set(seen[-20:]) == {"2026.4"}
    return seen


def test_sighup_reloads_under_traffic_with_no_failed_request(server):
    seen = under_traffic(server, lambda: server.process.send_signal(signal.SIGHUP))
    first_new = seen.index("2026.4")
    assert "2026.3" not in seen[first_new + 8:]  # after the swap, only the new pack answers


def test_a_broken_pack_on_reload_keeps_the_old_serving(server):
    rules = server.pack / "necessity.rules"
    rules.write_text(rules.read_text() + "\nrule BROKEN \"x\"\n  when claim.nonsense\n")
    failed = server.client.post("/v1/admin/reload")
    assert failed.status_code == 422 and "necessity.rules" in failed.json()["errors"][0]
    assert server.client.post("/v1/check", json=DIRTY[0]).json()["pack"]["version"] == "2026.3"


def test_two_workers_reload_in_place_under_traffic(tmp_path):
    server = Server(tmp_path, workers=2)
    try:
        under_traffic(server, lambda: server.client.post("/v1/admin/reload").raise_for_status(), settle=2.0)
        records = (tmp_path / "decisions.jsonl").read_text().splitlines()
        assert records and all(json.loads(r)["claim"] for r in records)
    finally:
        server.stop()
