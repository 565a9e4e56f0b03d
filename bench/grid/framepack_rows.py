"""The "framepack" generator kind: a grid row with a schedule string becomes a
`framepack.framepack_generator.FramePackGenerator` over a lab checkpoint.

Row fields: `schedule` (the paper's notation), `order` (a sampling order; defaults to the
schedule's form), `checkpoint` (a packed-DiT file), and `params`, passed to the generator
(e.g. `steps`, `solver`, `shift`, `guidance`; unknown ones are rejected at validation), and
two files: `codec`, the latent codec checkpoint, and for a `+D` schedule `codebook`, the
discrete-history codebook. Both default to what the checkpoint's sidecar `<checkpoint>.json`
(written by the fine-tune recipe) names; the codec then to the repository's
results/checkpoints/codec.safetensors. Models load inside `build`, in the worker that runs the row.

Parameter VALUES are checked before any work too (`check_sampler_values`), and the run key
hashes the generator's resolved settings (`resolved_settings`: every default filled in), so a
row without `solver:` is regenerated when the default solver changes.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bench.grid.errors import GridError
from bench.grid.registry import GeneratorKind, register_generator_kind
from bench.grid.spec import RowSpec

ORDERS = ("vanilla", "anti_drifting", "inverted_anti_drifting", "multiple_endpoints")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Absolute: the default must not depend on the folder `fpbench` is started from.
DEFAULT_CODEC = str(PROJECT_ROOT / "results" / "checkpoints" / "codec.safetensors")
# Sampler steps per section: 1 (a one-step sampler) up to 1000 (the paper uses 25; more only costs time).
MAX_STEPS = 1000
_SCHEDULE_FORMS_AS_ORDERS = {"vanilla", "anti_drifting", "inverted_anti_drifting"}


def _parse_schedule(row: RowSpec) -> Any:
    try:
        from framepack.schedule import Schedule
    except ImportError as error:
        raise GridError(f"{row.key}.schedule", f"cannot check schedules: framepack.schedule is missing ({error})") from None
    try:
        return Schedule.parse(row.schedule)
    except ValueError as error:
        raise GridError(f"{row.key}.schedule", f"{row.schedule!r} is not a valid schedule: {error}") from None


def resolved_order(row: RowSpec) -> str:
    """The row's sampling order: `order:` if given, else the schedule's form.

    Raises:
        GridError: the order is unknown, or the schedule's form is "custom" and no order was given.
    """
    if row.order is not None:
        if row.order not in ORDERS:
            raise GridError(f"{row.key}.order", f"unknown sampling order {row.order!r}; expected one of {', '.join(ORDERS)}")
        return row.order
    form = getattr(_parse_schedule(row), "form", "custom")
    if form not in _SCHEDULE_FORMS_AS_ORDERS:
        raise GridError(
            f"{row.key}.order",
            f"schedule {row.schedule!r} has form {form!r}, which implies no sampling order; "
            f"set `order:` to one of {', '.join(ORDERS)}",
        )
    return form


# Set by the grid itself (schedule, order, checkpoint) or not settable from a YAML file.
_NOT_PARAMETERS = {"self", "model", "codec", "schedule", "order", "condition", "unconditional", "name"}


def generator_parameters() -> set[str]:
    """The `params:` a FramePack row may set: FramePackGenerator's keyword arguments that a
    YAML file can express, plus `codec` (the codec checkpoint)."""
    from framepack.framepack_generator import FramePackGenerator

    names = set(inspect.signature(FramePackGenerator.__init__).parameters)
    return (names - _NOT_PARAMETERS) | {"codec"}


def keyword_defaults(*functions: Callable[..., Any]) -> dict[str, Any]:
    """Default values of the keyword parameters of `functions` (an earlier function wins)."""
    defaults: dict[str, Any] = {}
    for function in reversed(functions):
        for name, parameter in inspect.signature(function).parameters.items():
            if parameter.default is not inspect.Parameter.empty:
                defaults[name] = parameter.default
    return defaults


def resolved_settings(row: RowSpec, defaults: Mapping[str, Any], files: tuple[str, ...] = ("codec", "codebook")
                      ) -> dict[str, Any]:
    """The row's params with every default of `defaults` the row may set filled in (file
    parameters left out: their contents are hashed separately). An integer given where the
    default is a float is stored as a float, so `shift: 12` and the default 12.0 are one setting."""
    settings = {name: value for name, value in defaults.items() if name not in _NOT_PARAMETERS}
    for name, value in row.params.items():
        default = defaults.get(name)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        settings[name] = value
    return {name: _plain_setting(value) for name, value in sorted(settings.items()) if name not in files}


def _plain_setting(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain_setting(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain_setting(v) for k, v in sorted(value.items())}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_sampler_values(row: RowSpec, defaults: Mapping[str, Any]) -> None:
    """Check each param's VALUE before any work: its type matches the default's (an integer
    for an integer, a finite number for a float, true/false for a flag), steps in 1..MAX_STEPS,
    a known solver and missing-frame mode, a positive shift, fps and section length.

    Raises:
        GridError naming `rows[i].params.NAME`, the value and what is expected.
    """
    from framepack.flow_matching import SOLVERS
    from framepack.section_plan import MISSING_MODES

    def fail(name: str, expected: str) -> GridError:
        return GridError(f"{row.key}.params.{name}", f"expected {expected}, got {row.params[name]!r}")

    for name, value in row.params.items():
        if name in ("codec", "codebook"):
            continue
        default = defaults.get(name)
        if name == "steps" and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_STEPS):
            raise fail(name, f"an integer from 1 to {MAX_STEPS} (sampler steps per section)")
        if name in ("fps", "frames_per_section") and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise fail(name, "a positive integer")
        if name == "solver" and value not in SOLVERS:
            raise fail(name, f"one of {', '.join(SOLVERS)}")
        if name == "missing" and value not in MISSING_MODES:
            raise fail(name, f"one of {', '.join(MISSING_MODES)}")
        if name == "shift" and not (_finite(value) and value > 0):
            raise fail(name, "a finite number > 0")
        if name == "guidance" and value is not None and not _finite(value) and not (
                isinstance(value, Mapping) and all(_finite(v) or isinstance(v, bool) for v in value.values())):
            raise fail(name, "a finite CFG scale, a mapping of finite Guidance fields, or null")
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise fail(name, "true or false")
        elif isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int)):
            raise fail(name, "an integer")
        elif isinstance(default, float) and not _finite(value):
            raise fail(name, "a finite number")
        elif isinstance(default, str) and not isinstance(value, str):
            raise fail(name, "a string")


def framepack_defaults() -> dict[str, Any]:
    """FramePackGenerator's keyword defaults (steps, solver, shift, guidance, ...)."""
    from framepack.framepack_generator import FramePackGenerator

    return keyword_defaults(FramePackGenerator.__init__)


def framepack_settings(row: RowSpec) -> dict[str, Any]:
    """The FramePack row's resolved generator settings (hashed into its run key)."""
    return resolved_settings(row, framepack_defaults())


def validate_framepack_row(row: RowSpec) -> None:
    """Parse the schedule and the order; a +D schedule needs `params.codebook`; file
    parameters must be paths (their existence is checked with the checkpoint's)."""
    schedule = _parse_schedule(row)
    resolved_order(row)
    for label in ("codec", "codebook"):
        value = row.params.get(label)
        if value is not None and not isinstance(value, str):
            raise GridError(f"{row.key}.params.{label}", f"expected a file path, got {value!r}")
    allowed = generator_parameters()
    for key in row.params:
        if key not in allowed:
            raise GridError(f"{row.key}.params.{key}",
                            f"unknown FramePack parameter {key!r}; expected one of {', '.join(sorted(allowed))}")
    if getattr(schedule, "discrete_history", False) and not _file_param(row, "codebook"):
        raise GridError(
            f"{row.key}.params.codebook",
            f"schedule {row.schedule!r} uses discrete history (+D) and needs `params.codebook` (a codebook "
            "file); the checkpoint's sidecar names none",
        )
    if not getattr(schedule, "discrete_history", False) and row.params.get("codebook") is not None:
        raise GridError(
            f"{row.key}.params.codebook",
            f"schedule {row.schedule!r} has no discrete history (+D), so a codebook would be ignored; "
            "remove `codebook` or use the schedule's +D form",
        )
    check_sampler_values(row, framepack_defaults())


def checkpoint_sidecar(checkpoint: str | None) -> dict[str, Any]:
    """The fine-tune recipe's `<checkpoint>.json` (schedule, order, codec, codebook), or {}."""
    if not checkpoint:
        return {}
    path = Path(checkpoint).with_suffix(".json")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _file_param(row: RowSpec, label: str) -> str | None:
    value = row.params.get(label) or checkpoint_sidecar(row.checkpoint).get(label)
    return str(value) if value else None


def framepack_files(row: RowSpec) -> dict[str, str]:
    """Files besides the checkpoint whose content determines the output: the codec (row
    `params.codec`, else the checkpoint's sidecar, else the lab codec) and, for +D, the
    codebook (row `params.codebook`, else the sidecar's)."""
    files = {"codec": _file_param(row, "codec") or DEFAULT_CODEC}
    codebook = _file_param(row, "codebook")
    if codebook and "+D" in str(row.schedule):
        files["codebook"] = codebook
    return files


def framepack_row_name(row: RowSpec) -> str:
    """The paper's row name: the schedule in its notation, plus the order when it differs
    from the schedule's own form (e.g. a vanilla schedule sampled anti-drifting)."""
    schedule = _parse_schedule(row)
    name = str(schedule)
    order = resolved_order(row)
    if order != getattr(schedule, "form", None):
        name = f"{name} ({order})"
    return name


# The version of FramePack's generation code path (framepack/): bump it when the same row,
# settings and files make other frames, so stored runs are regenerated instead of reused.
GENERATION_VERSION = "framepack-1"


def build_framepack_generator(row: RowSpec) -> Any:
    """Load the checkpoint and codec and return a FramePackGenerator for `row`."""
    from framepack.framepack_generator import FramePackGenerator  # noqa: I001 (ruff's grouping flips)
    from framepack.lab.codec import LabCodec
    from framepack.lab.model import PackedDiT

    params = dict(row.params)
    codec = LabCodec.load(params.pop("codec", DEFAULT_CODEC))
    model = PackedDiT.load(row.checkpoint)
    model.eval()
    return FramePackGenerator(model=model, codec=codec, schedule=_parse_schedule(row), order=resolved_order(row), **params)


FRAMEPACK = register_generator_kind(
    GeneratorKind(
        name="framepack",
        build=build_framepack_generator,
        validate=validate_framepack_row,
        display_name=framepack_row_name,
        needs_checkpoint=True,
        extra_files=framepack_files,
        description="FramePack with a packing schedule and a sampling order (framepack/)",
        settings=framepack_settings,
        version=GENERATION_VERSION,
        checkpoint_format="safetensors",
    )
)
