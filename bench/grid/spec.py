"""The grid file: typed dataclasses and the parser that builds them from YAML.

A grid is the cross product rows × prompts × seeds × lengths. Parsing checks the SHAPE of
the file (known keys, types, ranges); `bench.grid.validate` then checks that what it names
exists (generator kinds, schedules, checkpoints, metrics) before any work starts.

Example (see grids/demo.yaml for a complete one)::

    name: demo
    rows:
      - schedule: f1k1_x_g9_f1k1f2k2f16k4_td        # FramePack; the order defaults to the schedule's form
        checkpoint: results/checkpoints/fp_inverted.safetensors
      - baseline: anchor_frames                     # any registered generator kind
        checkpoint: results/checkpoints/bl_anchor.safetensors
        params: {window: 8}
    prompts: {source: lab, split: i2v, count: 4}
    seeds: [0]
    lengths: [long]                                 # or {long: 12}; short = 2, long = 12 sections
    metrics: {names: [clarity, motion], backend: lab}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.grid.errors import GridError

NAMED_LENGTHS = {"short": 2, "long": 12}
# A run holds every frame of its video in memory to measure it, so the section count is
# bounded: 1000 sections is ~18x the paper's longest video (60 s at 30 fps, 33 frames per
# section: ~55 sections) and ~0.1 GB of frames at lab scale; a larger count fails validation
# instead of growing until the machine runs out of memory.
MAX_SECTIONS = 1000
# Noise seeds reach torch / numpy as 64-bit integers and the per-section seed reduces them
# modulo 2**63, so larger seeds would overflow or repeat the noise of a smaller one.
MAX_SEED = 2**63 - 1
# Counts that a grid multiplies (prompts, votes per row): far above any study, far below
# what would stall planning.
MAX_COUNT = 100_000
PROMPT_SOURCES = ("lab", "file")
LAB_SPLITS = ("i2v", "t2v")
JUDGES = ("simulated", "human")
# Drift aggregators a table can show per drift metric: the paper's start–end contrast and VDE.
DRIFT_AGGREGATORS = ("start_end", "vde_linear", "vde_log")


@dataclass(frozen=True)
class RowSpec:
    """One variant of the study (one table row).

    `kind` is "framepack" for a schedule row, otherwise the registered generator kind
    (a baseline name, or a plugin's generator). `name` is the table row name; empty means
    "let the generator kind choose" (FramePack uses the schedule notation).
    """

    kind: str
    index: int
    name: str = ""
    kind_field: str = "schedule"
    schedule: str | None = None
    order: str | None = None
    checkpoint: str | None = None
    recipe: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The row's dotted path in the grid file, for error messages."""
        return f"rows[{self.index}]"


@dataclass(frozen=True)
class PromptSetSpec:
    """Where prompts (and start images) come from: the lab test split, or a user's file."""

    source: str = "lab"
    split: str = "i2v"
    count: int = 4
    offset: int = 0
    path: str | None = None


@dataclass(frozen=True)
class LengthSpec:
    """A named video length in sections of the generator's own section length."""

    name: str
    sections: int


@dataclass(frozen=True)
class MetricsSpec:
    """Which metrics to measure, on which backend, and which get a drift (Δ) column.

    `aggregators` chooses the drift columns per drift metric (start_end: the paper's Δ; vde_linear /
    vde_log: VDE over `vde_chunks` chunks). `set_level` names set-level metrics (e.g.
    reference_distance), measured per row over all its videos against real video in `set_windows`
    windows, each shown beside its real-vs-real floor.
    """

    names: tuple[str, ...]
    backend: str = "lab"
    drift: tuple[str, ...] = ()
    provider: str = "metrics"
    aggregators: tuple[str, ...] = ("start_end",)
    vde_chunks: int = 10
    set_level: tuple[str, ...] = ()
    set_windows: int = 6


@dataclass(frozen=True)
class RatingSpec:
    """Settings of the A/B rating round (ELO-K32)."""

    enabled: bool = False
    judges: str = "simulated"
    per_row: int = 20
    k: float = 32.0
    seed: int = 0
    votes: str | None = None


@dataclass(frozen=True)
class ResourcesSpec:
    """Resource hints per run, used by the Ray executor."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0


@dataclass(frozen=True)
class GridSpec:
    """A whole grid file, parsed. `source` is the file it came from (for messages and
    relative paths)."""

    name: str
    rows: tuple[RowSpec, ...]
    prompts: PromptSetSpec
    seeds: tuple[int, ...]
    lengths: tuple[LengthSpec, ...]
    metrics: MetricsSpec
    rating: RatingSpec = RatingSpec()
    resources: ResourcesSpec = ResourcesSpec()
    plugins: tuple[str, ...] = ()
    store: str = "runs"
    keep_frames: bool = True
    description: str = ""
    source: str | None = None

    @property
    def base_dir(self) -> Path:
        """The folder of the grid file (plugin files and prompt files resolve against it)."""
        return Path(self.source).resolve().parent if self.source else Path.cwd()


# --------------------------------------------------------------------------- parsing


class _Reader:
    """Checks one mapping of the file: known keys, types; names keys by dotted path."""

    def __init__(self, value: Any, key: str, source: str | None, allowed: tuple[str, ...]) -> None:
        self.key = key
        self.source = source
        if not isinstance(value, Mapping):
            raise GridError(key or "grid", f"expected a mapping, got {_show(value)}", source)
        unknown = [k for k in value if k not in allowed]
        if unknown:
            raise GridError(
                self.path(str(unknown[0])),
                f"unknown key {unknown[0]!r}; expected one of {', '.join(allowed)}",
                source,
            )
        self.value = value

    def path(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def error(self, name: str, message: str) -> GridError:
        return GridError(self.path(name), message, self.source)

    def has(self, name: str) -> bool:
        return name in self.value and self.value[name] is not None

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = None, required: bool = False) -> Any:
        if not self.has(name):
            if required:
                raise self.error(name, "is required")
            return default
        value = self.value[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(name, f"expected {_kind_name(kind)}, got {_show(value)}")
        if not isinstance(value, kinds):
            raise self.error(name, f"expected {_kind_name(kind)}, got {_show(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(name, f"expected a finite number, got {_show(value)}")
        return value

    def positive_int(self, name: str, default: int | None = None, minimum: int = 1,
                     maximum: int = MAX_COUNT) -> int:
        value = self.get(name, int, default, required=default is None)
        if not minimum <= value <= maximum:
            raise self.error(name, f"expected an integer >= {minimum} and <= {maximum}, got {value!r}")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(name, str, default)
        if value not in choices:
            raise self.error(name, f"got {value!r}; expected one of {', '.join(choices)}")
        return value

    def str_list(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.get(name, (list, str), None)
        if value is None:
            return default
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise GridError(f"{self.path(name)}[{i}]", f"expected a non-empty string, got {_show(item)}", self.source)
        return tuple(value)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false",
             list: "a list", dict: "a mapping", Mapping: "a mapping"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


GRID_KEYS = ("name", "description", "rows", "prompts", "seeds", "lengths", "metrics", "rating",
             "resources", "plugins", "store", "keep_frames")
ROW_KEYS = ("name", "schedule", "order", "baseline", "generator", "checkpoint", "recipe", "params")
PROMPT_KEYS = ("source", "split", "count", "offset", "path")
METRIC_KEYS = ("names", "backend", "drift", "provider", "aggregators", "vde_chunks", "set_level", "set_windows")
RATING_KEYS = ("enabled", "judges", "per_row", "k", "seed", "votes")
RESOURCE_KEYS = ("num_cpus", "num_gpus")


def parse_grid(data: Any, source: str | None = None, default_name: str = "grid") -> GridSpec:
    """Build a `GridSpec` from the loaded YAML document.

    Args:
        data: the document (a mapping) after any `--set` overrides.
        source: the grid file's path, used in messages and for relative paths.
        default_name: the grid's name when the file has no `name:` (the file's stem).

    Raises:
        GridError: on an unknown key, a wrong type or an out-of-range value.
    """
    top = _Reader(data, "", source, GRID_KEYS)
    name = top.get("name", str, default_name)
    if not name or "/" in name or name.startswith("."):
        raise top.error("name", f"expected a plain folder-safe name, got {name!r}")

    raw_rows = top.get("rows", list, required=True)
    if not raw_rows:
        raise top.error("rows", "expected at least one row, got an empty list")
    rows = tuple(_parse_row(raw, i, source) for i, raw in enumerate(raw_rows))

    prompts = _parse_prompts(top.get("prompts", (dict, Mapping), required=True), source)

    raw_seeds = top.get("seeds", (list, int), [0])
    seeds_list = [raw_seeds] if isinstance(raw_seeds, int) else raw_seeds
    if not seeds_list:
        raise top.error("seeds", "expected at least one seed, got an empty list")
    for i, seed in enumerate(seeds_list):
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise GridError(f"seeds[{i}]", f"expected an integer from 0 to 2**63 - 1, got {_show(seed)}", source)
    if len(set(seeds_list)) != len(seeds_list):
        raise top.error("seeds", f"seeds repeat: {seeds_list}")

    lengths = _parse_lengths(top.get("lengths", (list, dict, Mapping, str), ["long"]), source)
    metrics = _parse_metrics(top.get("metrics", (dict, Mapping), required=True), source)
    rating = _parse_rating(top.get("rating", (dict, Mapping), {}), source)
    resources_reader = _Reader(top.get("resources", (dict, Mapping), {}), "resources", source, RESOURCE_KEYS)
    resources = ResourcesSpec(
        num_cpus=resources_reader.get("num_cpus", float, 1.0),
        num_gpus=resources_reader.get("num_gpus", float, 0.0),
    )
    if resources.num_cpus < 0 or resources.num_gpus < 0:
        raise GridError("resources", f"expected non-negative counts, got {resources}", source)

    names = [row.name for row in rows if row.name]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise GridError("rows", f"row names repeat: {', '.join(duplicated)}", source)

    return GridSpec(
        name=name,
        description=top.get("description", str, ""),
        rows=rows,
        prompts=prompts,
        seeds=tuple(seeds_list),
        lengths=lengths,
        metrics=metrics,
        rating=rating,
        resources=resources,
        plugins=top.str_list("plugins"),
        store=top.get("store", str, "runs"),
        keep_frames=top.get("keep_frames", bool, True),
        source=source,
    )


def _parse_row(raw: Any, index: int, source: str | None) -> RowSpec:
    row = _Reader(raw, f"rows[{index}]", source, ROW_KEYS)
    given = [k for k in ("schedule", "baseline", "generator") if row.has(k)]
    if len(given) != 1:
        raise GridError(
            f"rows[{index}]",
            "expected exactly one of `schedule` (a FramePack row), `baseline` or `generator`, "
            f"got {given or 'none'}",
            source,
        )
    chosen = given[0]
    value = row.get(chosen, str)
    if not value.strip():
        raise row.error(chosen, "expected a non-empty string")
    if chosen != "schedule" and row.has("order"):
        raise row.error("order", "`order` applies to FramePack (schedule) rows only")
    params = row.get("params", (dict, Mapping), {})
    for key in params:
        if not isinstance(key, str):
            raise row.error("params", f"parameter names must be strings, got {key!r}")
    return RowSpec(
        kind="framepack" if chosen == "schedule" else value,
        index=index,
        kind_field=chosen,
        name=row.get("name", str, ""),
        schedule=value if chosen == "schedule" else None,
        order=row.get("order", str, None),
        checkpoint=row.get("checkpoint", str, None),
        recipe=row.get("recipe", str, None),
        params=dict(params),
    )


def _parse_prompts(raw: Any, source: str | None) -> PromptSetSpec:
    reader = _Reader(raw, "prompts", source, PROMPT_KEYS)
    chosen = reader.choice("source", PROMPT_SOURCES, "lab")
    if chosen == "file":
        path = reader.get("path", str, required=True)
        for key in ("split", "offset"):
            if reader.has(key):
                raise reader.error(key, "applies to `source: lab` only")
        count = reader.positive_int("count", MAX_COUNT)
        return PromptSetSpec(source="file", split="file", count=count, offset=0, path=path)
    if reader.has("path"):
        raise reader.error("path", "applies to `source: file` only")
    return PromptSetSpec(
        source="lab",
        split=reader.choice("split", LAB_SPLITS, "i2v"),
        count=reader.positive_int("count", 4),
        offset=reader.positive_int("offset", 0, minimum=0),
    )


def _parse_lengths(raw: Any, source: str | None) -> tuple[LengthSpec, ...]:
    if isinstance(raw, str):
        raw = [raw]
    lengths: list[LengthSpec] = []
    if isinstance(raw, Mapping):
        items = list(raw.items())
    else:
        items = []
        for i, item in enumerate(raw):
            if isinstance(item, str):
                if item not in NAMED_LENGTHS:
                    raise GridError(
                        f"lengths[{i}]",
                        f"unknown length {item!r}; expected one of {', '.join(NAMED_LENGTHS)} "
                        "or a mapping name: sections",
                        source,
                    )
                items.append((item, NAMED_LENGTHS[item]))
            elif isinstance(item, int) and not isinstance(item, bool):
                items.append((f"s{item}", item))
            else:
                raise GridError(f"lengths[{i}]", f"expected a length name or a section count, got {_show(item)}", source)
    if not items:
        raise GridError("lengths", "expected at least one length", source)
    for name, sections in items:
        if not isinstance(name, str) or not name:
            raise GridError("lengths", f"length names must be strings, got {name!r}", source)
        if isinstance(sections, bool) or not isinstance(sections, int) or not 1 <= sections <= MAX_SECTIONS:
            raise GridError(f"lengths.{name}", f"expected a section count from 1 to {MAX_SECTIONS} (every frame "
                            f"of a run is held in memory to be measured), got {_show(sections)}", source)
        lengths.append(LengthSpec(name, sections))
    names = [length.name for length in lengths]
    if len(set(names)) != len(names):
        raise GridError("lengths", f"length names repeat: {names}", source)
    return tuple(lengths)


def _parse_metrics(raw: Any, source: str | None) -> MetricsSpec:
    reader = _Reader(raw, "metrics", source, METRIC_KEYS)
    names = reader.str_list("names")
    if not names:
        raise reader.error("names", "expected at least one metric name")
    if len(set(names)) != len(names):
        raise reader.error("names", f"metric names repeat: {list(names)}")
    drift = reader.str_list("drift", names)
    provider = reader.get("provider", str, "metrics")
    for i, name in enumerate(drift):
        if name not in names:
            if provider == "metrics":
                _check_known_metrics(names, source)  # a typo in names is the likelier mistake: say so
            raise GridError(
                f"metrics.drift[{i}]",
                f"{name!r} is not among metrics.names ({', '.join(names)}); drift is computed from a measured metric",
                source,
            )
    aggregators = reader.str_list("aggregators", ("start_end",))
    for i, aggregator in enumerate(aggregators):
        if aggregator not in DRIFT_AGGREGATORS:
            raise GridError(f"metrics.aggregators[{i}]",
                            f"unknown drift aggregator {aggregator!r}; expected one of {', '.join(DRIFT_AGGREGATORS)}",
                            source)
    if len(set(aggregators)) != len(aggregators):
        raise reader.error("aggregators", f"aggregators repeat: {list(aggregators)}")
    return MetricsSpec(
        names=names,
        backend=reader.get("backend", str, "lab"),
        drift=drift,
        provider=provider,
        aggregators=aggregators,
        vde_chunks=reader.positive_int("vde_chunks", 10, minimum=2),
        set_level=reader.str_list("set_level"),
        set_windows=reader.positive_int("set_windows", 6, minimum=1),
    )


def _check_known_metrics(names: tuple[str, ...], source: str | None) -> None:
    """Raise the first name the `metrics` package does not know, with the known ones."""
    import difflib

    from metrics.registry import metric_names

    known = [name for name in metric_names() if not name.startswith("test_")]
    for i, name in enumerate(names):
        if name not in metric_names():
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise GridError(f"metrics.names[{i}]", f"unknown metric {name!r}; {hint}known metrics: {', '.join(known)}",
                            source)


def _parse_rating(raw: Any, source: str | None) -> RatingSpec:
    reader = _Reader(raw, "rating", source, RATING_KEYS)
    k = reader.get("k", float, 32.0)
    if k <= 0:
        raise reader.error("k", f"expected a positive Elo K, got {k!r}")
    return RatingSpec(
        enabled=reader.get("enabled", bool, bool(raw)),
        judges=reader.choice("judges", JUDGES, "simulated"),
        per_row=reader.positive_int("per_row", 20),
        k=k,
        seed=reader.positive_int("seed", 0, minimum=0, maximum=MAX_SEED),
        votes=reader.get("votes", str, None),
    )


def read_grid_file(path: str | Path) -> Any:
    """Read a grid YAML file into plain Python data.

    Raises:
        FileNotFoundError: the file does not exist.
        GridError: the file is not valid YAML (the message carries the line and column).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"grid file {str(path)!r} does not exist")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = getattr(error, "problem", None) or str(error)
        raise GridError("yaml", f"not valid YAML at {where}: {problem}", str(path)) from None
