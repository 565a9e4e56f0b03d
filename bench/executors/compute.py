"""Compute accounting of one run: wall seconds per phase, network evaluations, peak memory.

Stored in every run's provenance (and status) so a table can say what each variant costs.
Phases: load (building the generator, once per worker and row), generate (sampling, including
decode), decode (latents to frames, also counted in generate), encode (the mp4), metrics, write
(every other file of the run folder).
"""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PHASES = ("load", "generate", "decode", "encode", "metrics", "write")
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_peak_memory() -> bool:
    """Start a new peak-RSS window for this process (Linux: writing 5 to clear_refs resets VmHWM).
    False where that is not possible; the peak then covers the whole process so far."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def peak_memory_mb() -> float:
    """This process's peak resident memory in MiB since the last `reset_peak_memory` (VmHWM), or
    since it started where /proc is missing."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@dataclass
class ComputeRecord:
    """Seconds per phase, network evaluations and peak memory of one run."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    network_evaluations: int = 0
    peak_memory_mb: float = 0.0
    peak_memory_scope: str = "run"
    generator: dict = field(default_factory=dict)  # what a generator reports itself (`last_compute`)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Add the wall time of the block to phase `name`."""
        if name not in self.seconds:
            raise ValueError(f"unknown compute phase {name!r}; expected one of {PHASES}")
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started

    def start(self) -> ComputeRecord:
        """Open the run's peak-memory window; returns self."""
        self.peak_memory_scope = "run" if reset_peak_memory() else "process"
        return self

    def finish(self) -> dict:
        """The record as stored: {"seconds": {phase: s}, "network_evaluations", "peak_memory_mb", ...},
        plus whatever the generator reported of its own work (its count of network evaluations
        wins where the request's count saw none)."""
        self.peak_memory_mb = peak_memory_mb()
        own = dict(self.generator)
        evaluations = int(self.network_evaluations) or int(own.pop("network_evaluations", 0) or 0)
        own.pop("network_evaluations", None)
        return {
            **own,
            "seconds": {name: round(value, 4) for name, value in self.seconds.items()},
            "network_evaluations": evaluations,
            "peak_memory_mb": round(self.peak_memory_mb, 1),
            "peak_memory_scope": self.peak_memory_scope,
        }
