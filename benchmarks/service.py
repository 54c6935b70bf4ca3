"""Benchmark: the HTTP service under load, on loopback only, bounded in count and time.

    python benchmarks/service.py [--claims 20000] [--seconds 4] [--workers 1 2]

Starts ``rulesengine serve`` (the bundled Medicare pack, from the cache) for each worker
count, and for each drives:

* single-claim requests (``POST /v1/check``, one JSON claim) at concurrency 1, 8 and 32;
* 1,000-claim batches (JSON Lines in, JSON Lines out) at concurrency 1, 8 and 32;

each for ``--seconds`` (and at most 20,000 requests), after a warm-up; it prints requests/s,
claims/s and p50/p95/p99 latency. Then ``rulesengine check`` on the same claims (as JSON
Lines, ``--jobs 1``, its start-up included) for claims/s, and the ratios the service is
held to: batch claims/s per worker against the CLI's, and two workers against one.

The load comes from a small asyncio HTTP/1.1 client here (keep-alive connections, one a
concurrent caller), so the client's own cost is a few tens of microseconds a request; on
a 2-core machine it shares the cores with the server, which holds every figure down a
little, two-worker ones most.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT / "payer_rules" / "medicare"


def claims(count: int) -> list[bytes]:
    """``count`` claims made from the example claims of the Medicare pack, new ids each."""
    examples = []
    for name in ("clean.json", "dirty.json"):
        data = json.loads((ROOT / "examples/claims" / name).read_text())
        examples += [c for c in (data if isinstance(data, list) else data["claims"])
                     if c.get("payer", {}).get("id") == "medicare"]
    return [json.dumps({**examples[n % len(examples)], "claim_id": f"B{n:07d}"}).encode()
            for n in range(count)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _read_answer(reader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)}
    if b"content-length" in headers:
        await reader.readexactly(int(headers[b"content-length"]))
    else:  # chunked
        while True:
            size = int((await reader.readline()).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _caller(port, request: bytes, until: float, left: list, latencies: list, failures: list):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until and left[0] > 0:
            left[0] -= 1
            started = time.perf_counter()
            writer.write(request)
            status = await _read_answer(reader)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                failures.append(status)
    finally:
        writer.close()


def request_bytes(path: str, body: bytes, media: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {media}\r\n"
            f"Accept: {media}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def drive(port: int, request: bytes, concurrency: int, seconds: float, most: int) -> dict:
    async def run():
        latencies, failures, left = [], [], [most]
        until = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(*[_caller(port, request, until, left, latencies, failures)
                               for _ in range(concurrency)])
        return latencies, failures, time.perf_counter() - started
    latencies, failures, wall = asyncio.run(run())
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    return {"requests": len(latencies), "failures": len(failures), "rps": len(latencies) / wall,
            "p50": pct(50), "p95": pct(95), "p99": pct(99)}


def start_server(workers: int, port: int, cache: str):
    env = {**os.environ, "RULESENGINE_CACHE": cache}
    process = subprocess.Popen([sys.executable, "-m", "rulesengine", "serve", "--pack", str(PACK),
                                "--port", str(port), "--workers", str(workers)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
                if b" 200 " in s.recv(100):
                    time.sleep(0.5 if workers == 1 else 2.0)  # every worker up
                    return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def main(argv=None) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--claims", type=int, default=20_000)
    options.add_argument("--seconds", type=float, default=4.0)
    options.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = options.parse_args(argv)
    made = claims(args.claims)
    single = request_bytes("/v1/check", made[0], "application/json")
    batch = request_bytes("/v1/check", b"\n".join(made[:1000]) + b"\n", "application/x-ndjson")
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        cache = str(Path(folder) / "cache")
        for workers in args.workers:
            port = free_port()
            server = start_server(workers, port, cache)
            try:
                drive(port, single, 4, 1.0, 2000)  # warm-up
                for concurrency in (1, 8, 32):
                    r = drive(port, single, concurrency, args.seconds, 20_000)
                    figures[("single", workers, concurrency)] = r
                    print(f"workers {workers}  single claim  concurrency {concurrency:>2}: "
                          f"{r['rps']:8.0f} req/s  p50 {r['p50']:6.2f} ms  p95 {r['p95']:6.2f} ms  "
                          f"p99 {r['p99']:6.2f} ms  ({r['requests']} requests, {r['failures']} failed)")
                for concurrency in (1, 8, 32):
                    r = drive(port, batch, concurrency, args.seconds, max(concurrency * 3, 10))
                    figures[("batch", workers, concurrency)] = r
                    print(f"workers {workers}  1,000-claim batch  concurrency {concurrency:>2}: "
                          f"{r['rps'] * 1000:8.0f} claims/s  p50 {r['p50']:7.1f} ms  "
                          f"p99 {r['p99']:7.1f} ms  ({r['requests']} requests, {r['failures']} failed)")
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(30)
        path = Path(folder) / "claims.jsonl"
        path.write_bytes(b"\n".join(made) + b"\n")
        env = {**os.environ, "RULESENGINE_CACHE": cache}
        best = None
        for _ in range(2):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "rulesengine", "check", str(path), "--pack", str(PACK),
                            "--format", "jsonl", "--jobs", "1", "-o", str(Path(folder) / "out.jsonl")],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wall = time.perf_counter() - started
            best = wall if best is None else min(best, wall)
    cli = args.claims / best
    print(f"rulesengine check --jobs 1 on {args.claims} claims: {cli:8.0f} claims/s ({best:.2f} s)")
    for workers in args.workers:
        top = max(figures[("batch", workers, c)]["rps"] * 1000 for c in (1, 8, 32))
        print(f"workers {workers}: batch claims/s per worker = {top / workers / cli:.2f}x the CLI's")
    if 1 in args.workers and 2 in args.workers:
        for kind in ("single", "batch"):
            one = max(figures[(kind, 1, c)]["rps"] for c in (1, 8, 32))
            two = max(figures[(kind, 2, c)]["rps"] for c in (1, 8, 32))
            print(f"{kind}: 2 workers = {two / one:.2f}x 1 worker (best concurrency each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
