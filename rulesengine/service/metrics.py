"""What ``/metrics`` tells Prometheus: requests, latency, claims and findings by rule.

Nothing of a claim is a label: only endpoints, statuses, outcomes, pack ids and rule ids.
With several worker processes (``serve --workers N``) every process writes its counts to
the folder in ``$PROMETHEUS_MULTIPROC_DIR`` (set by ``serve`` before the workers start)
and ``/metrics`` adds them up, as prometheus-client's multiprocess mode does.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

disable_created_metrics()  # a _created series a label doubles what is scraped
REQUESTS = Counter("rulesengine_requests_total", "HTTP requests answered",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("rulesengine_request_seconds", "Time to answer a request, by endpoint",
                    ["endpoint"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                           0.25, 0.5, 1, 2.5, 5, 10, 30))
CLAIMS = Counter("rulesengine_claims_total", "Claims answered, by outcome (clean, review, "
                 "denied, or why one was not checked)", ["outcome"])
FINDINGS = Counter("rulesengine_findings_total", "Findings, by pack and rule",
                   ["pack", "rule_id"])
RELOADS = Counter("rulesengine_pack_reloads_total", "Pack reloads, by outcome", ["outcome"])


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def count_result(result) -> None:
    CLAIMS.labels(result.status).inc()
    for finding in result.findings:
        FINDINGS.labels(result.pack.id, finding.rule_id).inc()


def count_error(error) -> None:
    CLAIMS.labels(error.kind).inc()
