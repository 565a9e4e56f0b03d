"""Test doubles for the harness, loaded by grids through `plugins:` (so process-pool and Ray
workers load them too).

- generator kind "fake_video": deterministic frames from (prompt, seed, row params); each
  section is a block of `section_frames` frames whose brightness drifts by `drift` per
  section; `delay` seconds per section; `fail_prompt` makes the run for that prompt raise;
  `reverse` hands sections to the sink in reverse time order (like inverted sampling);
  `log` names a file that gets "start KEY" / "end KEY" lines (KEY = prompt|seed|sections|drift);
  `die_once` names a marker file: the first run to find it absent creates it and SIGKILLs its
  own process (a worker lost to the OOM killer); `die` does so every time.
- metric provider "fake": "brightness" (per frame, higher is better), "level" (the same in
  0–100, no better direction: "neutral") and "flicker" (per pair, lower is better), with start–end drift and windowed curves; "needs_weights" cannot run here
  (MetricUnavailable) and "explodes" raises a bug-like error.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.grid.errors import GridError
from bench.grid.providers import MetricInfo, MetricUnavailable
from bench.grid.registry import GeneratorKind, register_generator_kind, register_metric_provider
from framepack.generator import ProgressEvent


@dataclass
class FakeVideoGenerator:
    name: str
    section_frames: int = 3
    drift: float = 4.0
    delay: float = 0.0
    steps: int = 2
    fail_prompt: str | None = None
    reverse: bool = False
    log: str | None = None
    size: int = 16
    fps: int = 8
    die_once: str | None = None
    die: bool = False

    def _log(self, word: str, request) -> None:
        if self.log:
            line = f"{word} {request.prompt}|{request.seed}|{request.num_sections}|{self.drift}\n"
            with open(self.log, "a") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())

    def generate(self, request, sink) -> None:
        self._log("start", request)
        if self.die or (self.die_once is not None and not os.path.exists(self.die_once)):
            if self.die_once is not None:
                open(self.die_once, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        if self.fail_prompt is not None and request.prompt == self.fail_prompt:
            raise RuntimeError(f"fake failure for prompt {request.prompt!r}")
        digest = hashlib.sha256(f"{request.prompt}|{request.seed}".encode()).digest()
        base = np.frombuffer(digest[:3], dtype=np.uint8).astype(np.float64) * 0.5 + 60
        if request.start_image is not None:
            base = 0.5 * base + 0.5 * request.start_image.reshape(-1, 3).mean(axis=0)
        rng = np.random.default_rng(int.from_bytes(digest[3:7], "little"))
        sections = list(range(request.num_sections))
        for done, section in enumerate(reversed(sections) if self.reverse else sections):
            for step in range(self.steps):
                request.report(ProgressEvent("step", step + 1, self.steps, section))
            frames = []
            for t in range(self.section_frames):
                index = section * self.section_frames + t
                noise = rng.normal(0, 2, (self.size, self.size, 3))
                frame = base + self.drift * index / self.section_frames + noise
                frames.append(np.clip(frame, 0, 255).astype(np.uint8))
            if self.delay:
                time.sleep(self.delay)
            sink.put(section * self.section_frames, np.stack(frames))
            request.report(ProgressEvent("section", done + 1, request.num_sections, section))
        sink.close()
        self._log("end", request)


def _build(row):
    return FakeVideoGenerator(name=row.name, **dict(row.params))


def _validate(row):
    allowed = set(FakeVideoGenerator.__dataclass_fields__) - {"name"}
    for key in row.params:
        if key not in allowed:
            raise GridError(f"{row.key}.params.{key}", f"unknown parameter {key!r} of fake_video")


register_generator_kind(GeneratorKind(
    name="fake_video", build=_build, validate=_validate,
    display_name=lambda row: f"fake(drift={row.params.get('drift', 4.0)})",
    needs_checkpoint=False, description="deterministic test generator"), replace=True)


class FakeMetricProvider:
    VERSION = "1"  # stored with every value; a test bumps it to see a rescore
    METRICS = {"brightness": ("higher", "per_frame"), "flicker": ("lower", "per_pair"),
               "level": ("neutral", "per_frame"),
               "needs_weights": ("higher", "per_frame"), "explodes": ("higher", "per_frame")}

    def check(self, names, backend):
        if backend != "fake":
            raise GridError("metrics.backend", f"unknown backend {backend!r}; expected fake")
        for i, name in enumerate(names):
            if name not in self.METRICS:
                raise GridError(f"metrics.names[{i}]", f"unknown metric {name!r}; expected one of {', '.join(self.METRICS)}")

    def info(self, name, backend):
        direction, granularity = self.METRICS[name]
        return MetricInfo(name, direction, granularity, backend, self.VERSION)

    def unavailable(self, names, backend):
        return {n: "fake weights file missing" for n in names if n == "needs_weights"}

    def score(self, frames, prompt, name, backend, reference=None, fps=None):
        if name == "needs_weights":
            raise MetricUnavailable("needs_weights: fake weights file missing")
        if name == "explodes":
            raise RuntimeError("the fake metric exploded")
        frames = frames.astype(np.float64)
        if name in ("brightness", "level"):
            per = frames.mean(axis=(1, 2, 3)) / (255.0 if name == "brightness" else 2.55)
            kind = "frame"
        else:
            per = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3)) / 255.0
            kind = "pair"
        rows = [{"metric": name, "backend": backend, "version": self.VERSION, "kind": kind, "index": i, "value": v}
                for i, v in enumerate(per)]
        rows.append({"metric": name, "backend": backend, "version": self.VERSION, "kind": "video", "index": -1,
                     "value": float(per.mean())})
        return pd.DataFrame(rows)

    def drift(self, values):
        out = []
        for (video, name), group in values[values["kind"] != "video"].groupby(["video", "metric"]):
            series = group.sort_values("index")["value"].to_numpy()
            n = max(1, int(round(0.15 * len(series))))
            out.append({"video": video, "metric": name, "drift": abs(series[:n].mean() - series[-n:].mean())})
        return pd.DataFrame(out, columns=["video", "metric", "drift"])

    def curves(self, values, windows):
        out = []
        for name, group in values[values["kind"] != "video"].groupby("metric"):
            series = group.sort_values("index")["value"].to_numpy()
            for w, chunk in enumerate(np.array_split(series, min(windows, len(series)))):
                out.append({"metric": name, "window": w, "value": float(chunk.mean())})
        return pd.DataFrame(out, columns=["metric", "window", "value"])


    def vde(self, values, chunks, weighting):
        from metrics.drift import vde

        out = []
        for (video, name), group in values[values["kind"] != "video"].groupby(["video", "metric"]):
            series = group.sort_values("index")["value"].to_numpy()
            out.append({"video": video, "metric": name, "vde": vde(series, chunks, weighting)})
        return pd.DataFrame(out, columns=["video", "metric", "vde"])


register_metric_provider("fake", FakeMetricProvider)
