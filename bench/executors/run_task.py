"""One run, start to finish, in whatever process an executor chose.

`execute_run` is the only thing an executor calls. It is safe to call again for the same
run at any time: a finished run is skipped; a run whose folder holds an unfinished or damaged
attempt (see `bench.run_store`) is wiped and redone; a finished run with a metric the grid asks
for that is missing or was measured otherwise (another provider, backend or metric version) is
rescored from its EXACT frames (frames.npz) without regenerating — or regenerated when it kept
none, never rescored from the lossy video.mp4 (a failed rescore leaves the finished run as it
was); a failed generation records its traceback.

Every run computes with `config.threads` torch / OpenCV threads, whatever the executor, so
the same run gives the same bytes in every executor.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bench.executors.compute import ComputeRecord
from bench.executors.provenance import provenance
from bench.grid.providers import VALUE_COLUMNS, MetricUnavailable, check_value_frame
from bench.grid.registry import generator_kind, load_plugins, metric_provider
from bench.grid.resolve import RunConfig
from bench.run_store import DONE, FRAMES_FILE, RunStatus, RunStore

# Progress callback: (run key, kind, done, total). Kinds: "start" (total sections),
# "section", "step", "metric", "end" (done=1 success, 0 failure).
ProgressFn = Callable[[str, str, int, "int | None"], None]

SKIPPED = "skipped"
GENERATED = "generated"
RESCORED = "rescored"


@dataclass(frozen=True)
class RunTask:
    """What a worker needs: the run's config and where the store lives. Picklable."""

    config: RunConfig
    store_root: str
    executor: str = "local"


@dataclass(frozen=True)
class RunOutcome:
    """What happened: `action` is generated / rescored / skipped / failed."""

    key: str
    row_name: str
    action: str
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.action != "failed"


def stale_metrics(config: RunConfig, status: RunStatus) -> tuple[str, ...]:
    """The grid's metrics a finished run has not measured as the grid asks: absent, or stored
    under another provider / backend / version than `config.measurements` names. A metric that
    could not run (recorded as missing) under the same measurement is not stale."""
    stored = status.info.get("measurements") if status.state == DONE else None
    stored = stored if isinstance(stored, dict) else {}
    return tuple(name for name in config.metrics.names
                 if name not in stored or stored[name] != config.measurements.get(name, stored[name]))


@contextlib.contextmanager
def computing_threads(threads: int) -> Iterator[None]:
    """Run with exactly `threads` torch and OpenCV threads (restored afterwards): float sums
    in another order differ in the last bits, so results are bit-identical only at one count."""
    import torch

    try:
        import cv2
    except ImportError:  # OpenCV is only needed by some metrics
        cv2 = None
    before = torch.get_num_threads(), cv2.getNumThreads() if cv2 is not None else None
    torch.set_num_threads(threads)
    if cv2 is not None:
        cv2.setNumThreads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        if cv2 is not None:
            cv2.setNumThreads(before[1])


# Building a generator loads checkpoints; keep the last few per worker process.
_GENERATOR_CACHE: OrderedDict[str, Any] = OrderedDict()
_GENERATOR_CACHE_SIZE = 2


def _generator_for(config: RunConfig) -> Any:
    cache_key = repr((config.row.kind, config.row.schedule, config.row.order, sorted(config.files_sha256.items()),
                      sorted((k, repr(v)) for k, v in config.row.params.items())))
    if cache_key in _GENERATOR_CACHE:
        _GENERATOR_CACHE.move_to_end(cache_key)
        return _GENERATOR_CACHE[cache_key]
    generator = generator_kind(config.row.kind).build(config.row)
    _GENERATOR_CACHE[cache_key] = generator
    while len(_GENERATOR_CACHE) > _GENERATOR_CACHE_SIZE:
        _GENERATOR_CACHE.popitem(last=False)
    return generator


class _CollectingSink:
    """Keeps every frame (the harness measures the whole video) in time order."""

    def __init__(self) -> None:
        self.chunks: dict[int, np.ndarray] = {}
        self.closed = False

    def put(self, first_index: int, frames: np.ndarray) -> None:
        self.chunks[int(first_index)] = np.asarray(frames, dtype=np.uint8)

    def close(self) -> None:
        self.closed = True

    def frames(self) -> np.ndarray:
        expected = 0
        ordered = sorted(self.chunks.items())
        for first_index, chunk in ordered:
            if first_index != expected:
                raise ValueError(f"the generator left a hole or an overlap at frame {expected} (next chunk at {first_index})")
            expected += len(chunk)
        if not ordered:
            raise ValueError("the generator produced no frames")
        return np.concatenate([chunk for _, chunk in ordered], axis=0)


def generate_frames(config: RunConfig, on_progress: ProgressFn | None = None,
                    cost: Any = None) -> tuple[np.ndarray, int]:
    """Run the row's generator for this run's prompt, seed and length; (frames, fps). A
    `framepack.generator.GenerationCost` given as `cost` is added to by the generator."""
    from framepack.generator import GenerationRequest, ProgressEvent

    generator = _generator_for(config)

    def relay(event: ProgressEvent) -> None:
        if on_progress is not None:
            on_progress(config.key, event.kind, event.done, event.total)

    request = GenerationRequest(
        prompt=config.prompt.prompt,
        start_image=config.prompt.image,
        num_sections=config.length.sections,
        seed=config.seed,
        on_progress=relay,
        cost=cost,
    )
    sink = _CollectingSink()
    generator.generate(request, sink)
    return sink.frames(), int(getattr(generator, "fps", 16))


def score_frames(config: RunConfig, frames: np.ndarray, names: tuple[str, ...], fps: int,
                 on_progress: ProgressFn | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Measure `names` on the frames; (tidy values, {metric: reason} for metrics that cannot run).

    The `video` column of the values holds the run key.
    """
    provider = metric_provider(config.metrics.provider)
    parts, missing = [], {}
    for i, name in enumerate(names):
        try:
            values = provider.score(frames, config.prompt.prompt, name, config.metrics.backend,
                                    reference=config.prompt.image, fps=fps)
            parts.append(check_value_frame(values, name))
        except MetricUnavailable as error:
            missing[name] = str(error)
        if on_progress is not None:
            on_progress(config.key, "metric", i + 1, len(names))
    if parts:
        values = pd.concat(parts, ignore_index=True)
    else:
        values = pd.DataFrame({c: pd.Series(dtype="float64" if c == "value" else "int64" if c == "index" else "object")
                               for c in VALUE_COLUMNS})
    values["video"] = config.key
    return values, missing


def rescored_costs(generated: dict | None, rescore: dict) -> dict:
    """A rescored run's compute record: the generation's phases and evaluations as first recorded,
    metrics seconds summed over both measurements, the larger peak memory."""
    if not generated:
        return rescore
    seconds = {**rescore["seconds"], **{k: v for k, v in generated["seconds"].items() if k != "metrics"}}
    seconds["metrics"] = round(generated["seconds"].get("metrics", 0.0) + rescore["seconds"]["metrics"], 4)
    seconds["write"] = round(generated["seconds"].get("write", 0.0) + rescore["seconds"]["write"], 4)
    return {**rescore, "seconds": seconds, "network_evaluations": generated.get("network_evaluations", 0),
            "peak_memory_mb": max(generated.get("peak_memory_mb", 0.0), rescore["peak_memory_mb"])}


def execute_run(task: RunTask, on_progress: ProgressFn | None = None) -> RunOutcome:
    """Make sure run `task.config` is finished in the store; see the module docstring.

    Never raises for a failure of the run itself: the traceback goes to the run folder and
    the outcome says "failed".
    """
    config = task.config
    store = RunStore(task.store_root)
    started = time.time()
    compute = ComputeRecord().start()
    load_plugins(config.plugins)
    wanted = tuple(config.metrics.names)
    with store.lock(config.key):
        status = store.status(config.key)
        todo = stale_metrics(config, status)
        if status.state == DONE and not todo:
            return RunOutcome(config.key, config.row_name, SKIPPED, 0.0)
        if on_progress is not None:
            on_progress(config.key, "start", 0, config.length.sections)
        exact_frames = status.state == DONE and FRAMES_FILE in status.info.get("files", {})
        action = RESCORED if exact_frames else GENERATED
        try:
            with computing_threads(config.threads):
                if action == RESCORED:
                    frames = store.read_exact_frames(config.key)
                    fps = int(status.info.get("fps", 16))
                    old = store.read_metrics(config.key)
                    with compute.phase("metrics"):
                        values, missing = score_frames(config, frames, todo, fps, on_progress)
                    old = old[~old["metric"].isin(todo)]
                    values = pd.concat([old, values], ignore_index=True) if len(values) else old
                    missing = {**{k: v for k, v in status.info.get("missing_metrics", {}).items() if k not in todo},
                               **missing}
                    generation_seconds = status.info.get("generation_seconds")
                else:
                    from framepack.generator import GenerationCost

                    with compute.phase("write"):
                        store.reset(config.key)
                        store.write_config(config.key, config.to_record())
                    with compute.phase("load"):
                        generator = _generator_for(config)
                    cost = GenerationCost()
                    with compute.phase("generate"):
                        frames, fps = generate_frames(config, on_progress, cost)
                    compute.seconds["decode"] = cost.decode_seconds
                    compute.network_evaluations = cost.network_evaluations
                    # Full-scale generators report their own work (evaluations, blocks a step cache skipped).
                    compute.generator = dict(getattr(generator, "last_compute", None) or {})
                    generation_seconds = round(compute.seconds["generate"], 3)
                    if config.keep_frames:
                        with compute.phase("write"):
                            store.write_frames(config.key, frames)
                    with compute.phase("encode"):
                        store.write_video(config.key, frames, fps)
                    with compute.phase("metrics"):
                        values, missing = score_frames(config, frames, wanted, fps, on_progress)
            measured = sorted(set(values["metric"])) if len(values) else []
            with compute.phase("write"):
                store.write_metrics(config.key, values)
            costs = compute.finish()
            if action == RESCORED:
                costs = rescored_costs(status.info.get("compute"), costs)
            store.write_json(config.key, "provenance.json", provenance(config, task.executor, started, costs))
            store.mark_done(config.key, {
                "row_name": config.row_name,
                "metrics": measured,
                "missing_metrics": missing,
                "measurements": {name: config.measurements[name] for name in [*measured, *missing]
                                 if name in config.measurements},
                "frames": int(len(frames)),
                "fps": fps,
                "generation_seconds": generation_seconds,
                "seconds": round(time.time() - started, 3),
                "compute": costs,
            })
        except Exception as error:  # the grid goes on; the folder says what happened
            if action == GENERATED:
                store.mark_failed(config.key, f"{type(error).__name__}: {error}", traceback.format_exc(),
                                  {"row_name": config.row_name})
            # A failed rescore keeps the finished video and its metrics; status.json still says done.
            if on_progress is not None:
                on_progress(config.key, "end", 0, 1)
            return RunOutcome(config.key, config.row_name, "failed", time.time() - started, f"{type(error).__name__}: {error}")
    if on_progress is not None:
        on_progress(config.key, "end", 1, 1)
    return RunOutcome(config.key, config.row_name, action, time.time() - started)
