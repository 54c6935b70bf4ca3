"""Running the service on uvicorn: one process, or a supervisor and N worker processes.

With one worker the app runs in this process and SIGHUP reloads its packs in place. With
several, uvicorn's supervisor owns the socket, and SIGHUP to it is passed on to every
worker, each of which reloads in place the same way. (uvicorn's own SIGHUP replaces the
workers instead; a retiring worker closes its idle keep-alive connections, and a request a
client sends on one at that moment fails: measured, one in a few thousand under load.) The decision log's one writer and the
metrics folder belong to this process, shared by the workers through the environment.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import tempfile

import uvicorn
from uvicorn.supervisors import Multiprocess

from .config import ServiceConfig

_CONFIG_VAR = "RULESENGINE_SERVICE_CONFIG"


def app_from_environment(packs=None):
    """The app a worker process builds (uvicorn's factory): its settings from this process;
    ``packs`` when this process has compiled them already."""
    from .app import create_app
    from .checking import Limits
    from .keys import ENV_VAR, KeyRing

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the app takes it, at its start
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(message)s"))
    log = logging.getLogger("rulesengine.service")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    data = json.loads(os.environ[_CONFIG_VAR])
    keys = KeyRing.read(data["keys_file"], os.environ.get(ENV_VAR))
    return create_app(ServiceConfig(
        data["pack_dirs"], data["cache"], data["history"], keys, data["keys_required"],
        Limits(**data["limits"]), None, data["decision_socket"], reload_on_hup=True), packs)


def run(settings: dict, host: str, port: int, workers: int, ssl: dict, decision_log: str | None,
        decision_max_bytes: int, packs=None, log_level: str = "info") -> None:
    """Serve until stopped. ``packs``: the packs already compiled here, which one worker
    (this process) serves as they are; several workers compile their own from the cache."""
    from .decisions import DecisionWriter

    writer = DecisionWriter(decision_log, decision_max_bytes) if decision_log else None
    metrics_dir = tempfile.mkdtemp(prefix="rulesengine-metrics-") if workers > 1 else None
    try:
        settings = {**settings, "workers": workers,
                    "decision_socket": writer.address if writer else None}
        os.environ[_CONFIG_VAR] = json.dumps(settings)
        if metrics_dir:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
            os.environ["RULESENGINE_SUPERVISOR_PID"] = str(os.getpid())
        common = {"host": host, "port": port, "log_level": log_level, "access_log": False,
                  "timeout_graceful_shutdown": 30, **ssl}
        if workers == 1:
            uvicorn.Server(uvicorn.Config(app_from_environment(packs), **common)).run()
        else:
            config = uvicorn.Config("rulesengine.service.server:app_from_environment",
                                    factory=True, workers=workers, **common)
            _Supervisor(config, sockets=[config.bind_socket()]).run()
    finally:
        if writer is not None:
            writer.close()
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


class _Supervisor(Multiprocess):
    """uvicorn's supervisor, but SIGHUP reloads the packs in every worker, in place."""

    def handle_hup(self) -> None:
        for process in self.processes:
            if process.pid and process.exitcode is None:
                os.kill(process.pid, signal.SIGHUP)
