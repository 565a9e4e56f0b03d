"""How many CPU threads a worker's torch and OpenMP use: one place that sets it.

Two workers on two cores with torch's default (every core each) oversubscribe the machine and
run slower than one worker; so every executor gives each worker an explicit share.
"""

from __future__ import annotations

import os
import sys

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def threads_per_worker(workers: int, cpus: int | None = None) -> int:
    """The cores each of `workers` parallel workers may use: cpus // workers, at least 1."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    return max(1, (cpus if cpus is not None else os.cpu_count() or 1) // workers)


def use_threads(threads: int) -> None:
    """Make this process use `threads` CPU threads: the environment (read by OpenMP / MKL and by
    torch when it loads) and torch itself if it is already loaded."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
