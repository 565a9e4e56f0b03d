"""Load, validate and resolve a grid into the list of runs it asks for.

`load_grid` reads the YAML, applies `--set` overrides and parses it; `resolve_grid` checks
everything the grid names (plugins, generator kinds, schedules, checkpoints, metrics,
prompts) BEFORE any work starts, then expands rows × lengths × seeds × prompts into
`RunConfig`s, each keyed by a hash of what determines its output.

Relative file paths in a grid (checkpoints, codecs, codebooks) are read against the grid
file's folder, then against the repository; never against the working directory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.grid.errors import GridError, MissingCheckpointError
from bench.grid.overrides import apply_overrides
from bench.grid.prompts import PromptItem, load_prompt_set
from bench.grid.registry import generator_kind, load_plugins, metric_provider
from bench.grid.set_level import check_set_level
from bench.grid.spec import GridSpec, LengthSpec, MetricsSpec, RowSpec, parse_grid, read_grid_file
from bench.run_store import sha256_of

KEY_LENGTH = 16
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RunConfig:
    """One run of a grid: a row on one prompt, seed and length.

    `key` hashes `identity()` — the generator kind and its code version, schedule/order, the
    generator's resolved settings (defaults included), the CONTENT of the checkpoint and other
    files, the prompt text and start image, the seed and the section count — so renaming a row
    or moving a checkpoint does not redo work, and changing any input does.

    How each metric is measured is not part of the key (one video serves many metric sets):
    `measurements` names, per metric, the provider, backend and version that must have produced
    its stored values; a stored value made otherwise is rescored from the exact frames.
    `threads` is the number of torch / OpenCV threads the run computes with, in every executor.
    """

    key: str
    row_name: str
    row: RowSpec
    files_sha256: dict[str, str]
    prompt: PromptItem
    seed: int
    length: LengthSpec
    metrics: MetricsSpec
    plugins: tuple[str, ...]
    keep_frames: bool
    settings: dict[str, Any] = field(default_factory=dict)
    generation_version: str = "1"
    measurements: dict[str, dict[str, str]] = field(default_factory=dict)
    threads: int = 1

    def identity(self) -> dict[str, Any]:
        return run_identity(self.row, self.files_sha256, self.prompt, self.seed, self.length.sections,
                            self.settings, self.generation_version)

    def to_record(self) -> dict[str, Any]:
        """The run's config as written to its folder's config.yaml (plain data)."""
        return {
            "key": self.key,
            "row_name": self.row_name,
            "generator": {
                "kind": self.row.kind,
                "schedule": self.row.schedule,
                "order": self.row.order,
                "checkpoint": self.row.checkpoint,
                "params": dict(self.row.params),
                "settings": dict(self.settings),
                "version": self.generation_version,
                "files_sha256": dict(self.files_sha256),
            },
            "prompt": {"id": self.prompt.id, "text": self.prompt.prompt,
                       "image_sha256": self.prompt.image_sha256, "origin": dict(self.prompt.origin)},
            "seed": self.seed,
            "length": {"name": self.length.name, "sections": self.length.sections},
            "metrics": {"names": list(self.metrics.names), "backend": self.metrics.backend,
                        "drift": list(self.metrics.drift), "provider": self.metrics.provider,
                        "measurements": {k: dict(v) for k, v in self.measurements.items()}},
            "plugins": list(self.plugins),
            "threads": self.threads,
        }


@dataclass(frozen=True)
class ResolvedGrid:
    """A validated grid and its runs, in execution order."""

    spec: GridSpec
    rows: tuple[RowSpec, ...]
    prompts: tuple[PromptItem, ...]
    runs: tuple[RunConfig, ...]
    unavailable_metrics: dict[str, str]
    skipped_rows: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def row_names(self) -> list[str]:
        return [row.name for row in self.rows]

    @property
    def reference_row_names(self) -> list[str]:
        """Rows that show a column's ceiling or floor (real clips, static video): not ranked, not rated."""
        return [row.name for row in self.rows if generator_kind(row.kind).reference]

    @property
    def ranked_row_names(self) -> list[str]:
        """The rows that compete: every row but the references."""
        references = set(self.reference_row_names)
        return [name for name in self.row_names if name not in references]


def run_identity(row: RowSpec, files_sha256: dict[str, str], prompt: PromptItem, seed: int,
                 sections: int, settings: dict[str, Any] | None = None, version: str = "1") -> dict[str, Any]:
    """The inputs that determine a run's output; hashed into its key. File paths are left
    out (their contents are in `files_sha256`). `settings` are the generator's resolved
    settings (default: the row's params as written)."""
    if settings is None:
        settings = {k: v for k, v in row.params.items() if k not in files_sha256}
    return {
        "kind": row.kind,
        "version": version,
        "schedule": row.schedule,
        "order": row.order,
        "settings": _plain(settings),
        "files_sha256": dict(sorted(files_sha256.items())),
        "prompt": prompt.prompt,
        "image_sha256": prompt.image_sha256,
        "seed": seed,
        "sections": sections,
    }


def run_key(identity: dict[str, Any]) -> str:
    """Stable hash of a run identity (canonical JSON, sha256, first KEY_LENGTH hex digits)."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def check_safetensors(path: Path, key: str, source: str | None) -> None:
    """Refuse a file that is not a safetensors file BY CONTENT: an 8-byte little-endian header
    length, then that many bytes of a JSON object, within the file."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
            size = int.from_bytes(head, "little") if len(head) == 8 else -1
            ok = 2 <= size <= min(path.stat().st_size - 8, 100 << 20)
            if ok:
                header = json.loads(handle.read(size).decode("utf-8"))
                ok = isinstance(header, dict)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        ok = False
    if not ok:
        raise GridError(key, f"{str(path)!r} is not a safetensors file (its content has no safetensors header); "
                             "give the checkpoint a training recipe wrote", source)


def load_grid(path: str | Path, overrides: Iterable[str] = ()) -> GridSpec:
    """Read a grid file, apply `--set` overrides, and parse it (shape checks only).

    Raises:
        FileNotFoundError: no such file.
        GridError: invalid YAML, unknown keys, wrong types, bad overrides.
    """
    path = Path(path)
    document = read_grid_file(path)
    try:
        document = apply_overrides(document, overrides)
    except GridError as error:
        raise error.with_source(str(path)) from None
    return parse_grid(document, source=str(path), default_name=path.stem)


def resolve_grid(spec: GridSpec, skip_missing: bool = False) -> ResolvedGrid:
    """Check everything the grid names, then expand it into runs.

    Args:
        spec: the parsed grid.
        skip_missing: leave out rows whose checkpoint (or codec / codebook) file, or weights
            folder (full-scale rows), is missing instead of failing; they are listed in `ResolvedGrid.skipped_rows` with the reason.
            Every other check still fails loudly.

    Raises:
        GridError: an unknown generator kind / baseline, a bad schedule or order, an unknown
            metric or backend, a bad prompt set, duplicate row names.
        MissingCheckpointError: a row's checkpoint (or another file it needs) is missing.
    """
    try:
        return _resolve(spec, skip_missing)
    except GridError as error:
        raise error.with_source(spec.source) from None


def resolve_input_path(path: str, base_dir: Path | None) -> Path:
    """An input file named in a grid: absolute as given; relative, against the grid file's
    folder if it is there, else against the repository (never the working directory)."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    if base_dir is not None and (base_dir / candidate).exists():
        return (base_dir / candidate).resolve()
    return (PROJECT_ROOT / candidate).resolve()


def _resolve(spec: GridSpec, skip_missing: bool = False) -> ResolvedGrid:
    plugins = tuple(_absolute_plugin(p, spec.base_dir) for p in spec.plugins)
    load_plugins(plugins, spec.base_dir)

    rows: list[RowSpec] = []
    files: list[tuple[dict[str, str], dict[str, Any], str]] = []
    skipped: dict[str, str] = {}
    base_dir = spec.base_dir if spec.source else None
    for row in spec.rows:
        kind = generator_kind(row.kind, key=f"{row.key}.{row.kind_field}", source=spec.source)
        if row.checkpoint:  # absolute before validation reads the checkpoint's sidecar beside it
            row = dataclasses.replace(row, checkpoint=str(resolve_input_path(row.checkpoint, base_dir)))
        if kind.validate is not None:
            try:
                kind.validate(row)
            except FileNotFoundError as error:  # e.g. a full-scale row's weights folder is incomplete
                if not skip_missing or isinstance(error, GridError):
                    raise
                skipped[row.name or (kind.display_name(row) if kind.display_name else row.kind)] = str(error)
                continue
        if row.kind == "framepack":
            from bench.grid.framepack_rows import resolved_order

            row = dataclasses.replace(row, order=resolved_order(row))
        needed: dict[str, str] = {}
        if kind.needs_checkpoint:
            if not row.checkpoint:
                raise GridError(f"{row.key}.checkpoint", f"rows of kind {row.kind!r} need a checkpoint file", spec.source)
            needed["checkpoint"] = row.checkpoint
        elif row.checkpoint:
            needed["checkpoint"] = row.checkpoint
        if kind.extra_files is not None:
            needed.update(kind.extra_files(row))
        name = row.name or (kind.display_name(row) if kind.display_name else row.kind)
        hashes = {}
        absolute: dict[str, str] = {}
        try:
            for label, path in needed.items():
                field_key = f"{row.key}.checkpoint" if label == "checkpoint" else f"{row.key}.params.{label}"
                resolved = resolve_input_path(path, base_dir)
                if not resolved.is_file():
                    hint = ""
                    if row.recipe and label == "checkpoint":
                        recipe = resolve_input_path(row.recipe, base_dir)
                        hint = (f"create it with `fpbench train {row.recipe}`" if recipe.is_file()
                                else f"its recipe {row.recipe!r} does not exist either")
                    raise MissingCheckpointError(field_key, str(resolved), hint, spec.source)
                if kind.checkpoint_format == "safetensors":
                    check_safetensors(resolved, field_key, spec.source)
                hashes[label] = sha256_of(resolved)
                absolute[label] = str(resolved)
        except MissingCheckpointError as error:
            if not skip_missing:
                raise
            skipped[name] = str(error)
            continue
        # Workers get absolute paths (their working directory may differ); the run key
        # hashes file contents, not paths.
        params = dict(row.params)
        params.update({label: p for label, p in absolute.items() if label != "checkpoint"})
        row = dataclasses.replace(row, name=name, checkpoint=absolute.get("checkpoint", row.checkpoint), params=params)
        settings = kind.settings(row) if kind.settings is not None else {
            k: v for k, v in row.params.items() if k not in hashes}
        rows.append(row)
        files.append((hashes, settings, kind.version))

    if not rows:
        raise GridError("rows", f"every row was skipped: {'; '.join(skipped.values())}", spec.source)
    names = [row.name for row in rows]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise GridError("rows", f"two rows share the table name {duplicated[0]!r}; give one a `name:`", spec.source)

    provider = metric_provider(spec.metrics.provider, spec.source)
    provider.check(spec.metrics.names, spec.metrics.backend)
    check_set_level(spec.metrics, spec.source)
    unavailable = provider.unavailable(spec.metrics.names, spec.metrics.backend)
    measurements = {name: measurement(provider, spec.metrics.provider, name, spec.metrics.backend)
                    for name in spec.metrics.names}
    threads = max(1, math.floor(spec.resources.num_cpus))

    prompts = load_prompt_set(spec.prompts, spec.base_dir)

    runs: list[RunConfig] = []
    for length in spec.lengths:
        for seed in spec.seeds:
            for prompt in prompts:
                for row, (hashes, settings, version) in zip(rows, files, strict=True):
                    identity = run_identity(row, hashes, prompt, seed, length.sections, settings, version)
                    runs.append(RunConfig(
                        key=run_key(identity), row_name=row.name, row=row, files_sha256=hashes,
                        prompt=prompt, seed=seed, length=length, metrics=spec.metrics,
                        plugins=plugins, keep_frames=spec.keep_frames, settings=settings,
                        generation_version=version, measurements=measurements, threads=threads,
                    ))
    return ResolvedGrid(spec=spec, rows=tuple(rows), prompts=tuple(prompts), runs=tuple(runs),
                        unavailable_metrics=unavailable, skipped_rows=skipped)


def measurement(provider: Any, provider_name: str, name: str, backend: str) -> dict[str, str]:
    """How metric `name` is measured under the grid's backend preference: provider, the backend
    chosen and the metric's version (its options included). Stored values must match it."""
    info = provider.info(name, backend)
    return {"provider": provider_name, "backend": str(info.backend), "version": str(info.version)}


def _absolute_plugin(plugin: str, base_dir: Path) -> str:
    if plugin.endswith(".py") and not Path(plugin).is_absolute():
        return str((base_dir / plugin).resolve())
    return plugin


def load_and_resolve(path: str | Path, overrides: Iterable[str] = (), skip_missing: bool = False) -> ResolvedGrid:
    """`load_grid` then `resolve_grid`: the one call the CLI makes before any work starts."""
    return resolve_grid(load_grid(path, overrides), skip_missing=skip_missing)
