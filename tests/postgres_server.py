"""A throwaway PostgreSQL server for the tests: a cluster made in a folder, listening only
on a Unix socket in it, with trust authentication for its own user.

``.ci/run`` starts one (``python tests/postgres_server.py start DIR`` prints its URL, put
in ``$RULESENGINE_TEST_POSTGRESQL``) and stops it at the end; the tests use that server, or
start one of their own the same way, and skip with the reason only when none can start
(no PostgreSQL installed). As root (CI containers) the server runs as the ``postgres``
user, which PostgreSQL requires.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

ENV_VAR = "RULESENGINE_TEST_POSTGRESQL"


def binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def start(folder: str | Path) -> str:
    """Start a server with its data and socket in ``folder``; its URL. RuntimeError with
    the reason when it cannot."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (no pg_ctl on PATH or in /usr/lib/postgresql)")
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        os.chmod(folder, 0o755)
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER") or "postgres"
    try:
        if not data.exists():
            subprocess.run(_as_owner([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust",
                                      "-U", user, "--no-sync"]),
                           check=True, capture_output=True, text=True, timeout=120)
        options = f"-k {folder} -c listen_addresses='' -c fsync=off"
        subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                                  "-l", str(folder / "server.log"), "-w", "start"]),
                       check=True, capture_output=True, text=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        raise RuntimeError(f"PostgreSQL did not start: {detail.strip()[:300]}") from None
    return f"postgresql://{user}@/postgres?host={folder}"


def stop(folder: str | Path) -> None:
    bin_dir = binaries()
    data = Path(folder).resolve() / "data"
    if bin_dir is not None and data.exists():
        subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True, timeout=60)


if __name__ == "__main__":
    action, where = sys.argv[1], sys.argv[2]
    if action == "start":
        print(start(where))
    else:
        stop(where)
