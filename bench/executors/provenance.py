"""Provenance of a run: code revision, package versions, machine, seed, timings."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("torch", "numpy", "pandas", "pyarrow", "av", "opencv-python-headless", "diffusers", "pyiqa",
            "open-clip-torch", "ray")


@functools.cache
def git_revision(directory: str | None = None) -> dict[str, Any]:
    """{"revision": sha or None, "dirty": bool or None} of the repository holding this code."""
    cwd = directory or str(Path(__file__).resolve().parents[2])
    try:
        revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        changes = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                 capture_output=True, text=True, timeout=30, check=True).stdout
        return {"revision": revision, "dirty": bool(changes.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}


@functools.cache
def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that can change a result (None = not installed)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = platform.python_version()
    return versions


def machine() -> dict[str, Any]:
    return {"hostname": socket.gethostname(), "platform": platform.platform(), "processor": platform.machine(),
            "cpu_count": os.cpu_count(), "pid": os.getpid()}


def provenance(config: Any, executor: str, started: float, compute: dict | None = None) -> dict[str, Any]:
    """The provenance record written to a run's provenance.json; `compute` is what the generator
    reports of its work (network evaluations, transformer blocks computed / skipped by a cache)."""
    return {
        "key": config.key,
        "seed": config.seed,
        "git": git_revision(),
        "packages": package_versions(),
        "machine": machine(),
        "executor": executor,
        "started": datetime.fromtimestamp(started, UTC).isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "seconds": round(time.time() - started, 3),
        "compute": compute,
    }
